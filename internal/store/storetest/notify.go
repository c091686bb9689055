package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// notifyTests are the NotifyStore cases, run by Run.
var notifyTests = []struct {
	name string
	fn   func(t *testing.T, s comment.Store)
}{
	{"NotifyJobsFromEvents", testNotifyJobsFromEvents},
	{"NotifyJobLease", testNotifyJobLease},
	{"ConcurrentClaimNotifyJobs", testConcurrentClaimNotifyJobs},
	{"FinishNotifyJob", testFinishNotifyJob},
	{"FinishNotifyJobConfirm", testFinishNotifyJobConfirm},
	{"NotifyDeliveryGuards", testNotifyDeliveryGuards},
	{"FinishNotifyJobAfterErase", testFinishNotifyJobAfterErase},
	{"NotifyDeliveries", testNotifyDeliveries},
	{"NotifyDigestGroup", testNotifyDigestGroup},
	{"PurgeNotifyDeliveries", testPurgeNotifyDeliveries},
	{"NotifyJobAttempts", testNotifyJobAttempts},
	{"FinishNotifyJobsBatch", testFinishNotifyJobsBatch},
	{"MarkNotifyDeliveriesGuard", testMarkNotifyDeliveriesGuard},
	{"ConcurrentDigestClaims", testConcurrentDigestClaims},
}

// claimAllJobs claims every job at time now, for a minute.
func claimAllJobs(t *testing.T, s comment.Store, now time.Time) []comment.NotifyJob {
	t.Helper()
	jobs, err := s.ClaimNotifyJobs(ctxFor(t), now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatalf("ClaimNotifyJobs: %v", err)
	}
	return jobs
}

// finishJob finishes one job with FinishNotifyJobs and returns how many
// deliveries it inserted.
func finishJob(ctx context.Context, s comment.Store, o comment.JobOutcome) (int, error) {
	added, err := s.FinishNotifyJobs(ctx, []comment.JobOutcome{o})
	if err != nil {
		return 0, err
	}
	if len(added) != 1 {
		return 0, fmt.Errorf("FinishNotifyJobs returned %d counts for 1 outcome", len(added))
	}
	return added[0], nil
}

// markDelivery records one result with MarkNotifyDeliveries; a result not
// recorded is comment.ErrNotFound.
func markDelivery(ctx context.Context, s comment.Store, r comment.DeliveryResult) error {
	skipped, err := s.MarkNotifyDeliveries(ctx, []comment.DeliveryResult{r})
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		return fmt.Errorf("result of %s not recorded: %w", r.ID, comment.ErrNotFound)
	}
	return nil
}

// jobKinds returns "kind comment" for each job.
func jobKinds(jobs []comment.NotifyJob) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = string(j.Kind) + " " + j.CommentID
	}
	return out
}

func testNotifyJobsFromEvents(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	now := t0.Add(time.Hour)

	held := mustCreate(t, s, newComment(site.ID, "/a", t0))
	spam := newComment(site.ID, "/a", t0.Add(time.Second))
	spam.Status = comment.StatusSpam
	mustCreate(t, s, spam)
	approvedTop := newComment(site.ID, "/a", t0.Add(2*time.Second))
	approvedTop.Status = comment.StatusApproved
	mustCreate(t, s, approvedTop)

	got := jobKinds(claimAllJobs(t, s, now))
	want := []string{"held " + held.ID}
	if !slices.Equal(got, want) {
		t.Fatalf("jobs after pending, spam, approved top-level = %q, want %q", got, want)
	}

	// A held reply is approved later: held at submission, reply at approval.
	reply := newComment(site.ID, "/a", t0.Add(3*time.Second))
	reply.ParentID, reply.Depth = approvedTop.ID, 2
	mustCreate(t, s, reply)
	if _, err := s.SetStatus(ctx, comment.StatusChange{ID: reply.ID, To: comment.StatusApproved, Actor: "mod", Action: "approve", At: t0.Add(4 * time.Second)}); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	// A reply approved at once.
	direct := newComment(site.ID, "/a", t0.Add(5*time.Second))
	direct.ParentID, direct.Depth, direct.Status = approvedTop.ID, 2, comment.StatusApproved
	mustCreate(t, s, direct)
	// "Notify me of replies", held and approved at once; and ticked on spam.
	ask := newComment(site.ID, "/a", t0.Add(6*time.Second))
	ask.NotifyReplies = true
	mustCreate(t, s, ask)
	askApproved := newComment(site.ID, "/a", t0.Add(7*time.Second))
	askApproved.NotifyReplies, askApproved.Status = true, comment.StatusApproved
	mustCreate(t, s, askApproved)
	askSpam := newComment(site.ID, "/a", t0.Add(8*time.Second))
	askSpam.NotifyReplies, askSpam.Status = true, comment.StatusSpam
	mustCreate(t, s, askSpam)

	got = jobKinds(claimAllJobs(t, s, now))
	want = []string{
		"held " + reply.ID, "reply " + reply.ID,
		"reply " + direct.ID,
		"held " + ask.ID, "confirm " + ask.ID,
		"confirm " + askApproved.ID,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("jobs =\n %q\nwant\n %q", got, want)
	}

	sub, err := s.NotifySubject(ctx, ask.ID)
	if err != nil {
		t.Fatalf("NotifySubject: %v", err)
	}
	if !sub.Comment.NotifyReplies || sub.Comment.AuthorEmail != ask.AuthorEmail || sub.Page.Key != "/a" || sub.Page.SiteID != site.ID {
		t.Errorf("NotifySubject = %+v", sub)
	}
	if _, err := s.NotifySubject(ctx, newID()); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("NotifySubject(unknown) err = %v, want ErrNotFound", err)
	}
}

func testNotifyJobLease(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	c := mustCreate(t, s, newComment(site.ID, "/a", t0))
	now := t0.Add(time.Hour)
	first, err := s.ClaimNotifyJobs(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(first) != 1 || first[0].CommentID != c.ID || first[0].Kind != comment.NotifyHeld {
		t.Fatalf("first claim = %+v, %v; want the held job", first, err)
	}
	if !first[0].CreatedAt.Equal(t0) {
		t.Errorf("job CreatedAt = %v, want %v", first[0].CreatedAt, t0)
	}
	again, err := s.ClaimNotifyJobs(ctx, now.Add(59*time.Second), now.Add(2*time.Minute), 10)
	if err != nil || len(again) != 0 {
		t.Fatalf("claim during the lease = %+v, %v; want none", again, err)
	}
	after, err := s.ClaimNotifyJobs(ctx, now.Add(61*time.Second), now.Add(2*time.Minute), 10)
	if err != nil || len(after) != 1 || after[0].ID != first[0].ID {
		t.Fatalf("claim after the lease = %+v, %v; want the job again", after, err)
	}
}

func testConcurrentClaimNotifyJobs(t *testing.T, s comment.Store) {
	site := mustSite(t, s)
	const n = 40
	for i := range n {
		mustCreate(t, s, newComment(site.ID, "/a", t0.Add(time.Duration(i)*time.Second)))
	}
	now := t0.Add(time.Hour)
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for range 100 { // bounded: a store that hands jobs out again must fail, not hang
				jobs, err := s.ClaimNotifyJobs(ctxFor(t), now, now.Add(time.Minute), 3)
				if err != nil {
					t.Errorf("ClaimNotifyJobs: %v", err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct jobs, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("job %d claimed %d times", id, k)
		}
	}
}

// newDelivery returns a due email delivery about commentID to recipient.
func newDelivery(siteID string, kind comment.NotifyKind, commentID, recipient string, next time.Time) comment.NotifyDelivery {
	return comment.NotifyDelivery{
		ID: newID(), SiteID: siteID, Kind: kind, Channel: comment.ChannelEmail, Recipient: recipient,
		CommentID: commentID, Payload: []byte(`{"subject":"Held: ✓ \"quoted\"","n":1}`),
		State: comment.DeliveryDue, NextAt: next, CreatedAt: next,
	}
}

func testFinishNotifyJob(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	c := mustCreate(t, s, newComment(site.ID, "/a", t0))
	c2 := mustCreate(t, s, newComment(site.ID, "/a", t0.Add(time.Second)))
	now := t0.Add(time.Hour)
	jobs := claimAllJobs(t, s, now)
	if len(jobs) != 2 {
		t.Fatalf("jobs = %d, want 2", len(jobs))
	}
	mod := newDelivery(site.ID, comment.NotifyHeld, c.ID, "mod@example.org", now)
	hook := newDelivery(site.ID, comment.NotifyHeld, c.ID, "https://hooks.example/x", now)
	hook.Channel = comment.ChannelWebhook
	n, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{mod, hook}})
	if err != nil || n != 2 {
		t.Fatalf("FinishNotifyJobs = %d, %v; want 2", n, err)
	}
	// The same job again (another worker whose lease ran out) writes nothing.
	other := newDelivery(site.ID, comment.NotifyHeld, c.ID, "other@example.org", now)
	if n, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{other}}); err != nil || n != 0 {
		t.Fatalf("FinishNotifyJobs of a finished job = %d, %v; want 0", n, err)
	}
	// A repeat of a stored delivery (same kind, comment, channel,
	// recipient) is skipped; the rest is written.
	dup := newDelivery(site.ID, comment.NotifyHeld, c.ID, "mod@example.org", now)
	fresh := newDelivery(site.ID, comment.NotifyHeld, c2.ID, "mod@example.org", now)
	if n, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[1].ID, Deliveries: []comment.NotifyDelivery{dup, fresh}}); err != nil || n != 1 {
		t.Fatalf("FinishNotifyJobs with a duplicate = %d, %v; want 1", n, err)
	}
	if left := claimAllJobs(t, s, now.Add(time.Hour)); len(left) != 0 {
		t.Errorf("jobs left after finishing = %+v", left)
	}
	due, err := s.CountDueNotifyDeliveries(ctx)
	if err != nil || due != 3 {
		t.Errorf("CountDueNotifyDeliveries = %d, %v; want 3", due, err)
	}
	got, err := s.ClaimNotifyDeliveries(ctx, now, now.Add(time.Minute), 10)
	if err != nil {
		t.Fatalf("ClaimNotifyDeliveries: %v", err)
	}
	var ids []string
	for _, d := range got {
		ids = append(ids, d.ID)
		if d.ID == mod.ID {
			if string(d.Payload) != string(mod.Payload) && !jsonEqual(d.Payload, mod.Payload) {
				t.Errorf("payload = %s, want %s", d.Payload, mod.Payload)
			}
			if d.Recipient != mod.Recipient || d.Kind != mod.Kind || d.Channel != mod.Channel || d.SiteID != site.ID ||
				d.CommentID != c.ID || d.State != comment.DeliveryDue || d.Attempts != 0 || !d.NextAt.Equal(now) || !d.DoneAt.IsZero() {
				t.Errorf("delivery read back = %+v, want %+v", d, mod)
			}
		}
	}
	slices.Sort(ids)
	want := []string{mod.ID, hook.ID, fresh.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("claimed deliveries %q, want %q", ids, want)
	}
}

func testFinishNotifyJobConfirm(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	now := t0.Add(time.Hour)
	confirm := func(email string, at time.Time) int {
		t.Helper()
		c := newComment(site.ID, "/a", at)
		c.AuthorEmail, c.NotifyReplies, c.Status = email, true, comment.StatusApproved
		mustCreate(t, s, c)
		jobs, err := s.ClaimNotifyJobs(ctx, at, at.Add(time.Minute), 10)
		if err != nil || len(jobs) != 1 || jobs[0].Kind != comment.NotifyConfirm {
			t.Fatalf("jobs = %+v, %v; want one confirm job", jobs, err)
		}
		d := newDelivery(site.ID, comment.NotifyConfirm, c.ID, email, at)
		n, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{d},
			Confirm: &comment.ConfirmRequest{SiteID: site.ID, EmailLower: email, CommentID: c.ID, At: at, NotSince: at.Add(-24 * time.Hour)}})
		if err != nil {
			t.Fatalf("FinishNotifyJobs: %v", err)
		}
		return n
	}
	if n := confirm("Reader@Example.org", now); n != 1 {
		t.Fatalf("first confirmation wrote %d deliveries, want 1", n)
	}
	if st, err := s.ReaderState(ctx, site.ID, "reader@example.org"); err != nil || st != comment.ReaderUnconfirmed {
		t.Errorf("state after a confirmation request = %q, %v; want unconfirmed", st, err)
	}
	if n := confirm("reader@example.org", now.Add(23*time.Hour)); n != 0 {
		t.Errorf("second confirmation within 24 h wrote %d deliveries, want 0", n)
	}
	if n := confirm("reader@example.org", now.Add(25*time.Hour)); n != 1 {
		t.Errorf("confirmation after 24 h wrote %d deliveries, want 1", n)
	}
	if _, err := s.ConfirmReader(ctx, site.ID, "reader@example.org", now.Add(26*time.Hour)); err != nil {
		t.Fatalf("ConfirmReader: %v", err)
	}
	if n := confirm("reader@example.org", now.Add(72*time.Hour)); n != 0 {
		t.Errorf("confirmation of a confirmed address wrote %d deliveries, want 0", n)
	}
	if st, err := s.ReaderState(ctx, site.ID, "reader@example.org"); err != nil || st != comment.ReaderConfirmed {
		t.Errorf("state = %q, %v; want still confirmed", st, err)
	}
	// An unsubscribed address is asked nothing any more, however long
	// after; nor is one unsubscribed before it was ever asked.
	if _, err := s.UnsubscribeReader(ctx, site.ID, "reader@example.org", now.Add(73*time.Hour)); err != nil {
		t.Fatalf("UnsubscribeReader: %v", err)
	}
	if _, err := s.UnsubscribeReader(ctx, site.ID, "never@example.org", now.Add(73*time.Hour)); err != nil {
		t.Fatalf("UnsubscribeReader: %v", err)
	}
	for i, email := range []string{"reader@example.org", "Never@example.org"} {
		if n := confirm(email, now.Add(time.Duration(200+i)*time.Hour)); n != 0 {
			t.Errorf("confirmation of unsubscribed %s wrote %d deliveries, want 0", email, n)
		}
		if st, err := s.ReaderState(ctx, site.ID, email); err != nil || st != comment.ReaderUnsubscribed {
			t.Errorf("state of %s = %q, %v; want still unsubscribed", email, st, err)
		}
	}
}

// carrierJob returns the id of a fresh job (the held job of a new pending
// comment), to finish with an outcome under test.
func carrierJob(t *testing.T, s comment.Store, siteID string, at time.Time) int64 {
	t.Helper()
	c := mustCreate(t, s, newComment(siteID, "/carrier", at))
	jobs, err := s.ClaimNotifyJobs(ctxFor(t), at, at.Add(time.Minute), 100)
	if err != nil {
		t.Fatalf("ClaimNotifyJobs: %v", err)
	}
	for _, j := range jobs {
		if j.CommentID == c.ID {
			return j.ID
		}
	}
	t.Fatalf("no job for the carrier comment among %+v", jobs)
	return 0
}

// testNotifyDeliveryGuards: readers' emails are written only while the
// comment they are about asks for them from the recipient's address: a
// confirmation request, its comment; a reply email, the reply's parent.
// Moderators' emails need nothing of the kind.
func testNotifyDeliveryGuards(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	mk := func(parent, email string, notify bool, minutes int) comment.Comment {
		c := newComment(site.ID, "/g", t0.Add(time.Duration(minutes)*time.Minute))
		c.AuthorEmail, c.NotifyReplies, c.Status = email, notify, comment.StatusApproved
		if parent != "" {
			c.ParentID, c.Depth = parent, 2
		}
		return mustCreate(t, s, c)
	}
	parent := mk("", "Parent@Example.org", true, 0)
	reply := mk(parent.ID, "sam@example.net", false, 1)
	quiet := mk("", "quiet@example.org", false, 2)
	quietReply := mk(quiet.ID, "sam@example.net", false, 3)
	now := t0.Add(time.Hour)
	claimAllJobs(t, s, now) // the jobs of the comments above are not used
	tests := []struct {
		name      string
		kind      comment.NotifyKind
		commentID string
		to        string
		confirm   bool
		want      int
	}{
		{"confirmation to the comment's author", comment.NotifyConfirm, parent.ID, "parent@example.ORG", true, 1},
		{"confirmation to another address", comment.NotifyConfirm, parent.ID, "other@example.org", true, 0},
		{"confirmation for a comment not asking", comment.NotifyConfirm, quiet.ID, "quiet@example.org", true, 0},
		{"confirmation for a missing comment", comment.NotifyConfirm, newID(), "parent@example.org", false, 0},
		{"reply to the parent's author", comment.NotifyReply, reply.ID, "PARENT@example.org", false, 1},
		{"reply to the reply's author", comment.NotifyReply, reply.ID, "sam@example.net", false, 0},
		{"reply to a parent not asking", comment.NotifyReply, quietReply.ID, "quiet@example.org", false, 0},
		{"reply about a top-level comment", comment.NotifyReply, parent.ID, "parent@example.org", false, 0},
		{"held comment to a moderator", comment.NotifyHeld, quiet.ID, "mod@example.org", false, 1},
	}
	for i, tc := range tests {
		at := now.Add(time.Duration(i+1) * time.Minute)
		o := comment.JobOutcome{JobID: carrierJob(t, s, site.ID, at),
			Deliveries: []comment.NotifyDelivery{newDelivery(site.ID, tc.kind, tc.commentID, tc.to, at)}}
		if tc.confirm {
			o.Confirm = &comment.ConfirmRequest{SiteID: site.ID, EmailLower: strings.ToLower(tc.to), CommentID: tc.commentID,
				At: at, NotSince: at.Add(-24 * time.Hour)}
		}
		n, err := finishJob(ctx, s, o)
		if err != nil {
			t.Fatalf("%s: FinishNotifyJobs: %v", tc.name, err)
		}
		if n != tc.want {
			t.Errorf("%s: wrote %d deliveries, want %d", tc.name, n, tc.want)
		}
		if tc.confirm {
			want := comment.ReaderUnknown
			if tc.want == 1 {
				want = comment.ReaderUnconfirmed
			}
			if st, err := s.ReaderState(ctx, site.ID, tc.to); err != nil || st != want {
				t.Errorf("%s: state = %q, %v; want %q", tc.name, st, err, want)
			}
		}
	}
}

// testFinishNotifyJobAfterErase: an erasure that commits after a job was
// planned (the comment read) and before its outcome is written leaves the
// outcome nothing to write: no state for the address, no email to it,
// whether the comments were scrubbed or deleted.
func testFinishNotifyJobAfterErase(t *testing.T, s comment.Store) {
	for _, deleteComments := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete comments %v", deleteComments), func(t *testing.T) {
			ctx := ctxFor(t)
			site := mustSite(t, s)
			email := "Erased-" + newID() + "@Example.org"
			asks := newComment(site.ID, "/e", t0)
			asks.AuthorEmail, asks.NotifyReplies = email, true
			mustCreate(t, s, asks)
			parent := newComment(site.ID, "/e", t0.Add(time.Minute))
			parent.AuthorEmail, parent.NotifyReplies, parent.Status = email, true, comment.StatusApproved
			mustCreate(t, s, parent)
			reply := newComment(site.ID, "/e", t0.Add(2*time.Minute))
			reply.AuthorEmail, reply.Status, reply.ParentID, reply.Depth = "sam@example.net", comment.StatusApproved, parent.ID, 2
			mustCreate(t, s, reply)
			now := t0.Add(time.Hour)
			jobs := claimAllJobs(t, s, now) // planning reads the comments here

			if _, err := s.ErasePersonalData(ctx, email, deleteComments, comment.AuditEntry{At: now, Actor: "user-1",
				Action: comment.AuditGDPRErase, Subject: comment.EmailSubject(auditKey, email)}); err != nil {
				t.Fatalf("ErasePersonalData: %v", err)
			}

			var outcomes []comment.JobOutcome
			for _, j := range jobs {
				o := comment.JobOutcome{JobID: j.ID}
				switch {
				case j.Kind == comment.NotifyConfirm:
					o.Deliveries = []comment.NotifyDelivery{newDelivery(site.ID, comment.NotifyConfirm, j.CommentID, email, now)}
					o.Confirm = &comment.ConfirmRequest{SiteID: site.ID, EmailLower: strings.ToLower(email), CommentID: j.CommentID,
						At: now, NotSince: now.Add(-24 * time.Hour)}
				case j.Kind == comment.NotifyReply && j.CommentID == reply.ID:
					o.Deliveries = []comment.NotifyDelivery{newDelivery(site.ID, comment.NotifyReply, reply.ID, email, now)}
				}
				outcomes = append(outcomes, o)
			}
			added, err := s.FinishNotifyJobs(ctx, outcomes)
			if err != nil {
				t.Fatalf("FinishNotifyJobs: %v", err)
			}
			for i, n := range added {
				if n != 0 {
					t.Errorf("outcome of job %+v wrote %d deliveries after the erasure, want 0", jobs[i], n)
				}
			}
			if st, err := s.ReaderState(ctx, site.ID, email); err != nil || st != comment.ReaderUnknown {
				t.Errorf("state after the erasure = %q, %v; want unknown", st, err)
			}
			d, err := s.PersonalData(ctx, email)
			if err != nil {
				t.Fatalf("PersonalData: %v", err)
			}
			if len(d.ReaderAddresses) != 0 || len(d.NotifyDeliveries) != 0 {
				t.Errorf("the erased address is stored again: %+v, %+v", d.ReaderAddresses, d.NotifyDeliveries)
			}
		})
	}
}

func testNotifyDeliveries(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	c := mustCreate(t, s, newComment(site.ID, "/a", t0))
	jobs := claimAllJobs(t, s, t0)
	now := t0.Add(time.Hour)
	early := newDelivery(site.ID, comment.NotifyHeld, c.ID, "a@example.org", now)
	late := newDelivery(site.ID, comment.NotifyHeld, c.ID, "b@example.org", now.Add(time.Hour))
	if _, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{late, early}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimNotifyDeliveries(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != early.ID {
		t.Fatalf("claim at now = %+v, %v; want only the early one", got, err)
	}
	if again, err := s.ClaimNotifyDeliveries(ctx, now.Add(30*time.Second), now.Add(time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("claim during the lease = %+v, %v; want none", again, err)
	}
	// A failed attempt: tried again later, lease ended.
	retry := now.Add(90 * time.Second)
	if err := markDelivery(ctx, s, comment.DeliveryResult{ID: early.ID, State: comment.DeliveryDue, Attempts: 1, NextAt: retry, Error: "421 try later", At: now}); err != nil {
		t.Fatalf("MarkNotifyDeliveries(retry): %v", err)
	}
	if got, _ := s.ClaimNotifyDeliveries(ctx, retry.Add(-time.Second), retry, 10); len(got) != 0 {
		t.Fatalf("claim before the retry time = %+v, want none", got)
	}
	got, err = s.ClaimNotifyDeliveries(ctx, retry, retry.Add(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "421 try later" {
		t.Fatalf("claim at the retry time = %+v, %v; want the delivery with 1 attempt", got, err)
	}
	sentAt := retry.Add(time.Second)
	if err := markDelivery(ctx, s, comment.DeliveryResult{ID: early.ID, State: comment.DeliverySent, Attempts: 2, NextAt: retry, At: sentAt}); err != nil {
		t.Fatalf("MarkNotifyDeliveries(sent): %v", err)
	}
	if got, _ := s.ClaimNotifyDeliveries(ctx, now.Add(24*time.Hour), now.Add(25*time.Hour), 10); len(got) != 1 || got[0].ID != late.ID {
		t.Errorf("claim much later = %+v, want only the late one (the sent one never again)", got)
	}
	if n, err := s.CountDueNotifyDeliveries(ctx); err != nil || n != 1 {
		t.Errorf("CountDueNotifyDeliveries = %d, %v; want 1", n, err)
	}
	if err := markDelivery(ctx, s, comment.DeliveryResult{ID: newID(), State: comment.DeliverySent, At: now}); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("MarkNotifyDeliveries(unknown) err = %v, want ErrNotFound", err)
	}
}

func testNotifyDigestGroup(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	now := t0.Add(time.Hour)
	key := site.ID + " mod@example.org"
	var group []string
	for i := range 4 {
		c := mustCreate(t, s, newComment(site.ID, "/a", t0.Add(time.Duration(i)*time.Second)))
		jobs := claimAllJobs(t, s, t0.Add(time.Duration(i)*time.Second))
		d := newDelivery(site.ID, comment.NotifyHeld, c.ID, "mod@example.org", now.Add(time.Duration(i)*time.Minute))
		d.DigestKey = key
		if i == 3 {
			d.DigestKey = "" // not in the digest
		}
		if _, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{d}}); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			group = append(group, d.ID)
		}
	}
	if last, err := s.LastNotifyDigest(ctx, key); err != nil || !last.IsZero() {
		t.Errorf("LastNotifyDigest before any = %v, %v; want zero", last, err)
	}
	// Only the first is due, but its whole group comes with it.
	got, err := s.ClaimNotifyDeliveries(ctx, now, now.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range got {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, group) {
		t.Fatalf("claimed %q, want the digest group %q in order", ids, group)
	}
	sentAt := now.Add(5 * time.Second)
	for i, id := range group {
		st := comment.DeliverySent
		if i == 1 {
			st = comment.DeliveryDropped
		}
		if err := markDelivery(ctx, s, comment.DeliveryResult{ID: id, State: st, Attempts: 1, NextAt: now, At: sentAt}); err != nil {
			t.Fatal(err)
		}
	}
	if last, err := s.LastNotifyDigest(ctx, key); err != nil || !last.Equal(sentAt) {
		t.Errorf("LastNotifyDigest = %v, %v; want %v", last, err, sentAt)
	}
}

func testPurgeNotifyDeliveries(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	now := t0.Add(time.Hour)
	var ids []string
	for i := range 5 {
		c := mustCreate(t, s, newComment(site.ID, "/a", t0.Add(time.Duration(i)*time.Second)))
		jobs := claimAllJobs(t, s, t0.Add(time.Duration(i)*time.Second))
		d := newDelivery(site.ID, comment.NotifyHeld, c.ID, fmt.Sprintf("m%d@example.org", i), now)
		if _, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{d}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	// 0..2 finished at now+i minutes, 3 failed at now+10m, 4 still due.
	for i, id := range ids[:4] {
		st, at := comment.DeliverySent, now.Add(time.Duration(i)*time.Minute)
		if i == 3 {
			st, at = comment.DeliveryFailed, now.Add(10*time.Minute)
		}
		if err := markDelivery(ctx, s, comment.DeliveryResult{ID: id, State: st, Attempts: 1, NextAt: now, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeNotifyDeliveries(ctx, now.Add(150*time.Second), 2)
	if err != nil || n != 2 {
		t.Fatalf("purge batch 1 = %d, %v; want 2", n, err)
	}
	n, err = s.PurgeNotifyDeliveries(ctx, now.Add(150*time.Second), 2)
	if err != nil || n != 1 {
		t.Fatalf("purge batch 2 = %d, %v; want 1", n, err)
	}
	n, err = s.PurgeNotifyDeliveries(ctx, now.Add(24*time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("purge of the failed one = %d, %v; want 1 (the due one stays)", n, err)
	}
	if due, err := s.CountDueNotifyDeliveries(ctx); err != nil || due != 1 {
		t.Errorf("due after purging = %d, %v; want 1", due, err)
	}
}

// jsonEqual reports whether two JSON documents hold the same value (a
// store may keep JSON in a normalised form).
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func testNotifyJobAttempts(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	mustCreate(t, s, newComment(site.ID, "/a", t0))
	now := t0.Add(time.Hour)
	for want := 1; want <= 3; want++ {
		jobs, err := s.ClaimNotifyJobs(ctx, now, now.Add(time.Minute), 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim %d = %+v, %v; want the job", want, jobs, err)
		}
		if jobs[0].Attempts != want {
			t.Errorf("claim %d: Attempts = %d, want %d", want, jobs[0].Attempts, want)
		}
		now = now.Add(2 * time.Minute) // past the lease
	}
}

func testFinishNotifyJobsBatch(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	var cs []comment.Comment
	for i := range 3 {
		cs = append(cs, mustCreate(t, s, newComment(site.ID, "/a", t0.Add(time.Duration(i)*time.Second))))
	}
	now := t0.Add(time.Hour)
	jobs := claimAllJobs(t, s, now)
	if len(jobs) != 3 {
		t.Fatalf("jobs = %d, want 3", len(jobs))
	}
	// The second job was finished already by a worker whose lease ran out.
	if _, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[1].ID}); err != nil {
		t.Fatal(err)
	}
	outcomes := []comment.JobOutcome{
		{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{
			newDelivery(site.ID, comment.NotifyHeld, cs[0].ID, "a@example.org", now),
			newDelivery(site.ID, comment.NotifyHeld, cs[0].ID, "b@example.org", now),
		}},
		{JobID: jobs[1].ID, Deliveries: []comment.NotifyDelivery{newDelivery(site.ID, comment.NotifyHeld, cs[1].ID, "a@example.org", now)}},
		{JobID: jobs[2].ID}, // calls for nothing
	}
	added, err := s.FinishNotifyJobs(ctx, outcomes)
	if err != nil {
		t.Fatalf("FinishNotifyJobs: %v", err)
	}
	if want := []int{2, 0, 0}; !slices.Equal(added, want) {
		t.Errorf("FinishNotifyJobs = %v, want %v", added, want)
	}
	if left := claimAllJobs(t, s, now.Add(time.Hour)); len(left) != 0 {
		t.Errorf("jobs left = %+v, want none", left)
	}
	if due, err := s.CountDueNotifyDeliveries(ctx); err != nil || due != 2 {
		t.Errorf("due = %d, %v; want 2", due, err)
	}
	if added, err := s.FinishNotifyJobs(ctx, nil); err != nil || len(added) != 0 {
		t.Errorf("FinishNotifyJobs(nil) = %v, %v", added, err)
	}
}

func testMarkNotifyDeliveriesGuard(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	c := mustCreate(t, s, newComment(site.ID, "/a", t0))
	jobs := claimAllJobs(t, s, t0)
	now := t0.Add(time.Hour)
	a := newDelivery(site.ID, comment.NotifyHeld, c.ID, "a@example.org", now)
	b := newDelivery(site.ID, comment.NotifyHeld, c.ID, "b@example.org", now)
	if _, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{a, b}}); err != nil {
		t.Fatal(err)
	}
	// A first worker claims both and stalls past its lease; a second
	// claims them again and records a's failure and b's sending.
	lease1 := now.Add(time.Minute)
	if got, err := s.ClaimNotifyDeliveries(ctx, now, lease1, 10); err != nil || len(got) != 2 {
		t.Fatalf("first claim = %d, %v; want 2", len(got), err)
	}
	later := now.Add(2 * time.Minute)
	lease2 := later.Add(time.Minute)
	if got, err := s.ClaimNotifyDeliveries(ctx, later, lease2, 10); err != nil || len(got) != 2 {
		t.Fatalf("second claim = %d, %v; want 2", len(got), err)
	}
	retry := later.Add(time.Hour)
	skipped, err := s.MarkNotifyDeliveries(ctx, []comment.DeliveryResult{
		{ID: a.ID, State: comment.DeliveryDue, Attempts: 1, NextAt: retry, Error: "421 later", At: later, Lease: lease2},
		{ID: b.ID, State: comment.DeliverySent, Attempts: 1, NextAt: now, At: later, Lease: lease2},
	})
	if err != nil || len(skipped) != 0 {
		t.Fatalf("MarkNotifyDeliveries (second worker) skipped %q, %v; want none", skipped, err)
	}
	// The first worker's results come late: neither is recorded.
	unknown := newID()
	skipped, err = s.MarkNotifyDeliveries(ctx, []comment.DeliveryResult{
		{ID: a.ID, State: comment.DeliverySent, Attempts: 1, NextAt: now, At: later, Lease: lease1},
		{ID: b.ID, State: comment.DeliveryFailed, Attempts: 1, NextAt: now, Error: "550", At: later, Lease: lease1},
		{ID: unknown, State: comment.DeliverySent, At: later},
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(skipped)
	want := []string{a.ID, b.ID, unknown}
	slices.Sort(want)
	if !slices.Equal(skipped, want) {
		t.Errorf("late results skipped %q, want %q", skipped, want)
	}
	// b stays sent (no result without a lease overwrites it either).
	if err := markDelivery(ctx, s, comment.DeliveryResult{ID: b.ID, State: comment.DeliveryDropped, At: later}); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("marking a sent delivery again: err = %v, want it skipped", err)
	}
	if last, err := s.LastNotifyDigest(ctx, ""); err != nil || !last.IsZero() {
		t.Errorf("LastNotifyDigest(\"\") = %v, %v; want zero", last, err)
	}
	// a is still due, at its retry time, with the second worker's error.
	got, err := s.ClaimNotifyDeliveries(ctx, retry, retry.Add(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != a.ID || got[0].LastError != "421 later" || got[0].Attempts != 1 {
		t.Errorf("claim at the retry time = %+v, %v; want a with the second worker's result", got, err)
	}
	if n, err := s.CountDueNotifyDeliveries(ctx); err != nil || n != 1 {
		t.Errorf("due = %d, %v; want 1", n, err)
	}
}

// testConcurrentDigestClaims: claimers racing for deliveries, a few at a
// time, never split a digest group between them.
func testConcurrentDigestClaims(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	now := t0.Add(time.Hour)
	const keys, per = 4, 6
	groupOf := map[string]string{}
	for k := range keys {
		key := fmt.Sprintf("held %s m%d@example.org", site.ID, k)
		for i := range per {
			at := t0.Add(time.Duration(k*per+i) * time.Second)
			c := mustCreate(t, s, newComment(site.ID, "/a", at))
			jobs := claimAllJobs(t, s, at)
			d := newDelivery(site.ID, comment.NotifyHeld, c.ID, fmt.Sprintf("m%d@example.org", k), now.Add(-time.Duration(per-i)*time.Second))
			d.DigestKey = key
			if _, err := finishJob(ctx, s, comment.JobOutcome{JobID: jobs[0].ID, Deliveries: []comment.NotifyDelivery{d}}); err != nil {
				t.Fatal(err)
			}
			groupOf[d.ID] = key
		}
	}
	var (
		mu     sync.Mutex
		claims [][]comment.NotifyDelivery
		wg     sync.WaitGroup
	)
	start := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			<-start
			for range 20 {
				got, err := s.ClaimNotifyDeliveries(ctxFor(t), now, now.Add(time.Hour), 1)
				if err != nil {
					t.Errorf("ClaimNotifyDeliveries: %v", err)
					return
				}
				if len(got) > 0 {
					mu.Lock()
					claims = append(claims, got)
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]int{}
	for _, got := range claims {
		perKey := map[string]int{}
		for _, d := range got {
			seen[d.ID]++
			perKey[groupOf[d.ID]]++
		}
		for key, n := range perKey {
			if n != per {
				t.Errorf("a claim holds %d of the %d deliveries of %q", n, per, key)
			}
		}
	}
	if len(seen) != keys*per {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), keys*per)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}
