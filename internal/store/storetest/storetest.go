// Package storetest is the conformance suite every comment.Store
// implementation must pass. Each store's own tests call Run with a function
// that opens a fresh, empty store on a real database.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
)

// Run runs the conformance suite as subtests of t. open must return a new,
// empty store for the subtest it is given (registering with t.Cleanup
// anything to remove after the store is closed); Run closes the store when
// the subtest ends.
func Run(t *testing.T, open func(t *testing.T) comment.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s comment.Store)
	}{
		{"Sites", testSites},
		{"Pages", testPages},
		{"CreateCommentErrors", testCreateCommentErrors},
		{"CommentRoundTrip", testCommentRoundTrip},
		{"CommentNotFound", testCommentNotFound},
		{"SetStatus", testSetStatus},
		{"SetStatusNotFound", testSetStatusNotFound},
		{"List", testList},
		{"ListInvalidFilter", testListInvalidFilter},
		{"ListKeysetPaging", testListKeysetPaging},
		{"Approved", testApproved},
		{"CountApproved", testCountApproved},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentCreateFailsAlone", testConcurrentCreateFailsAlone},
		{"Secret", testSecret},
		{"SecretGenerateError", testSecretGenerateError},
		{"ConcurrentSecret", testConcurrentSecret},
		{"Ping", testPing},
		{"Users", testUsers},
		{"Grants", testGrants},
		{"Sessions", testSessions},
		{"Tokens", testTokens},
		{"EditComment", testEditComment},
		{"CommentsByID", testCommentsByID},
		{"PagesByRef", testPagesByRef},
		{"AuthorStats", testAuthorStats},
		{"ListEntries", testListEntries},
		{"ListFilters", testListFilters},
		{"ListHostileFilters", testListHostileFilters},
		{"Rules", testRules},
		{"RulesErrors", testRulesErrors},
		{"ConcurrentSaveRules", testConcurrentSaveRules},
		{"RuleHits", testRuleHits},
		{"HasDuplicate", testHasDuplicate},
		{"BulkLoad", testBulkLoad},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"IdempotencyKeyConflict", testIdempotencyKeyConflict},
		{"ConcurrentKeyedCreate", testConcurrentKeyedCreate},
		{"DeleteIdempotencyKeys", testDeleteIdempotencyKeys},
		{"ExpireClientData", testExpireClientData},
		{"ExpireClientDataDelete", testExpireClientDataDelete},
		{"ExpireClientDataBatches", testExpireClientDataBatches},
		{"ExpireClientDataErrors", testExpireClientDataErrors},
		{"PendingStats", testPendingStats},
		{"PersonalData", testPersonalData},
		{"ErasePersonalDataKeep", testErasePersonalDataKeep},
		{"ErasePersonalDataDelete", testErasePersonalDataDelete},
		{"AddAudit", testAddAudit},
		{"NotifyRepliesRoundTrip", testNotifyRepliesRoundTrip},
		{"BulkLoadRecordsNoNotifyJobs", testBulkLoadRecordsNoNotifyJobs},
		{"ReaderStates", testReaderStates},
		{"ConcurrentReaderStates", testConcurrentReaderStates},
		{"PersonalNotifyData", testPersonalNotifyData},
		{"ErasePersonalNotifyData", testErasePersonalNotifyData},
	}
	tests = append(tests, notifyTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// t0 is the suite's reference time, already at microsecond precision as
// callers of a Store guarantee.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustSite stores a site with a unique id and returns it.
func mustSite(t *testing.T, s comment.Store) comment.Site {
	t.Helper()
	site := comment.Site{
		ID:        "site-" + newID(),
		Name:      "Test Blog",
		Origins:   []string{"https://blog.example"},
		RateLimit: comment.RateLimit{Every: 10 * time.Second, Burst: 3},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
	if err := s.UpsertSite(ctxFor(t), site); err != nil {
		t.Fatalf("UpsertSite(%q): %v", site.ID, err)
	}
	return site
}

// newComment returns a pending top-level comment on page key of site.
func newComment(siteID, key string, at time.Time) comment.Comment {
	return comment.Comment{
		ID:          newID(),
		SiteID:      siteID,
		PageKey:     key,
		Depth:       1,
		AuthorName:  "Ada",
		AuthorEmail: "ada@example.org",
		Body:        "Nice post.",
		BodyHTML:    "<p>Nice post.</p>",
		Status:      comment.StatusPending,
		IP:          "192.0.2.1",
		UserAgent:   "test/1.0",
		CreatedAt:   at,
		UpdatedAt:   at,
	}
}

// mustCreate stores c on a page with no URL or title.
func mustCreate(t *testing.T, s comment.Store, c comment.Comment) comment.Comment {
	t.Helper()
	if err := s.CreateComment(ctxFor(t), c, comment.Page{SiteID: c.SiteID, Key: c.PageKey}); err != nil {
		t.Fatalf("CreateComment(%s): %v", c.ID, err)
	}
	return c
}

func ids(cs []comment.Comment) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// sorted returns the ids of cs in the store's order, (CreatedAt, ID).
func sorted(cs []comment.Comment) []string {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b comment.Comment) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return ids(cs)
}

// checkSameComment reports every field in which got differs from want.
// Times must be equal instants and come back in UTC.
func checkSameComment(t *testing.T, got, want comment.Comment) {
	t.Helper()
	for name, pair := range map[string][2]time.Time{
		"CreatedAt": {got.CreatedAt, want.CreatedAt},
		"UpdatedAt": {got.UpdatedAt, want.UpdatedAt},
	} {
		if !pair[0].Equal(pair[1]) {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
		if pair[0].Location() != time.UTC {
			t.Errorf("%s location = %v, want UTC", name, pair[0].Location())
		}
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("comment differs\n got: %+v\nwant: %+v", got, want)
	}
}

func testSites(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	id := "site-" + newID()
	v1 := comment.Site{
		ID:        id,
		Name:      "Morning Ledger",
		Origins:   []string{"https://ledger.example", "http://localhost:8080"},
		RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: 2},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
	v2 := comment.Site{
		ID:        id,
		Name:      "The Morning Ledger ✓",
		Origins:   []string{"https://www.ledger.example"},
		RateLimit: comment.RateLimit{Every: 1500 * time.Millisecond, Burst: 10},
		CreatedAt: t0.Add(time.Hour), // ignored: the site keeps its creation time
		UpdatedAt: t0.Add(time.Hour),
	}
	tests := []struct {
		name   string
		upsert comment.Site
		want   comment.Site
	}{
		{"created", v1, v1},
		{"updated", v2, comment.Site{ID: id, Name: v2.Name, Origins: v2.Origins, RateLimit: v2.RateLimit, CreatedAt: t0, UpdatedAt: v2.UpdatedAt}},
		{"no origins", comment.Site{ID: id, Name: "Bare", UpdatedAt: t0.Add(2 * time.Hour)},
			comment.Site{ID: id, Name: "Bare", CreatedAt: t0, UpdatedAt: t0.Add(2 * time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.UpsertSite(ctx, tt.upsert); err != nil {
				t.Fatalf("UpsertSite: %v", err)
			}
			got, err := s.Site(ctx, id)
			if err != nil {
				t.Fatalf("Site: %v", err)
			}
			if got.Name != tt.want.Name {
				t.Errorf("Name = %q, want %q", got.Name, tt.want.Name)
			}
			if !slices.Equal(got.Origins, tt.want.Origins) {
				t.Errorf("Origins = %q, want %q", got.Origins, tt.want.Origins)
			}
			if got.RateLimit != tt.want.RateLimit {
				t.Errorf("RateLimit = %+v, want %+v", got.RateLimit, tt.want.RateLimit)
			}
			if !got.CreatedAt.Equal(tt.want.CreatedAt) || !got.UpdatedAt.Equal(tt.want.UpdatedAt) {
				t.Errorf("CreatedAt, UpdatedAt = %v, %v, want %v, %v", got.CreatedAt, got.UpdatedAt, tt.want.CreatedAt, tt.want.UpdatedAt)
			}
			if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
				t.Errorf("times not in UTC: %v, %v", got.CreatedAt, got.UpdatedAt)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := s.Site(ctx, "no-such-site")
		if !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("Site(unknown) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("all sites in order", func(t *testing.T) {
		for _, extra := range []string{"zz-" + newID(), "aa-" + newID()} {
			if err := s.UpsertSite(ctx, comment.Site{ID: extra, Name: extra, Origins: []string{"https://x.example"}}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.Sites(ctx)
		if err != nil {
			t.Fatalf("Sites: %v", err)
		}
		var ids []string
		for _, site := range all {
			ids = append(ids, site.ID)
			if site.ID == id && site.Name != "Bare" {
				t.Errorf("Sites has %q named %q, want its current name", id, site.Name)
			}
		}
		if len(ids) < 3 || !slices.IsSorted(ids) || !slices.Contains(ids, id) {
			t.Errorf("Sites = %v, want every site, sorted by id", ids)
		}
	})
}

func testPages(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	const key = "/2025/03/harbour-bridge-reopens"
	const url = "https://blog.example/2025/03/harbour-bridge-reopens"
	steps := []struct {
		name string
		page comment.Page // URL and title sent with the comment
		want comment.Page // the stored page afterwards
	}{
		{"first comment creates the page", comment.Page{Key: key, URL: url},
			comment.Page{SiteID: site.ID, Key: key, URL: url}},
		{"second comment fills the empty title", comment.Page{Key: key, URL: "https://other.example/", Title: "Harbour bridge reopens"},
			comment.Page{SiteID: site.ID, Key: key, URL: url, Title: "Harbour bridge reopens"}},
		{"third comment changes nothing", comment.Page{Key: key, URL: "https://third.example/", Title: "Another title"},
			comment.Page{SiteID: site.ID, Key: key, URL: url, Title: "Harbour bridge reopens"}},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := newComment(site.ID, key, t0.Add(time.Duration(i)*time.Minute))
			st.page.SiteID = site.ID
			if err := s.CreateComment(ctx, c, st.page); err != nil {
				t.Fatalf("CreateComment: %v", err)
			}
			got, err := s.Page(ctx, site.ID, key)
			if err != nil {
				t.Fatalf("Page: %v", err)
			}
			if got != st.want {
				t.Errorf("Page = %+v, want %+v", got, st.want)
			}
		})
	}
	t.Run("unknown page", func(t *testing.T) {
		_, err := s.Page(ctx, site.ID, "/no-such-page")
		if !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("Page(unknown) error = %v, want ErrNotFound", err)
		}
	})
}

func testCreateCommentErrors(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	existing := mustCreate(t, s, newComment(site.ID, "/a", t0))

	dup := newComment(site.ID, "/b", t0.Add(time.Second))
	dup.ID = existing.ID
	orphan := newComment("no-such-site", "/a", t0)
	badParent := newComment(site.ID, "/a", t0)
	badParent.ParentID, badParent.Depth = newID(), 2

	tests := []struct {
		name string
		c    comment.Comment
		want error
	}{
		{"duplicate id", dup, comment.ErrConflict},
		{"unknown site", orphan, comment.ErrNotFound},
		{"unknown parent", badParent, comment.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateComment(ctx, tt.c, comment.Page{SiteID: tt.c.SiteID, Key: tt.c.PageKey})
			if !errors.Is(err, tt.want) {
				t.Errorf("CreateComment error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("failed writes left nothing", func(t *testing.T) {
		got, err := s.Comment(ctx, existing.ID)
		if err != nil {
			t.Fatalf("Comment: %v", err)
		}
		if got.PageKey != "/a" {
			t.Errorf("existing comment's PageKey = %q, want %q", got.PageKey, "/a")
		}
		if _, err := s.Page(ctx, site.ID, "/b"); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("Page(/b) after the duplicate was refused: error = %v, want ErrNotFound", err)
		}
		h, err := s.History(ctx, existing.ID)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if len(h) != 1 {
			t.Errorf("History has %d events, want 1", len(h))
		}
	})
}

func testCommentRoundTrip(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	cet := time.FixedZone("CET", 3600)

	top := comment.Comment{
		ID:            newID(),
		SiteID:        site.ID,
		PageKey:       "/ünïcode/päge",
		Depth:         1,
		AuthorName:    "Zoë Ångström 山田",
		AuthorEmail:   "zoe+tag@exämple.org",
		AuthorWebsite: "https://zoe.example/~me?q=1&r=2",
		Body:          "Great piece 🎉👍🏽 — \"quoted\", 'single', back\\slash,\nnew line\tand tab; 100% <b>raw</b>",
		BodyHTML:      "<p>Great piece 🎉👍🏽 — &#34;quoted&#34;</p>",
		Status:        comment.StatusPending,
		IP:            "2001:db8::1",
		UserAgent:     "Mozilla/5.0 (X11; Linux x86_64)",
		Reasons: []comment.Reason{
			{Rule: "links", Detail: "3 links > 2"},
			{Rule: "hold_word", Detail: "matched \"casino\" in body 🎰"},
		},
		CreatedAt: t0.In(cet),
		UpdatedAt: t0.Add(time.Microsecond).In(cet),
	}
	reply := comment.Comment{
		ID:          newID(),
		SiteID:      site.ID,
		PageKey:     top.PageKey,
		ParentID:    top.ID,
		Depth:       2,
		AuthorName:  "B",
		AuthorEmail: "b@example.org",
		Body:        "Agreed.",
		BodyHTML:    "<p>Agreed.</p>",
		Status:      comment.StatusApproved,
		CreatedAt:   t0.Add(time.Minute),
		UpdatedAt:   t0.Add(time.Minute),
	}
	tests := []struct {
		name string
		c    comment.Comment
	}{
		{"top level, unicode, emoji, reasons, no parent", top},
		{"reply with parent, empty optional fields, no reasons", reply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateComment(ctx, tt.c, comment.Page{SiteID: site.ID, Key: tt.c.PageKey, Title: "Ünïcode 🧪"}); err != nil {
				t.Fatalf("CreateComment: %v", err)
			}
			got, err := s.Comment(ctx, tt.c.ID)
			if err != nil {
				t.Fatalf("Comment: %v", err)
			}
			checkSameComment(t, got, tt.c)
		})
	}
}

func testCommentNotFound(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	mustCreate(t, s, newComment(site.ID, "/a", t0))
	tests := []struct {
		name string
		id   string
	}{
		{"unknown uuid", newID()},
		{"empty", ""},
		{"not a uuid", "not-a-uuid"},
		{"sql injection", "x' OR '1'='1"},
		{"percent wildcard", "%"},
		{"nul byte", "abc\x00def"},
		{"invalid utf-8", "\xff\xfe"},
		{"very long", strings.Repeat("9", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Comment(ctx, tt.id); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("Comment(%q) error = %v, want ErrNotFound", tt.id, err)
			}
			if _, err := s.History(ctx, tt.id); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("History(%q) error = %v, want ErrNotFound", tt.id, err)
			}
		})
	}
}

func testSetStatus(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	c := mustCreate(t, s, newComment(site.ID, "/a", t0))
	approvedAt := t0.Add(time.Hour)
	submit := comment.Event{CommentID: c.ID, Actor: "system", Action: "submit", FromStatus: "", ToStatus: comment.StatusPending, At: t0}
	approve := comment.Event{CommentID: c.ID, Actor: "mod@example.org", Action: "approve", FromStatus: comment.StatusPending, ToStatus: comment.StatusApproved, At: approvedAt}

	steps := []struct {
		name        string
		change      comment.StatusChange
		wantStatus  comment.Status
		wantUpdated time.Time
		wantHistory []comment.Event
	}{
		{
			name:        "approve",
			change:      comment.StatusChange{ID: c.ID, To: comment.StatusApproved, Actor: "mod@example.org", Action: "approve", At: approvedAt},
			wantStatus:  comment.StatusApproved,
			wantUpdated: approvedAt,
			wantHistory: []comment.Event{submit, approve},
		},
		{
			name:        "approve again writes nothing",
			change:      comment.StatusChange{ID: c.ID, To: comment.StatusApproved, Actor: "other", Action: "approve", At: approvedAt.Add(time.Hour)},
			wantStatus:  comment.StatusApproved,
			wantUpdated: approvedAt,
			wantHistory: []comment.Event{submit, approve},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.SetStatus(ctx, st.change)
			if err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
			if got.Status != st.wantStatus || !got.UpdatedAt.Equal(st.wantUpdated) {
				t.Errorf("SetStatus returned status %s updated %v, want %s updated %v", got.Status, got.UpdatedAt, st.wantStatus, st.wantUpdated)
			}
			stored, err := s.Comment(ctx, c.ID)
			if err != nil {
				t.Fatalf("Comment: %v", err)
			}
			checkSameComment(t, stored, got)
			history, err := s.History(ctx, c.ID)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			if len(history) != len(st.wantHistory) {
				t.Fatalf("History has %d events, want %d: %+v", len(history), len(st.wantHistory), history)
			}
			for i, e := range history {
				w := st.wantHistory[i]
				if !e.At.Equal(w.At) || e.At.Location() != time.UTC {
					t.Errorf("event %d At = %v, want %v in UTC", i, e.At, w.At)
				}
				e.At, w.At = time.Time{}, time.Time{}
				if e != w {
					t.Errorf("event %d = %+v, want %+v", i, e, w)
				}
			}
		})
	}
}

func testSetStatusNotFound(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	tests := []struct {
		name string
		id   string
	}{
		{"unknown uuid", newID()},
		{"garbage", "no such comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SetStatus(ctx, comment.StatusChange{ID: tt.id, To: comment.StatusApproved, Actor: "mod", Action: "approve", At: t0})
			if !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("SetStatus(%q) error = %v, want ErrNotFound", tt.id, err)
			}
		})
	}
}

// listFixture stores comments on two sites, two pages each, with several
// statuses and some equal creation times (so that the ID breaks the tie),
// created out of time order. It returns the sites and all comments.
func listFixture(t *testing.T, s comment.Store) (a, b comment.Site, all []comment.Comment) {
	t.Helper()
	a, b = mustSite(t, s), mustSite(t, s)
	specs := []struct {
		site   string
		page   string
		offset time.Duration
		status comment.Status
	}{
		{a.ID, "/p1", 5 * time.Minute, comment.StatusPending},
		{a.ID, "/p1", 1 * time.Minute, comment.StatusPending},
		{a.ID, "/p2", 3 * time.Minute, comment.StatusPending},
		{a.ID, "/p2", 3 * time.Minute, comment.StatusPending}, // tie with the one above
		{a.ID, "/p1", 2 * time.Minute, comment.StatusApproved},
		{a.ID, "/p1", 4 * time.Minute, comment.StatusSpam},
		{b.ID, "/p1", 2 * time.Minute, comment.StatusPending},
		{b.ID, "/p1", 6 * time.Minute, comment.StatusPending},
		{b.ID, "/p3", 0, comment.StatusApproved},
	}
	for _, sp := range specs {
		c := newComment(sp.site, sp.page, t0.Add(sp.offset))
		c.Status = sp.status
		all = append(all, mustCreate(t, s, c))
	}
	return a, b, all
}

func where(all []comment.Comment, keep func(comment.Comment) bool) []comment.Comment {
	var out []comment.Comment
	for _, c := range all {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func testList(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b, all := listFixture(t, s)
	pendingA := where(all, func(c comment.Comment) bool { return c.SiteID == a.ID && c.Status == comment.StatusPending })
	pendingASorted := sorted(pendingA)
	afterSecond := all[0]
	for _, c := range pendingA {
		if c.ID == pendingASorted[1] {
			afterSecond = c
		}
	}

	tests := []struct {
		name string
		f    comment.ListFilter
		want []string
	}{
		{"pending on both sites",
			comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: comment.StatusPending, Limit: 100},
			sorted(where(all, func(c comment.Comment) bool { return c.Status == comment.StatusPending }))},
		{"pending on one site",
			comment.ListFilter{SiteIDs: []string{a.ID}, Status: comment.StatusPending, Limit: 100},
			pendingASorted},
		{"approved on one site",
			comment.ListFilter{SiteIDs: []string{b.ID}, Status: comment.StatusApproved, Limit: 100},
			sorted(where(all, func(c comment.Comment) bool { return c.SiteID == b.ID && c.Status == comment.StatusApproved }))},
		{"spam",
			comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: comment.StatusSpam, Limit: 100},
			sorted(where(all, func(c comment.Comment) bool { return c.Status == comment.StatusSpam }))},
		{"rejected: none",
			comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: comment.StatusRejected, Limit: 100},
			nil},
		{"pending on one page of one site",
			comment.ListFilter{SiteIDs: []string{a.ID}, Status: comment.StatusPending, PageKey: "/p1", Limit: 100},
			sorted(where(pendingA, func(c comment.Comment) bool { return c.PageKey == "/p1" }))},
		{"pending on a page key both sites use",
			comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: comment.StatusPending, PageKey: "/p1", Limit: 100},
			sorted(where(all, func(c comment.Comment) bool { return c.PageKey == "/p1" && c.Status == comment.StatusPending }))},
		{"limit",
			comment.ListFilter{SiteIDs: []string{a.ID}, Status: comment.StatusPending, Limit: 2},
			pendingASorted[:2]},
		{"after a cursor",
			comment.ListFilter{SiteIDs: []string{a.ID}, Status: comment.StatusPending, Limit: 100,
				After: &comment.Cursor{CreatedAt: afterSecond.CreatedAt, ID: afterSecond.ID}},
			pendingASorted[2:]},
		{"unknown site",
			comment.ListFilter{SiteIDs: []string{"no-such-site"}, Status: comment.StatusPending, Limit: 100},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(ctx, tt.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("List ids = %q, want %q", ids(got), tt.want)
			}
		})
	}
	t.Run("every site", func(t *testing.T) {
		// Other subtests may share the database, so look only for ours.
		got, err := s.List(ctx, comment.ListFilter{Status: comment.StatusApproved, Limit: 500})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		ours := map[string]bool{}
		for _, c := range all {
			if c.Status == comment.StatusApproved {
				ours[c.ID] = true
			}
		}
		var found []string
		for _, c := range got {
			if c.Status != comment.StatusApproved {
				t.Errorf("List(approved) returned %s with status %s", c.ID, c.Status)
			}
			if ours[c.ID] {
				found = append(found, c.ID)
			}
		}
		want := sorted(where(all, func(c comment.Comment) bool { return c.Status == comment.StatusApproved }))
		if !slices.Equal(found, want) {
			t.Errorf("our approved ids in List(every site) = %q, want %q", found, want)
		}
	})
	t.Run("full rows", func(t *testing.T) {
		got, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{b.ID}, Status: comment.StatusApproved, Limit: 1})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("List returned %d comments, want 1", len(got))
		}
		checkSameComment(t, got[0], all[len(all)-1])
	})
}

func testListInvalidFilter(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	tests := []struct {
		name string
		f    comment.ListFilter
	}{
		{"no status", comment.ListFilter{Limit: 10}},
		{"unknown status", comment.ListFilter{Status: "held", Limit: 10}},
		{"zero limit", comment.ListFilter{Status: comment.StatusPending}},
		{"limit too big", comment.ListFilter{Status: comment.StatusPending, Limit: 501}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.List(ctx, tt.f)
			var ve *comment.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("List(%+v) error = %v, want a *comment.ValidationError", tt.f, err)
			}
		})
	}
}

func testListKeysetPaging(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	var all []comment.Comment
	for i := range 25 {
		// Groups of three share a creation time, so pages must break ties by ID.
		c := newComment(site.ID, fmt.Sprintf("/page-%d", i%4), t0.Add(time.Duration(i/3)*time.Second))
		all = append(all, mustCreate(t, s, c))
	}
	want := sorted(all)

	var (
		got   []string
		sizes []int
		after *comment.Cursor
	)
	for range 10 { // bounded, in case a broken cursor never advances
		page, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusPending, After: after, Limit: 10})
		if err != nil {
			t.Fatalf("List after %+v: %v", after, err)
		}
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		got = append(got, ids(page)...)
		last := page[len(page)-1]
		after = &comment.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if wantSizes := []int{10, 10, 5, 0}; !slices.Equal(sizes, wantSizes) {
		t.Errorf("page sizes = %v, want %v", sizes, wantSizes)
	}
	if !slices.Equal(got, want) {
		t.Errorf("walked ids = %q, want %q (no duplicates, no gaps)", got, want)
	}
}

func testApproved(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	const key = "/thread"
	var want []comment.Comment
	// Created newest first, so that the store must order them.
	for i, st := range []comment.Status{
		comment.StatusApproved, comment.StatusPending, comment.StatusApproved,
		comment.StatusRejected, comment.StatusSpam, comment.StatusDeleted, comment.StatusApproved,
	} {
		c := newComment(site.ID, key, t0.Add(time.Duration(10-i)*time.Minute))
		c.Status = st
		mustCreate(t, s, c)
		if st == comment.StatusApproved {
			want = append(want, c)
		}
	}
	for _, c := range []comment.Comment{newComment(site.ID, "/elsewhere", t0), newComment(other.ID, key, t0)} {
		c.Status = comment.StatusApproved
		mustCreate(t, s, c)
	}

	tests := []struct {
		name   string
		siteID string
		key    string
		want   []string
	}{
		{"approved of the page, oldest first", site.ID, key, sorted(want)},
		{"page without comments", site.ID, "/nothing-here", nil},
		{"unknown site", "no-such-site", key, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Approved(ctx, tt.siteID, tt.key)
			if err != nil {
				t.Fatalf("Approved: %v", err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Approved ids = %q, want %q", ids(got), tt.want)
			}
		})
	}
}

func testCountApproved(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	create := func(siteID, key string, st comment.Status, n int) {
		for i := range n {
			c := newComment(siteID, key, t0.Add(time.Duration(i)*time.Second))
			c.Status = st
			mustCreate(t, s, c)
		}
	}
	create(site.ID, "/three", comment.StatusApproved, 3)
	create(site.ID, "/three", comment.StatusPending, 2)
	create(site.ID, "/one", comment.StatusApproved, 1)
	create(site.ID, "/held", comment.StatusPending, 2)
	create(other.ID, "/three", comment.StatusApproved, 5)

	tests := []struct {
		name string
		keys []string
		want map[string]int
	}{
		{"several pages", []string{"/three", "/one", "/held", "/unknown"}, map[string]int{"/three": 3, "/one": 1}},
		{"one page", []string{"/one"}, map[string]int{"/one": 1}},
		{"only pages without approved comments", []string{"/held"}, map[string]int{}},
		{"no keys", nil, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CountApproved(ctx, site.ID, tt.keys)
			if err != nil {
				t.Fatalf("CountApproved: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("CountApproved(%q) = %v, want %v", tt.keys, got, tt.want)
			}
		})
	}
}

func testConcurrentCreate(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	const n = 40
	cs := make([]comment.Comment, n)
	for i := range cs {
		// Half on one shared page (contending for its row), half on pages of their own.
		key := "/busy"
		if i%2 == 1 {
			key = fmt.Sprintf("/page-%d", i)
		}
		cs[i] = newComment(site.ID, key, t0.Add(time.Duration(i)*time.Millisecond))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() {
			errs[i] = s.CreateComment(ctx, cs[i], comment.Page{SiteID: site.ID, Key: cs[i].PageKey, Title: "Busy"})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateComment %d: %v", i, err)
		}
	}
	for _, c := range cs {
		got, err := s.Comment(ctx, c.ID)
		if err != nil {
			t.Errorf("Comment(%s): %v", c.ID, err)
			continue
		}
		checkSameComment(t, got, c)
	}
	listed, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusPending, Limit: 500})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := ids(listed), sorted(cs); !slices.Equal(got, want) {
		t.Errorf("List ids = %q, want %q", got, want)
	}
}

// testConcurrentCreateFailsAlone: among concurrent creations (which a store
// may commit together), one that fails — an id already taken, an unknown
// site, a caller that gave up — fails alone: the others are stored, each
// with its history, and the failed ones leave nothing behind.
func testConcurrentCreateFailsAlone(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	taken := mustCreate(t, s, newComment(site.ID, "/p", t0))
	gone, cancel := context.WithCancel(ctx)
	cancel()
	const n = 60
	type attempt struct {
		c    comment.Comment
		ctx  context.Context
		want error // nil: stored
	}
	attempts := make([]attempt, n)
	for i := range attempts {
		c := newComment(site.ID, fmt.Sprintf("/p%d", i%5), t0.Add(time.Duration(i+1)*time.Millisecond))
		a := attempt{c: c, ctx: ctx}
		switch i % 6 {
		case 1:
			a.c.ID, a.want = taken.ID, comment.ErrConflict
		case 3:
			a.c.SiteID, a.want = "no-such-site-"+newID(), comment.ErrNotFound
		case 5:
			a.ctx, a.want = gone, context.Canceled
		}
		attempts[i] = a
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Go(func() {
			errs[i] = s.CreateComment(a.ctx, a.c, comment.Page{SiteID: a.c.SiteID, Key: a.c.PageKey})
		})
	}
	wg.Wait()
	var stored []comment.Comment
	for i, a := range attempts {
		switch {
		case a.want == nil && errs[i] != nil:
			t.Errorf("attempt %d: %v, want it stored", i, errs[i])
		case a.want != nil && !errors.Is(errs[i], a.want):
			t.Errorf("attempt %d: error %v, want %v", i, errs[i], a.want)
		}
		if a.want == nil {
			stored = append(stored, a.c)
		}
		if a.want == context.Canceled {
			if _, err := s.Comment(ctx, a.c.ID); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("attempt %d, whose caller gave up: Comment = %v, want not found", i, err)
			}
		}
	}
	for _, c := range stored {
		got, err := s.Comment(ctx, c.ID)
		if err != nil {
			t.Errorf("Comment(%s): %v", c.ID, err)
			continue
		}
		checkSameComment(t, got, c)
		if h, err := s.History(ctx, c.ID); err != nil || len(h) != 1 {
			t.Errorf("History(%s) = %d events, %v; want the one submit event", c.ID, len(h), err)
		}
	}
	listed, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusPending, Limit: 500})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := len(listed), len(stored)+1; got != want {
		t.Errorf("List: %d comments, want %d (the stored ones and the first)", got, want)
	}
	if h, err := s.History(ctx, taken.ID); err != nil || len(h) != 1 {
		t.Errorf("History of the comment whose id was reused = %d events, %v; want 1", len(h), err)
	}
}

// countingGenerator returns a generator that counts its calls in calls and
// returns value.
func countingGenerator(calls *atomic.Int32, value []byte) func() ([]byte, error) {
	return func() ([]byte, error) {
		calls.Add(1)
		return slices.Clone(value), nil
	}
}

func testSecret(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	first, second := "secret-"+newID(), "secret-"+newID()
	v1 := []byte{0x00, 0xff, 0x80, 'k', 0x00} // binary, with NUL bytes
	v2 := []byte("another value")
	v3 := []byte("yet another value")
	steps := []struct {
		name      string
		secret    string
		generates []byte
		want      []byte
		wantCalls int32
	}{
		{"first call generates and stores", first, v1, v1, 1},
		{"second call returns the stored value without generating", first, v2, v1, 0},
		{"another name is independent", second, v3, v3, 1},
		{"the first name keeps its value", first, v3, v1, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var calls atomic.Int32
			got, err := s.Secret(ctx, st.secret, countingGenerator(&calls, st.generates))
			if err != nil {
				t.Fatalf("Secret: %v", err)
			}
			if !bytes.Equal(got, st.want) {
				t.Errorf("Secret = %x, want %x", got, st.want)
			}
			if n := calls.Load(); n != st.wantCalls {
				t.Errorf("generate called %d times, want %d", n, st.wantCalls)
			}
		})
	}
}

func testSecretGenerateError(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	name := "secret-" + newID()
	errEntropy := errors.New("entropy exhausted")
	tests := []struct {
		name     string
		generate func() ([]byte, error)
		want     error // nil: any error
	}{
		{"generate fails", func() ([]byte, error) { return nil, errEntropy }, errEntropy},
		{"generate returns nothing", func() ([]byte, error) { return []byte{}, nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Secret(ctx, name, tt.generate)
			if err == nil {
				t.Fatalf("Secret = %x, want an error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Secret error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("nothing was stored", func(t *testing.T) {
		var calls atomic.Int32
		want := []byte("working generator")
		got, err := s.Secret(ctx, name, countingGenerator(&calls, want))
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Secret = %x, want %x", got, want)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("generate called %d times, want 1", n)
		}
	})
}

func testConcurrentSecret(t *testing.T, s comment.Store) {
	CheckSameSecret(t, s)
}

// CheckSameSecret calls Secret for one new name from 20 goroutines, spread
// over stores (which must share one database), each with a generator
// returning its own random value. It fails t unless every call returns the
// same value, produced by one of the generators, and a later call on each
// store returns that value without generating.
func CheckSameSecret(t *testing.T, stores ...comment.Store) {
	t.Helper()
	ctx := ctxFor(t)
	name := "secret-" + newID()
	const n = 20
	var (
		values = make([][]byte, n) // what goroutine i's generator returns
		called = make([]atomic.Bool, n)
		got    = make([][]byte, n)
		errs   = make([]error, n)
		wg     sync.WaitGroup
	)
	for i := range values {
		values[i] = make([]byte, 32)
		rand.Read(values[i])
	}
	start := make(chan struct{})
	for i := range n {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.Secret(ctx, name, func() ([]byte, error) {
				called[i].Store(true)
				// A slow generator keeps the window open in which other
				// callers find nothing stored yet and generate too.
				time.Sleep(10 * time.Millisecond)
				return slices.Clone(values[i]), nil
			})
		})
	}
	close(start)
	wg.Wait()

	var want []byte
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Secret in goroutine %d: %v", i, errs[i])
			continue
		}
		if want == nil {
			want = got[i]
		}
		if !bytes.Equal(got[i], want) {
			t.Errorf("goroutine %d got secret %x, goroutine before got %x", i, got[i], want)
		}
	}
	if want == nil {
		t.Fatal("no call succeeded")
	}
	generated := false
	for i := range n {
		if called[i].Load() && bytes.Equal(values[i], want) {
			generated = true
		}
	}
	if !generated {
		t.Errorf("secret %x is none of the values the called generators returned", want)
	}
	for i, s := range stores {
		var calls atomic.Int32
		again, err := s.Secret(ctx, name, countingGenerator(&calls, []byte("too late")))
		if err != nil {
			t.Fatalf("Secret afterwards on store %d: %v", i, err)
		}
		if !bytes.Equal(again, want) {
			t.Errorf("Secret afterwards on store %d = %x, want %x", i, again, want)
		}
		if c := calls.Load(); c != 0 {
			t.Errorf("Secret afterwards on store %d called generate %d times, want 0", i, c)
		}
	}
}

func testPing(t *testing.T, s comment.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
