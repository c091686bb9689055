package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

func testEditComment(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	c := newComment(site.ID, "/edited", t0)
	c.AuthorName, c.AuthorWebsite = "Ada", "https://ada.example"
	c.Body, c.BodyHTML = "Original harbour words", "<p>Original harbour words</p>"
	mustCreate(t, s, c)
	approvedAt := t0.Add(time.Minute)
	if _, err := s.SetStatus(ctx, comment.StatusChange{ID: c.ID, To: comment.StatusApproved, Actor: "mod", Action: "approve", At: approvedAt}); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	c.Status, c.UpdatedAt = comment.StatusApproved, approvedAt

	t.Run("never edited", func(t *testing.T) {
		revs, err := s.Revisions(ctx, c.ID)
		if err != nil {
			t.Fatalf("Revisions: %v", err)
		}
		if len(revs) != 0 {
			t.Errorf("Revisions = %+v, want none", revs)
		}
	})

	wantHistory := []comment.Event{
		{CommentID: c.ID, Actor: "system", Action: "submit", ToStatus: comment.StatusPending, At: t0},
		{CommentID: c.ID, Actor: "mod", Action: "approve", FromStatus: comment.StatusPending, ToStatus: comment.StatusApproved, At: approvedAt},
	}
	var wantRevs []comment.Revision
	steps := []struct {
		name     string
		edit     comment.Edit
		found    []string // words that must now find the comment
		notFound []string // words that must not
	}{
		{
			name: "first edit",
			edit: comment.Edit{ID: c.ID, AuthorName: "Ada L.", AuthorWebsite: "", Body: "Edited lighthouse words",
				BodyHTML: "<p>Edited lighthouse words</p>", Actor: "mod@example.org", At: t0.Add(time.Hour)},
			found:    []string{"lighthouse", "edited words"},
			notFound: []string{"harbour", "original"},
		},
		{
			name: "second edit",
			edit: comment.Edit{ID: c.ID, AuthorName: "Ada Lovelace", AuthorWebsite: "https://ada.example/new", Body: "Final beacon words 🎉",
				BodyHTML: "<p>Final beacon words 🎉</p>", Actor: "owner@example.org", At: t0.Add(2 * time.Hour)},
			found:    []string{"beacon", "lovelace beacon"},
			notFound: []string{"lighthouse", "harbour", "edited"},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantRevs = append(wantRevs, comment.Revision{
				CommentID: c.ID, AuthorName: c.AuthorName, AuthorWebsite: c.AuthorWebsite, Body: c.Body,
				EditedBy: st.edit.Actor, EditedAt: st.edit.At,
			})
			wantHistory = append(wantHistory, comment.Event{
				CommentID: c.ID, Actor: st.edit.Actor, Action: "edit",
				FromStatus: comment.StatusApproved, ToStatus: comment.StatusApproved, At: st.edit.At,
			})
			c.AuthorName, c.AuthorWebsite, c.Body, c.BodyHTML = st.edit.AuthorName, st.edit.AuthorWebsite, st.edit.Body, st.edit.BodyHTML
			c.UpdatedAt = st.edit.At

			got, err := s.EditComment(ctx, st.edit)
			if err != nil {
				t.Fatalf("EditComment: %v", err)
			}
			checkSameComment(t, got, c)
			stored, err := s.Comment(ctx, c.ID)
			if err != nil {
				t.Fatalf("Comment: %v", err)
			}
			checkSameComment(t, stored, c)

			revs, err := s.Revisions(ctx, c.ID)
			if err != nil {
				t.Fatalf("Revisions: %v", err)
			}
			checkRevisions(t, revs, wantRevs)
			history, err := s.History(ctx, c.ID)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			checkEvents(t, history, wantHistory)

			for _, q := range append(slices.Clone(st.found), st.notFound...) {
				got, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusApproved, Query: q, Limit: 10})
				if err != nil {
					t.Fatalf("List(%q): %v", q, err)
				}
				want := []string(nil)
				if slices.Contains(st.found, q) {
					want = []string{c.ID}
				}
				if !slices.Equal(ids(got), want) {
					t.Errorf("List(query %q) ids = %q, want %q", q, ids(got), want)
				}
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{newID(), "", "x' OR '1'='1", "\xff\xfe", "a\x00b"} {
			_, err := s.EditComment(ctx, comment.Edit{ID: id, AuthorName: "X", Body: "x", BodyHTML: "<p>x</p>", Actor: "mod", At: t0})
			if !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("EditComment(%q) error = %v, want ErrNotFound", id, err)
			}
			if _, err := s.Revisions(ctx, id); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("Revisions(%q) error = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func checkRevisions(t *testing.T, got, want []comment.Revision) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d revisions, want %d: %+v", len(got), len(want), got)
	}
	for i, r := range got {
		w := want[i]
		if !r.EditedAt.Equal(w.EditedAt) || r.EditedAt.Location() != time.UTC {
			t.Errorf("revision %d EditedAt = %v, want %v in UTC", i, r.EditedAt, w.EditedAt)
		}
		r.EditedAt, w.EditedAt = time.Time{}, time.Time{}
		if r != w {
			t.Errorf("revision %d = %+v, want %+v", i, r, w)
		}
	}
}

func checkEvents(t *testing.T, got, want []comment.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		w := want[i]
		if !e.At.Equal(w.At) || e.At.Location() != time.UTC {
			t.Errorf("event %d At = %v, want %v in UTC", i, e.At, w.At)
		}
		e.At, w.At = time.Time{}, time.Time{}
		if e != w {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

// manyIDs returns n new ids that no comment has.
func manyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = newID()
	}
	return out
}

func testCommentsByID(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	top := mustCreate(t, s, newComment(site.ID, "/a", t0))
	reply := newComment(site.ID, "/a", t0.Add(time.Minute))
	reply.ParentID, reply.Depth = top.ID, 2
	mustCreate(t, s, reply)
	other := mustCreate(t, s, newComment(site.ID, "/b", t0.Add(2*time.Minute)))
	byID := map[string]comment.Comment{top.ID: top, reply.ID: reply, other.ID: other}

	long := manyIDs(1200) // more than one batch
	long[7], long[600], long[1199] = top.ID, reply.ID, other.ID
	tests := []struct {
		name string
		ids  []string
		want []string
	}{
		{"all exist", []string{reply.ID, top.ID, other.ID}, []string{top.ID, reply.ID, other.ID}},
		{"some missing", []string{newID(), top.ID, newID()}, []string{top.ID}},
		{"duplicates", []string{top.ID, top.ID, other.ID, top.ID}, []string{top.ID, other.ID}},
		{"none exist", manyIDs(3), nil},
		{"no ids", nil, nil},
		{"hostile ids", []string{"", "%", "x' OR '1'='1", "\xff\xfe", "a\x00b", strings.Repeat("9", 5000), reply.ID}, []string{reply.ID}},
		{"more than one batch", long, []string{top.ID, reply.ID, other.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CommentsByID(ctx, tt.ids)
			if err != nil {
				t.Fatalf("CommentsByID: %v", err)
			}
			if gotIDs, want := slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(tt.want)); !slices.Equal(gotIDs, want) {
				t.Fatalf("CommentsByID ids = %q, want %q", gotIDs, want)
			}
			for id, c := range got {
				checkSameComment(t, c, byID[id])
			}
		})
	}
}

func testPagesByRef(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b := mustSite(t, s), mustSite(t, s)
	pages := []comment.Page{
		{SiteID: a.ID, Key: "/one", URL: "https://blog.example/one", Title: "One"},
		{SiteID: a.ID, Key: "/two"},
		{SiteID: b.ID, Key: "/one", URL: "https://other.example/one", Title: "Other one"},
	}
	for i, p := range pages {
		c := newComment(p.SiteID, p.Key, t0.Add(time.Duration(i)*time.Minute))
		if err := s.CreateComment(ctx, c, p); err != nil {
			t.Fatalf("CreateComment on %+v: %v", p, err)
		}
	}
	ref := func(p comment.Page) comment.PageRef { return comment.PageRef{SiteID: p.SiteID, Key: p.Key} }
	long := make([]comment.PageRef, 1200) // more than one batch
	for i := range long {
		long[i] = comment.PageRef{SiteID: a.ID, Key: fmt.Sprintf("/missing-%d", i)}
	}
	long[3], long[700], long[1100] = ref(pages[0]), ref(pages[1]), ref(pages[2])

	tests := []struct {
		name string
		refs []comment.PageRef
		want []comment.Page
	}{
		{"all exist", []comment.PageRef{ref(pages[2]), ref(pages[0]), ref(pages[1])}, pages},
		{"same key, other site", []comment.PageRef{{SiteID: b.ID, Key: "/one"}, {SiteID: b.ID, Key: "/two"}}, pages[2:]},
		{"unknown site and key", []comment.PageRef{{SiteID: "no-such-site", Key: "/one"}, {SiteID: a.ID, Key: "/three"}}, nil},
		{"duplicates", []comment.PageRef{ref(pages[0]), ref(pages[0]), ref(pages[0])}, pages[:1]},
		{"no refs", nil, nil},
		{"hostile keys", []comment.PageRef{{SiteID: a.ID, Key: "\xff"}, {SiteID: "a\x00b", Key: "/one"}, {SiteID: a.ID, Key: "' OR 1=1 --"}, ref(pages[1])}, pages[1:2]},
		{"more than one batch", long, pages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.PagesByRef(ctx, tt.refs)
			if err != nil {
				t.Fatalf("PagesByRef: %v", err)
			}
			want := make(map[comment.PageRef]comment.Page, len(tt.want))
			for _, p := range tt.want {
				want[ref(p)] = p
			}
			if !maps.Equal(got, want) {
				t.Errorf("PagesByRef = %+v, want %+v", got, want)
			}
		})
	}
}

func testAuthorStats(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b := mustSite(t, s), mustSite(t, s)
	create := func(siteID, email string, st comment.Status, n int) {
		for i := range n {
			c := newComment(siteID, "/p", t0.Add(time.Duration(i)*time.Second))
			c.AuthorEmail, c.Status = email, st
			mustCreate(t, s, c)
		}
	}
	// The same author in several spellings; emails are kept as submitted.
	create(a.ID, "Ada@Example.org", comment.StatusPending, 2)
	create(a.ID, "ada@example.org", comment.StatusApproved, 1)
	create(a.ID, "ADA@EXAMPLE.ORG", comment.StatusSpam, 1)
	create(a.ID, "bob@example.org", comment.StatusPending, 1)
	create(a.ID, "bob@example.org", comment.StatusDeleted, 1)
	create(a.ID, "ZOË@Example.org", comment.StatusRejected, 2)
	create(b.ID, "ada@example.org", comment.StatusApproved, 3)

	adaA := comment.AuthorKey{SiteID: a.ID, Email: "ada@example.org"}
	adaB := comment.AuthorKey{SiteID: b.ID, Email: "ada@example.org"}
	bobA := comment.AuthorKey{SiteID: a.ID, Email: "bob@example.org"}
	bobB := comment.AuthorKey{SiteID: b.ID, Email: "bob@example.org"}
	zoeA := comment.AuthorKey{SiteID: a.ID, Email: "zoë@example.org"}
	nobody := comment.AuthorKey{SiteID: a.ID, Email: "nobody@example.org"}
	adaStats := comment.AuthorStats{comment.StatusPending: 2, comment.StatusApproved: 1, comment.StatusSpam: 1}
	long := make([]comment.AuthorKey, 1200) // more than one batch
	for i := range long {
		long[i] = comment.AuthorKey{SiteID: a.ID, Email: fmt.Sprintf("x%d@example.org", i)}
	}
	long[10], long[900] = adaA, adaB

	tests := []struct {
		name string
		keys []comment.AuthorKey
		want map[comment.AuthorKey]comment.AuthorStats
	}{
		{"statuses of one author, any case", []comment.AuthorKey{adaA}, map[comment.AuthorKey]comment.AuthorStats{adaA: adaStats}},
		{"counted per site", []comment.AuthorKey{adaA, adaB, bobA, bobB}, map[comment.AuthorKey]comment.AuthorStats{
			adaA: adaStats,
			adaB: {comment.StatusApproved: 3},
			bobA: {comment.StatusPending: 1, comment.StatusDeleted: 1},
		}},
		{"non-ASCII email stored upper-case", []comment.AuthorKey{zoeA}, map[comment.AuthorKey]comment.AuthorStats{zoeA: {comment.StatusRejected: 2}}},
		{"no comments", []comment.AuthorKey{nobody, {SiteID: "no-such-site", Email: "ada@example.org"}}, map[comment.AuthorKey]comment.AuthorStats{}},
		{"duplicates count once", []comment.AuthorKey{bobA, bobA, bobA}, map[comment.AuthorKey]comment.AuthorStats{bobA: {comment.StatusPending: 1, comment.StatusDeleted: 1}}},
		{"no keys", nil, map[comment.AuthorKey]comment.AuthorStats{}},
		{"hostile keys", []comment.AuthorKey{{SiteID: a.ID, Email: "\xff"}, {SiteID: a.ID, Email: "%"}, {SiteID: "a\x00", Email: "x"}}, map[comment.AuthorKey]comment.AuthorStats{}},
		{"more than one batch", long, map[comment.AuthorKey]comment.AuthorStats{adaA: adaStats, adaB: {comment.StatusApproved: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AuthorStats(ctx, tt.keys)
			if err != nil {
				t.Fatalf("AuthorStats: %v", err)
			}
			if !maps.EqualFunc(got, tt.want, func(x, y comment.AuthorStats) bool { return maps.Equal(x, y) }) {
				t.Errorf("AuthorStats = %v, want %v", got, tt.want)
			}
		})
	}
}

func testListEntries(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	entry := func(siteID, list, value string, at time.Time) comment.ListEntry {
		return comment.ListEntry{SiteID: siteID, List: list, Value: value, CreatedBy: "mod@example.org", CreatedAt: at}
	}
	trustedB := entry(site.ID, comment.ListTrustedEmails, "b@example.org", t0)
	trustedA := entry(site.ID, comment.ListTrustedEmails, "a@example.org", t0.Add(time.Minute))
	trustedZ := entry(site.ID, comment.ListTrustedEmails, "z@example.org", t0.Add(2*time.Minute))
	blockedA := entry(site.ID, comment.ListBlockedEmails, "a@example.org", t0.Add(3*time.Minute))
	ipV6 := entry(site.ID, comment.ListBlockedIPs, "2001:db8::/32", t0)
	ip10 := entry(site.ID, comment.ListBlockedIPs, "10.0.0.1", t0)
	ip192 := entry(site.ID, comment.ListBlockedIPs, "192.0.2.1", t0)
	otherSite := entry(other.ID, comment.ListTrustedEmails, "a@example.org", t0)
	again := trustedA
	again.CreatedBy, again.CreatedAt = "someone else", t0.Add(time.Hour)

	type want map[string][]comment.ListEntry // list of site -> entries
	steps := []struct {
		name      string
		add       []comment.ListEntry
		delete    []comment.ListEntry
		want      want                // the site's lists
		wantOther []comment.ListEntry // the other site's trusted emails
	}{
		{"entries ordered by value", []comment.ListEntry{trustedZ, trustedB, trustedA, ip192, ipV6, ip10}, nil, want{
			comment.ListTrustedEmails: {trustedA, trustedB, trustedZ},
			comment.ListBlockedIPs:    {ip10, ip192, ipV6},
		}, nil},
		{"lists and sites are separate", []comment.ListEntry{blockedA, otherSite}, nil, want{
			comment.ListTrustedEmails: {trustedA, trustedB, trustedZ},
			comment.ListBlockedEmails: {blockedA},
			comment.ListBlockedIPs:    {ip10, ip192, ipV6},
		}, []comment.ListEntry{otherSite}},
		{"adding again keeps the first entry", []comment.ListEntry{again, again}, nil, want{
			comment.ListTrustedEmails: {trustedA, trustedB, trustedZ},
			comment.ListBlockedEmails: {blockedA},
			comment.ListBlockedIPs:    {ip10, ip192, ipV6},
		}, []comment.ListEntry{otherSite}},
		{"delete, twice, and a value never added", nil, []comment.ListEntry{trustedA, trustedA, entry(site.ID, comment.ListBlockedIPs, "203.0.113.9", t0), entry("no-such-site", comment.ListBlockedIPs, "x", t0)}, want{
			comment.ListTrustedEmails: {trustedB, trustedZ},
			comment.ListBlockedEmails: {blockedA},
			comment.ListBlockedIPs:    {ip10, ip192, ipV6},
		}, []comment.ListEntry{otherSite}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, e := range st.add {
				if err := s.AddListEntry(ctx, e); err != nil {
					t.Fatalf("AddListEntry(%+v): %v", e, err)
				}
			}
			for _, e := range st.delete {
				if err := s.DeleteListEntry(ctx, e.SiteID, e.List, e.Value); err != nil {
					t.Fatalf("DeleteListEntry(%+v): %v", e, err)
				}
			}
			for _, list := range []string{comment.ListTrustedEmails, comment.ListBlockedEmails, comment.ListBlockedIPs} {
				got, err := s.ListEntries(ctx, site.ID, list)
				if err != nil {
					t.Fatalf("ListEntries(%s): %v", list, err)
				}
				checkListEntries(t, list, got, st.want[list])
			}
			got, err := s.ListEntries(ctx, other.ID, comment.ListTrustedEmails)
			if err != nil {
				t.Fatalf("ListEntries(other site): %v", err)
			}
			checkListEntries(t, "other site's "+comment.ListTrustedEmails, got, st.wantOther)
		})
	}

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			e    comment.ListEntry
			want error // nil: a *comment.ValidationError
		}{
			{"unknown site", entry("no-such-site", comment.ListBlockedIPs, "192.0.2.1", t0), comment.ErrNotFound},
			{"unknown list", entry(site.ID, "allowed_ip", "192.0.2.1", t0), nil},
			{"no value", entry(site.ID, comment.ListBlockedIPs, "", t0), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.AddListEntry(ctx, tt.e)
				var ve *comment.ValidationError
				switch {
				case tt.want == nil && !errors.As(err, &ve):
					t.Errorf("AddListEntry error = %v, want a *comment.ValidationError", err)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Errorf("AddListEntry error = %v, want %v", err, tt.want)
				}
			})
		}
	})

	t.Run("nothing listed", func(t *testing.T) {
		for _, k := range [][2]string{{"no-such-site", comment.ListBlockedIPs}, {site.ID, "allowed_ip"}, {"\xff", comment.ListBlockedIPs}} {
			if got, err := s.ListEntries(ctx, k[0], k[1]); err != nil || len(got) != 0 {
				t.Errorf("ListEntries(%q, %q) = %+v, %v; want none", k[0], k[1], got, err)
			}
		}
	})
}

func checkListEntries(t *testing.T, list string, got, want []comment.ListEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %+v, want %+v", list, got, want)
		return
	}
	for i, e := range got {
		w := want[i]
		if !e.CreatedAt.Equal(w.CreatedAt) || e.CreatedAt.Location() != time.UTC {
			t.Errorf("%s entry %d CreatedAt = %v, want %v in UTC", list, i, e.CreatedAt, w.CreatedAt)
		}
		e.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		if e != w {
			t.Errorf("%s entry %d = %+v, want %+v", list, i, e, w)
		}
	}
}

// filterFixture stores comments for the email, IP and word filters on two
// sites, in time order, and returns the sites and comments.
func filterFixture(t *testing.T, s comment.Store) (a, b comment.Site, cs []comment.Comment) {
	t.Helper()
	a, b = mustSite(t, s), mustSite(t, s)
	specs := []struct {
		site                  string
		email, ip, name, body string
		status                comment.Status
	}{
		/* 0 */ {a.ID, "Ada@Example.org", "192.0.2.1", "Ada", "Meet me near the harbour bridge.", comment.StatusPending},
		/* 1 */ {a.ID, "ada@example.org", "192.0.2.10", "Ada", "The bridge's lights are out; see example.com/lights", comment.StatusPending},
		/* 2 */ {a.ID, "bob@example.org", "192.0.2.1", "Bob Bridge", "Nice post.", comment.StatusPending},
		/* 3 */ {a.ID, "ADA@EXAMPLE.ORG", "2001:db8::1", "Ada", "Posts about bridges", comment.StatusPending},
		/* 4 */ {a.ID, "ada@example.org", "192.0.2.1", "Ada", "Harbour lights", comment.StatusApproved},
		/* 5 */ {b.ID, "ada@example.org", "192.0.2.1", "Ada", "Harbour bridge at night", comment.StatusPending},
		/* 6 */ {a.ID, "ZOË@Example.org", "198.51.100.7", "Zoë Ångström", "Café Größe 山田 — π≈3.14", comment.StatusPending},
	}
	for i, sp := range specs {
		c := newComment(sp.site, "/p", t0.Add(time.Duration(i)*time.Minute))
		c.AuthorEmail, c.IP, c.AuthorName, c.Body, c.Status = sp.email, sp.ip, sp.name, sp.body, sp.status
		cs = append(cs, mustCreate(t, s, c))
	}
	return a, b, cs
}

func testListFilters(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b, cs := filterFixture(t, s)
	pick := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, cs[i].ID)
		}
		return out
	}
	onA := []string{a.ID}
	pending := comment.StatusPending
	tests := []struct {
		name string
		f    comment.ListFilter
		want []string
	}{
		{"email", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "ada@example.org"}, pick(0, 1, 3)},
		{"email in another case", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "ADA@example.ORG"}, pick(0, 1, 3)},
		{"email on both sites", comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: pending, AuthorEmail: "ada@example.org"}, pick(0, 1, 3, 5)},
		{"email on every site", comment.ListFilter{Status: pending, AuthorEmail: "Ada@Example.org"}, pick(0, 1, 3, 5)},
		{"email and status", comment.ListFilter{SiteIDs: onA, Status: comment.StatusApproved, AuthorEmail: "ada@example.org"}, pick(4)},
		{"non-ASCII email in another case", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "zoë@example.org"}, pick(6)},
		{"email is not a pattern", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "%@example.org"}, nil},
		{"part of an email", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "ada"}, nil},
		{"ip", comment.ListFilter{SiteIDs: onA, Status: pending, IP: "192.0.2.1"}, pick(0, 2)},
		{"ipv6", comment.ListFilter{SiteIDs: onA, Status: pending, IP: "2001:db8::1"}, pick(3)},
		{"ip prefix", comment.ListFilter{SiteIDs: onA, Status: pending, IP: "192.0.2"}, nil},
		{"ip on every site", comment.ListFilter{Status: pending, IP: "192.0.2.1"}, pick(0, 2, 5)},
		{"word in body or name", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "bridge"}, pick(0, 1, 2)},
		{"every word must occur", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "BRIDGE harbour"}, pick(0)},
		{"words across name and body", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "bob nice"}, pick(2)},
		{"whole words only", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "post"}, pick(2)},
		{"split at punctuation", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "example"}, pick(1)},
		{"a host as words", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "example.com"}, pick(1)},
		{"digits of a decimal", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "14"}, pick(6)},
		{"non-ASCII words", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "CAFÉ größe 山田"}, pick(6)},
		{"accents are not folded", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "cafe"}, nil},
		{"non-ASCII name", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "zoë ÅNGSTRÖM"}, pick(6)},
		{"words and status", comment.ListFilter{SiteIDs: onA, Status: comment.StatusApproved, Query: "lights"}, pick(4)},
		{"words on both sites", comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: pending, Query: "harbour"}, pick(0, 5)},
		{"words and email", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "ada@example.org", Query: "bridge"}, pick(0, 1)},
		{"words and ip", comment.ListFilter{SiteIDs: onA, Status: pending, IP: "192.0.2.1", Query: "bridge"}, pick(0, 2)},
		{"email and ip", comment.ListFilter{SiteIDs: onA, Status: pending, AuthorEmail: "ada@example.org", IP: "192.0.2.1"}, pick(0)},
		{"no such word", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "lighthouse"}, nil},
		{"empty query", comment.ListFilter{SiteIDs: onA, Status: pending, Query: ""}, pick(0, 1, 2, 3, 6)},
		{"blank query", comment.ListFilter{SiteIDs: onA, Status: pending, Query: " \t\n "}, pick(0, 1, 2, 3, 6)},
		{"punctuation only", comment.ListFilter{SiteIDs: onA, Status: pending, Query: `?!.,;-*()"'`}, pick(0, 1, 2, 3, 6)},
		{"limit", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "bridge", Limit: 2}, pick(0, 1)},
		{"after a cursor", comment.ListFilter{SiteIDs: onA, Status: pending, Query: "bridge", After: &comment.Cursor{CreatedAt: cs[0].CreatedAt, ID: cs[0].ID}}, pick(1, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f.Limit == 0 {
				tt.f.Limit = 100
			}
			got, err := s.List(ctx, tt.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("List ids = %q, want %q", ids(got), tt.want)
			}
		})
	}

	t.Run("keyset paging with filters", func(t *testing.T) {
		var (
			got   []string
			after *comment.Cursor
		)
		for range 5 {
			page, err := s.List(ctx, comment.ListFilter{Status: pending, AuthorEmail: "ada@example.org", Query: "bridge harbour", After: after, Limit: 1})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			after = &comment.Cursor{CreatedAt: page[0].CreatedAt, ID: page[0].ID}
		}
		if want := pick(0, 5); !slices.Equal(got, want) {
			t.Errorf("walked ids = %q, want %q", got, want)
		}
	})
}

func testListHostileFilters(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, _, _ := filterFixture(t, s)
	list := func(t *testing.T, f comment.ListFilter) []string {
		t.Helper()
		f.SiteIDs, f.Status, f.Limit = []string{a.ID}, comment.StatusPending, 100
		got, err := s.List(ctx, f)
		if err != nil {
			t.Fatalf("List(%+q): %v", f.Query, err)
		}
		return ids(got)
	}
	manyWords := make([]string, 2000)
	for i := range manyWords {
		manyWords[i] = fmt.Sprintf("w%d", i)
	}
	longWord := strings.Repeat("bridge", 2000)

	// Each hostile query must find what the plain one beside it finds: its
	// words, and nothing read as syntax.
	tests := []struct {
		name, query, same string
	}{
		{"double quote", `"`, ""},
		{"unbalanced quote", `"bridge`, "bridge"},
		{"quoted phrase", `"harbour bridge"`, "bridge harbour"},
		{"single quote", `'`, ""},
		{"parentheses", `(bridge)`, "bridge"},
		{"empty parentheses", `()`, ""},
		{"star", `*`, ""},
		{"prefix star", `brid*`, "brid"},
		{"minus", `-`, ""},
		{"leading minus", `-nice bob`, "nice bob"},
		{"caret", `^bridge`, "bridge"},
		{"colon", `:`, ""},
		{"column filter", `body:bridge`, "body bridge"},
		{"column set", `{author_name body}: bob`, "author name body bob"},
		{"OR", `harbour OR nice`, "harbour or nice"},
		{"AND", `bridge AND harbour`, "bridge and harbour"},
		{"NOT", `nice NOT post`, "nice not post"},
		{"NEAR as a word", `NEAR`, "near"},
		{"NEAR group", `NEAR(bridge harbour)`, "near bridge harbour"},
		{"NEAR with distance", `NEAR("bridge" "harbour", 2)`, "near bridge harbour 2"},
		{"tsquery operators", `bridge & harbour | !nice <-> post:*`, "bridge harbour nice post"},
		{"tsquery or", `bridge | nice`, "bridge nice"},
		{"sql fragment", `'; DROP TABLE comments; --`, "drop table comments"},
		{"sql tautology", `x' OR '1'='1`, "x or 1 1"},
		{"percent and underscore", `%_%`, ""},
		{"backslashes", `\bridge\`, "bridge"},
		{"nul byte", "bridge\x00harbour", "bridge harbour"},
		{"only a nul byte", "\x00", ""},
		{"invalid utf-8", "\xff\xfebridge\xc3", "bridge"},
		{"only invalid utf-8", "\xff\xfe\xc3", ""},
		{"curly quotes and emoji", "“bridge” 🌉", "bridge"},
		{"very long, repeated", strings.Repeat("bridge ", 20000), "bridge"},
		{"very many words", strings.Join(manyWords, " "), "w0 w1999"},
		{"very long word", longWord, "lighthouse"},
		{"very long word and a word", "bridge " + longWord, "lighthouse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := list(t, comment.ListFilter{Query: tt.query})
			if want := list(t, comment.ListFilter{Query: tt.same}); !slices.Equal(got, want) {
				t.Errorf("List(query %.40q) ids = %q, want those of %q: %q", tt.query, got, tt.same, want)
			}
		})
	}

	t.Run("emails and IPs", func(t *testing.T) {
		for _, v := range []string{"\xff\xfe", "a\x00b", "' OR '1'='1", "%", "_", `"`, strings.Repeat("x", 10000)} {
			if got := list(t, comment.ListFilter{AuthorEmail: v}); len(got) != 0 {
				t.Errorf("List(email %.40q) = %q, want none", v, got)
			}
			if got := list(t, comment.ListFilter{IP: v}); len(got) != 0 {
				t.Errorf("List(ip %.40q) = %q, want none", v, got)
			}
		}
	})

	t.Run("still there", func(t *testing.T) {
		if got := list(t, comment.ListFilter{Query: "bridge"}); len(got) != 3 {
			t.Errorf("List(bridge) after the hostile queries = %q, want 3 comments", got)
		}
	})
}
