package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// testBulkLoad loads pages and comments with BulkLoad (every store must
// have it: commentd seed depends on it), first into the empty store (where a store may take another path) and
// then into the store with comments, and reads them back through the
// Store's own methods.
func testBulkLoad(t *testing.T, s comment.Store) {
	bl, ok := s.(comment.BulkLoader)
	if !ok {
		t.Fatalf("%T does not implement comment.BulkLoader", s)
	}
	t.Run("into an empty store", func(t *testing.T) { testInitialLoad(t, s, bl) })
	t.Run("into a store with comments", func(t *testing.T) { testLaterLoad(t, s, bl) })
}

// bulkFixture is a small load: three pages, a thread of three approved
// comments with a held reply on /a, a spam comment on /b, and on /c one
// approved comment whose author and body have words beyond ASCII letters
// and digits.
type bulkFixture struct {
	pages                        []comment.Page
	top, reply, deep, held, spam comment.Comment
	accented                     comment.Comment
	all                          []comment.Comment // in load order
	siteID                       string
	// at is the fixture's time plus some minutes; mk makes a comment of
	// the site created then, replying to parent unless it is nil.
	at func(minutes int) time.Time
	mk func(key string, st comment.Status, minutes int, parent *comment.Comment) comment.Comment
}

// newBulkFixture returns the fixture for site, its comments created from
// start on.
func newBulkFixture(site comment.Site, start time.Time) bulkFixture {
	fx := bulkFixture{siteID: site.ID}
	fx.pages = []comment.Page{
		{SiteID: site.ID, Key: "/a", URL: "https://blog.example/a", Title: "Page A"},
		{SiteID: site.ID, Key: "/b", URL: "https://blog.example/b", Title: "Page B"},
		{SiteID: site.ID, Key: "/c", URL: "https://blog.example/c", Title: "Page C"},
	}
	fx.at = func(minutes int) time.Time { return start.Add(time.Duration(minutes) * time.Minute) }
	fx.mk = func(key string, st comment.Status, minutes int, parent *comment.Comment) comment.Comment {
		c := newComment(site.ID, key, fx.at(minutes))
		c.Status = st
		c.UpdatedAt = c.CreatedAt.Add(time.Second)
		if parent != nil {
			c.ParentID, c.Depth = parent.ID, parent.Depth+1
		}
		return c
	}
	fx.top = fx.mk("/a", comment.StatusApproved, 1, nil)
	fx.top.AuthorWebsite = "https://ada.example"
	fx.reply = fx.mk("/a", comment.StatusApproved, 2, &fx.top)
	fx.reply.AuthorName, fx.reply.Body, fx.reply.BodyHTML = "Grace Hopper", "A *quokka* on the ferry.", "<p>A <em>quokka</em> on the ferry.</p>"
	fx.deep = fx.mk("/a", comment.StatusApproved, 3, &fx.reply)
	fx.held = fx.mk("/a", comment.StatusPending, 4, &fx.top)
	fx.spam = fx.mk("/b", comment.StatusSpam, 5, nil)
	fx.spam.Reasons = []comment.Reason{{Rule: "link_count", Detail: "7 links"}}
	fx.accented = fx.mk("/c", comment.StatusApproved, 6, nil)
	fx.accented.AuthorName = "Zoë Ångström"
	fx.accented.Body, fx.accented.BodyHTML = "Crème brûlée at 1e5e6 degrees, v2 of the recipe.", "<p>Crème brûlée at 1e5e6 degrees, v2 of the recipe.</p>"
	fx.all = []comment.Comment{fx.top, fx.reply, fx.deep, fx.held, fx.spam, fx.accented}
	return fx
}

// check reads the fixture back; extra are comments loaded after it on /c,
// the pending ones to be found in the queue after the fixture's.
func (fx bulkFixture) check(t *testing.T, s comment.Store, extra []comment.Comment) {
	ctx := ctxFor(t)
	t.Run("pages", func(t *testing.T) {
		for _, want := range fx.pages {
			got, err := s.Page(ctx, fx.siteID, want.Key)
			if err != nil {
				t.Fatalf("Page(%q): %v", want.Key, err)
			}
			if got != want {
				t.Errorf("Page(%q) = %+v, want %+v", want.Key, got, want)
			}
		}
	})
	t.Run("stored as given", func(t *testing.T) {
		for _, want := range append(slices.Clone(fx.all), extra...) {
			got, err := s.Comment(ctx, want.ID)
			if err != nil {
				t.Fatalf("Comment(%s): %v", want.ID, err)
			}
			checkSameComment(t, got, want)
		}
	})
	t.Run("thread", func(t *testing.T) {
		got, err := s.Approved(ctx, fx.siteID, "/a")
		if err != nil {
			t.Fatalf("Approved: %v", err)
		}
		if want := []string{fx.top.ID, fx.reply.ID, fx.deep.ID}; !slices.Equal(ids(got), want) {
			t.Errorf("Approved ids = %q, want %q", ids(got), want)
		}
	})
	t.Run("counts", func(t *testing.T) {
		want := map[string]int{"/a": 3, "/c": 1}
		for _, c := range extra {
			if c.Status == comment.StatusApproved {
				want[c.PageKey]++
			}
		}
		got, err := s.CountApproved(ctx, fx.siteID, []string{"/a", "/b", "/c", "/none"})
		if err != nil {
			t.Fatalf("CountApproved: %v", err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("CountApproved = %v, want %v", got, want)
		}
	})
	t.Run("queue", func(t *testing.T) {
		var want []comment.Comment
		for _, c := range append(slices.Clone(fx.all), extra...) {
			if c.Status == comment.StatusPending {
				want = append(want, c)
			}
		}
		var got []comment.Comment
		f := comment.ListFilter{SiteIDs: []string{fx.siteID}, Status: comment.StatusPending, Limit: 50}
		for {
			page, err := s.List(ctx, f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			got = append(got, page...)
			if len(page) < f.Limit {
				break
			}
			last := page[len(page)-1]
			f.After = &comment.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		if !slices.Equal(ids(got), sorted(want)) {
			t.Errorf("pending queue has %d comments, want %d in (CreatedAt, ID) order", len(got), len(want))
		}
	})
	t.Run("search", func(t *testing.T) {
		tests := []struct {
			name   string
			status comment.Status
			query  string
			want   []string
		}{
			{"word in the body", comment.StatusApproved, "QUOKKA", []string{fx.reply.ID}},
			{"author's name", comment.StatusApproved, "hopper", []string{fx.reply.ID}},
			{"accented words", comment.StatusApproved, "ZOË brûlée", []string{fx.accented.ID}},
			{"number-like word", comment.StatusApproved, "1e5e6", []string{fx.accented.ID}},
			{"letters and digits", comment.StatusApproved, "V2", []string{fx.accented.ID}},
			{"spam", comment.StatusSpam, "", []string{fx.spam.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := comment.ListFilter{SiteIDs: []string{fx.siteID}, Status: tt.status, Query: tt.query, Limit: 10}
				got, err := s.List(ctx, f)
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				if !slices.Equal(ids(got), tt.want) {
					t.Errorf("List ids = %q, want %q", ids(got), tt.want)
				}
			})
		}
	})
	t.Run("history", func(t *testing.T) {
		for _, c := range append([]comment.Comment{fx.reply, fx.held, fx.spam}, extra...) {
			got, err := s.History(ctx, c.ID)
			if err != nil {
				t.Fatalf("History(%s): %v", c.ID, err)
			}
			checkEvents(t, got, []comment.Event{
				{CommentID: c.ID, Actor: "system", Action: "submit", ToStatus: c.Status, At: c.CreatedAt},
			})
		}
	})
}

// testInitialLoad loads into a store that has no comments yet: a failed
// load first, then the fixture. The store works as before afterwards:
// submissions and edits are found by search, moderation is recorded.
func testInitialLoad(t *testing.T, s comment.Store, bl comment.BulkLoader) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	fx := newBulkFixture(site, t0)

	lost := fx.mk("/no-such-page", comment.StatusApproved, 0, nil)
	if err := bl.BulkLoad(ctx, fx.pages, slices.Values([]comment.Comment{fx.top, lost})); !errors.Is(err, comment.ErrNotFound) {
		t.Fatalf("BulkLoad with a comment on an unknown page: error = %v, want ErrNotFound", err)
	}
	if _, err := s.Comment(ctx, fx.top.ID); !errors.Is(err, comment.ErrNotFound) {
		t.Fatalf("after the failed load, Comment(%s) error = %v, want ErrNotFound", fx.top.ID, err)
	}
	if err := bl.BulkLoad(ctx, fx.pages, slices.Values(fx.all)); err != nil {
		t.Fatalf("BulkLoad: %v", err)
	}
	fx.check(t, s, nil)

	t.Run("submissions after the load", func(t *testing.T) {
		c := newComment(site.ID, "/a", fx.at(100))
		c.Body = "A wombat crossed the road."
		mustCreate(t, s, c)
		got, err := s.List(ctx, comment.ListFilter{Status: comment.StatusPending, Query: "wombat", Limit: 10})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.Equal(ids(got), []string{c.ID}) {
			t.Errorf("search for a word of a new submission found %q, want %q", ids(got), c.ID)
		}
	})
	t.Run("edits after the load", func(t *testing.T) {
		e := comment.Edit{ID: fx.reply.ID, AuthorName: "Grace Hopper", Body: "A kiwi on the ferry.",
			BodyHTML: "<p>A kiwi on the ferry.</p>", Actor: "mod", At: fx.at(101)}
		if _, err := s.EditComment(ctx, e); err != nil {
			t.Fatalf("EditComment: %v", err)
		}
		for query, want := range map[string][]string{"kiwi": {fx.reply.ID}, "quokka": nil} {
			got, err := s.List(ctx, comment.ListFilter{Status: comment.StatusApproved, Query: query, Limit: 10})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !slices.Equal(ids(got), want) {
				t.Errorf("search for %q found %q, want %q", query, ids(got), want)
			}
		}
	})
	t.Run("moderation after the load", func(t *testing.T) {
		ch := comment.StatusChange{ID: fx.held.ID, To: comment.StatusApproved, Actor: "mod", Action: "approve", At: fx.at(102)}
		if _, err := s.SetStatus(ctx, ch); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
		got, err := s.History(ctx, fx.held.ID)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		checkEvents(t, got, []comment.Event{
			{CommentID: fx.held.ID, Actor: "system", Action: "submit", ToStatus: comment.StatusPending, At: fx.held.CreatedAt},
			{CommentID: fx.held.ID, Actor: "mod", Action: "approve", FromStatus: comment.StatusPending, ToStatus: comment.StatusApproved, At: ch.At},
		})
	})
}

// testLaterLoad loads into a store that has comments: the fixture, on a
// page a submission created without URL or title, then a second, larger
// load with replies to the first.
func testLaterLoad(t *testing.T, s comment.Store, bl comment.BulkLoader) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	fx := newBulkFixture(site, t0.Add(24*time.Hour))
	// The load fills in the page's URL and title, as a later submission
	// would.
	submitted := mustCreate(t, s, newComment(site.ID, "/b", fx.at(0)))
	if err := bl.BulkLoad(ctx, fx.pages, slices.Values(fx.all)); err != nil {
		t.Fatalf("BulkLoad: %v", err)
	}
	// A second load replies to a comment of the first and spans many
	// statements of a store that splits its work.
	var second []comment.Comment
	for i := range 300 {
		c := fx.mk("/c", comment.StatusPending, 10+i, nil)
		if i%3 == 0 {
			c = fx.mk("/c", comment.StatusApproved, 10+i, &fx.accented)
		}
		c.Body = fmt.Sprintf("Comment number %d.", i)
		second = append(second, c)
	}
	if err := bl.BulkLoad(ctx, nil, slices.Values(second)); err != nil {
		t.Fatalf("second BulkLoad: %v", err)
	}
	fx.check(t, s, append([]comment.Comment{submitted}, second...))

	t.Run("errors", func(t *testing.T) {
		orphan := fx.mk("/a", comment.StatusApproved, 2000, nil)
		orphan.ParentID, orphan.Depth = newID(), 2
		tests := []struct {
			name  string
			pages []comment.Page
			cs    []comment.Comment
			want  error
		}{
			{"existing id", nil, []comment.Comment{fx.top}, comment.ErrConflict},
			{"unknown site", []comment.Page{{SiteID: "no-such-site", Key: "/a"}}, nil, comment.ErrNotFound},
			{"unknown page", nil, []comment.Comment{fx.mk("/no-such-page", comment.StatusApproved, 2000, nil)}, comment.ErrNotFound},
			{"unknown parent", nil, []comment.Comment{orphan}, comment.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := bl.BulkLoad(ctx, tt.pages, slices.Values(tt.cs))
				if !errors.Is(err, tt.want) {
					t.Errorf("BulkLoad error = %v, want %v", err, tt.want)
				}
			})
		}
	})
}
