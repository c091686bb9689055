package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// testNotifyRepliesRoundTrip stores comments with and without
// NotifyReplies through every write path (one at a time, in a group of
// concurrent submissions, and both BulkLoad paths) and reads the flag back
// through every read path.
func testNotifyRepliesRoundTrip(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	bl, ok := s.(comment.BulkLoader)
	if !ok {
		t.Fatalf("%T does not implement comment.BulkLoader", s)
	}
	site := mustSite(t, s)
	mk := func(key string, minutes int, st comment.Status, notify bool) comment.Comment {
		c := newComment(site.ID, key, t0.Add(time.Duration(minutes)*time.Minute))
		c.Status, c.NotifyReplies = st, notify
		return c
	}
	// Loaded into the empty store, then created one by one and
	// concurrently, then loaded into the store with comments.
	initial := []comment.Comment{mk("/p", 1, comment.StatusApproved, true), mk("/p", 2, comment.StatusPending, false)}
	if err := bl.BulkLoad(ctx, []comment.Page{{SiteID: site.ID, Key: "/p"}}, slices.Values(initial)); err != nil {
		t.Fatalf("BulkLoad into empty store: %v", err)
	}
	single := []comment.Comment{mk("/p", 3, comment.StatusPending, true), mk("/p", 4, comment.StatusApproved, false)}
	for _, c := range single {
		mustCreate(t, s, c)
	}
	var group []comment.Comment
	for i := range 8 {
		group = append(group, mk("/p", 10+i, comment.StatusApproved, i%2 == 0))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(group))
	for i, c := range group {
		wg.Go(func() { errs[i] = s.CreateComment(ctx, c, comment.Page{SiteID: c.SiteID, Key: c.PageKey}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent CreateComment %d: %v", i, err)
		}
	}
	later := []comment.Comment{mk("/p", 30, comment.StatusApproved, true), mk("/p", 31, comment.StatusPending, false)}
	if err := bl.BulkLoad(ctx, nil, slices.Values(later)); err != nil {
		t.Fatalf("BulkLoad into store with comments: %v", err)
	}

	all := slices.Concat(initial, single, group, later)
	want := map[string]bool{}
	for _, c := range all {
		want[c.ID] = c.NotifyReplies
	}
	for _, c := range all {
		got, err := s.Comment(ctx, c.ID)
		if err != nil {
			t.Fatalf("Comment(%s): %v", c.ID, err)
		}
		if got.NotifyReplies != c.NotifyReplies {
			t.Errorf("Comment(%s).NotifyReplies = %v, want %v", c.ID, got.NotifyReplies, c.NotifyReplies)
		}
	}
	approved, err := s.Approved(ctx, site.ID, "/p")
	if err != nil {
		t.Fatalf("Approved: %v", err)
	}
	pending, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusPending, Limit: 100})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	byID, err := s.CommentsByID(ctx, ids(all))
	if err != nil {
		t.Fatalf("CommentsByID: %v", err)
	}
	read := slices.Concat(approved, pending)
	for _, c := range byID {
		read = append(read, c)
	}
	if len(read) != 2*len(all) {
		t.Errorf("read %d comments back, want %d", len(read), 2*len(all))
	}
	for _, c := range read {
		if c.NotifyReplies != want[c.ID] {
			t.Errorf("comment %s read back with NotifyReplies = %v, want %v", c.ID, c.NotifyReplies, want[c.ID])
		}
	}
	// The flag stays through a status change.
	ch, err := s.SetStatus(ctx, comment.StatusChange{ID: single[0].ID, To: comment.StatusApproved, Actor: "mod", Action: "approve", At: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	if !ch.NotifyReplies {
		t.Errorf("SetStatus lost NotifyReplies")
	}
}

// testBulkLoadRecordsNoNotifyJobs loads, into an empty store and then into
// one with comments, held comments, approved replies and comments whose
// authors asked to be told of replies, each of which calls for a
// notification job when submitted, and checks that the only jobs left are
// those of the comment submitted between the loads.
func testBulkLoadRecordsNoNotifyJobs(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	bl, ok := s.(comment.BulkLoader)
	if !ok {
		t.Fatalf("%T does not implement comment.BulkLoader", s)
	}
	site := mustSite(t, s)
	load := func(start int) []comment.Comment {
		top := newComment(site.ID, "/n", t0.Add(time.Duration(start)*time.Minute))
		top.Status, top.NotifyReplies = comment.StatusApproved, true
		reply := newComment(site.ID, "/n", top.CreatedAt.Add(time.Minute))
		reply.Status, reply.ParentID, reply.Depth = comment.StatusApproved, top.ID, 2
		held := newComment(site.ID, "/n", top.CreatedAt.Add(2*time.Minute))
		held.NotifyReplies = true
		heldReply := newComment(site.ID, "/n", top.CreatedAt.Add(3*time.Minute))
		heldReply.ParentID, heldReply.Depth = top.ID, 2
		return []comment.Comment{top, reply, held, heldReply}
	}
	if err := bl.BulkLoad(ctx, []comment.Page{{SiteID: site.ID, Key: "/n"}}, slices.Values(load(0))); err != nil {
		t.Fatalf("BulkLoad into empty store: %v", err)
	}
	submitted := newComment(site.ID, "/n", t0.Add(time.Hour))
	submitted.NotifyReplies = true
	mustCreate(t, s, submitted)
	if err := bl.BulkLoad(ctx, nil, slices.Values(load(120))); err != nil {
		t.Fatalf("BulkLoad into store with comments: %v", err)
	}

	now := time.Now()
	jobs, err := s.ClaimNotifyJobs(ctx, now, now.Add(time.Minute), 1000)
	if err != nil {
		t.Fatalf("ClaimNotifyJobs: %v", err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, string(j.Kind)+" "+j.CommentID)
	}
	slices.Sort(got)
	want := []string{
		string(comment.NotifyConfirm) + " " + submitted.ID,
		string(comment.NotifyHeld) + " " + submitted.ID,
	}
	if !slices.Equal(got, want) {
		t.Errorf("notification jobs = %q, want only the submitted comment's %q", got, want)
	}
}

// testReaderStates walks an address through the states of
// comment.ReaderStore on two sites.
func testReaderStates(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b := mustSite(t, s), mustSite(t, s)
	const addr = "Reader@Example.ORG"
	state := func(siteID, email string) comment.ReaderState {
		t.Helper()
		st, err := s.ReaderState(ctx, siteID, email)
		if err != nil {
			t.Fatalf("ReaderState(%s): %v", siteID, err)
		}
		return st
	}
	if got := state(a.ID, addr); got != comment.ReaderUnknown {
		t.Errorf("state of a new address = %q, want unknown", got)
	}
	steps := []struct {
		name    string
		site    string
		email   string
		do      func(ctx context.Context, siteID, email string, at time.Time) (comment.ReaderState, error)
		at      time.Time
		prev    comment.ReaderState
		want    comment.ReaderState
		changed bool
	}{
		// Confirming needs a record (a confirmation request, or an
		// unsubscription): an unknown address stays unknown.
		{"confirm unknown", a.ID, addr, s.ConfirmReader, t0, comment.ReaderUnknown, comment.ReaderUnknown, false},
		{"unsubscribe unknown", a.ID, addr, s.UnsubscribeReader, t0.Add(time.Minute), comment.ReaderUnknown, comment.ReaderUnsubscribed, true},
		{"unsubscribe again", a.ID, "reader@example.org", s.UnsubscribeReader, t0.Add(2 * time.Minute), comment.ReaderUnsubscribed, comment.ReaderUnsubscribed, false},
		{"confirm after unsubscribing", a.ID, addr, s.ConfirmReader, t0.Add(3 * time.Minute), comment.ReaderUnsubscribed, comment.ReaderConfirmed, true},
		{"confirm again, other case", a.ID, "reader@example.org", s.ConfirmReader, t0.Add(4 * time.Minute), comment.ReaderConfirmed, comment.ReaderConfirmed, false},
		{"unsubscribe", a.ID, "READER@example.org", s.UnsubscribeReader, t0.Add(5 * time.Minute), comment.ReaderConfirmed, comment.ReaderUnsubscribed, true},
		{"confirm once more", a.ID, addr, s.ConfirmReader, t0.Add(6 * time.Minute), comment.ReaderUnsubscribed, comment.ReaderConfirmed, true},
		{"unsubscribe unknown on other site", b.ID, addr, s.UnsubscribeReader, t0, comment.ReaderUnknown, comment.ReaderUnsubscribed, true},
	}
	for _, st := range steps {
		prev, err := st.do(ctx, st.site, st.email, st.at)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if prev != st.prev {
			t.Errorf("%s: previous state = %q, want %q", st.name, prev, st.prev)
		}
		if got := state(st.site, addr); got != st.want {
			t.Errorf("%s: state = %q, want %q", st.name, got, st.want)
		}
	}
	// Each site keeps its own state; the address is matched in any case.
	if got := state(a.ID, "reader@example.org"); got != comment.ReaderConfirmed {
		t.Errorf("site a: %q, want confirmed", got)
	}
	if got := state(b.ID, addr); got != comment.ReaderUnsubscribed {
		t.Errorf("site b: %q, want unsubscribed", got)
	}
	if got := state(b.ID, "other@example.org"); got != comment.ReaderUnknown {
		t.Errorf("another address: %q, want unknown", got)
	}
	for name, do := range map[string]func(ctx context.Context, siteID, email string, at time.Time) (comment.ReaderState, error){
		"ConfirmReader": s.ConfirmReader, "UnsubscribeReader": s.UnsubscribeReader,
	} {
		if _, err := do(ctx, "no-such-site", addr, t0); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("%s on a missing site: err = %v, want ErrNotFound", name, err)
		}
	}
	if got, err := s.ReaderState(ctx, "no-such-site", addr); err != nil || got != comment.ReaderUnknown {
		t.Errorf("ReaderState on a missing site = %q, %v; want unknown, nil", got, err)
	}
}

// testConcurrentReaderStates confirms one unsubscribed address from many
// callers at once: every call succeeds, exactly one of them finds it
// unsubscribed, and it ends confirmed.
func testConcurrentReaderStates(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	if _, err := s.UnsubscribeReader(ctx, site.ID, "same@example.org", t0); err != nil {
		t.Fatal(err)
	}
	const n = 8
	prevs := make([]comment.ReaderState, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { prevs[i], errs[i] = s.ConfirmReader(ctx, site.ID, "same@example.org", t0) })
	}
	wg.Wait()
	first := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("ConfirmReader %d: %v", i, errs[i])
		}
		if prevs[i] != comment.ReaderConfirmed {
			first++
		}
	}
	if first != 1 {
		t.Errorf("%d calls found the address not confirmed, want 1", first)
	}
	if got, _ := s.ReaderState(ctx, site.ID, "same@example.org"); got != comment.ReaderConfirmed {
		t.Errorf("state = %q, want confirmed", got)
	}
}
