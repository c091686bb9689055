package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// checkRules reports how the site's rules, lists and version differ from
// the wanted ones. Settings must come back byte for byte, times as equal
// instants in UTC.
func checkRules(t *testing.T, s comment.Store, siteID string, wantDoc comment.RulesDoc, wantLists comment.SiteLists) {
	t.Helper()
	ctx := ctxFor(t)
	doc, lists, err := s.Rules(ctx, siteID)
	if err != nil {
		t.Fatalf("Rules: %v", err)
	}
	wantDoc.SiteID = siteID
	if !doc.UpdatedAt.Equal(wantDoc.UpdatedAt) || (!doc.UpdatedAt.IsZero() && doc.UpdatedAt.Location() != time.UTC) {
		t.Errorf("Rules UpdatedAt = %v, want %v in UTC", doc.UpdatedAt, wantDoc.UpdatedAt)
	}
	if !bytes.Equal(doc.Settings, wantDoc.Settings) {
		t.Errorf("Rules Settings = %q, want %q", doc.Settings, wantDoc.Settings)
	}
	if doc.SiteID != wantDoc.SiteID || doc.Version != wantDoc.Version || doc.UpdatedBy != wantDoc.UpdatedBy {
		t.Errorf("Rules doc = %+v, want %+v", doc, wantDoc)
	}
	for _, l := range []struct {
		name      string
		got, want []string
	}{
		{"TrustedEmails", lists.TrustedEmails, wantLists.TrustedEmails},
		{"BlockedEmails", lists.BlockedEmails, wantLists.BlockedEmails},
		{"BlockedIPs", lists.BlockedIPs, wantLists.BlockedIPs},
	} {
		if !slices.Equal(l.got, l.want) {
			t.Errorf("Rules %s = %q, want %q", l.name, l.got, l.want)
		}
	}
	v, err := s.RulesVersion(ctx, siteID)
	if err != nil {
		t.Fatalf("RulesVersion: %v", err)
	}
	if v != wantDoc.Version {
		t.Errorf("RulesVersion = %d, want %d", v, wantDoc.Version)
	}
}

func testRules(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	// Key order, spacing and escapes that a JSON column would not keep.
	settings1 := []byte(`{"z": 1,  "a": {"b":[true, null]}, "s": "\u00e9\n"}`)
	settings2 := []byte("{\n  \"links\": 3\n}\n")
	doc1 := comment.RulesDoc{SiteID: site.ID, Settings: settings1, UpdatedBy: "alice", UpdatedAt: t1}
	doc2 := comment.RulesDoc{SiteID: site.ID, Settings: settings2, UpdatedBy: "bob", UpdatedAt: t2}
	lists1 := comment.SiteLists{
		TrustedEmails: []string{"zoe@example.org", "amy@example.org", "max@example.org", "amy@example.org"},
		BlockedEmails: []string{"spam@example.net"},
		BlockedIPs:    []string{"192.0.2.0/24", "10.0.0.1", "2001:db8::/32"},
	}
	sorted1 := comment.SiteLists{
		TrustedEmails: []string{"amy@example.org", "max@example.org", "zoe@example.org"},
		BlockedEmails: []string{"spam@example.net"},
		BlockedIPs:    []string{"10.0.0.1", "192.0.2.0/24", "2001:db8::/32"},
	}
	lists2 := comment.SiteLists{
		TrustedEmails: []string{"new@example.org", "amy@example.org"},
		BlockedIPs:    []string{"10.0.0.1"},
	}
	sorted2 := comment.SiteLists{
		TrustedEmails: []string{"amy@example.org", "new@example.org"},
		BlockedIPs:    []string{"10.0.0.1"},
	}
	withIP := sorted2
	withIP.BlockedIPs = []string{"10.0.0.1", "198.51.100.7"}
	ipEntry := comment.ListEntry{SiteID: site.ID, List: comment.ListBlockedIPs, Value: "198.51.100.7", CreatedBy: "carol", CreatedAt: t2}
	saved1 := comment.RulesDoc{Version: 1, Settings: settings1, UpdatedBy: "alice", UpdatedAt: t1}
	saved2 := comment.RulesDoc{Version: 2, Settings: settings2, UpdatedBy: "bob", UpdatedAt: t2}
	bumped := func(doc comment.RulesDoc, v int) comment.RulesDoc { doc.Version = v; return doc }
	entry := func(list, value, by string, at time.Time) comment.ListEntry {
		return comment.ListEntry{SiteID: site.ID, List: list, Value: value, CreatedBy: by, CreatedAt: at}
	}

	steps := []struct {
		name        string
		act         func() (int, error) // the version SaveRules returns; nothing for other actions
		wantErr     error
		wantVersion int // returned by act, if not 0
		wantDoc     comment.RulesDoc
		wantLists   comment.SiteLists
		wantEntries []comment.ListEntry // the trusted emails, if not nil
	}{
		{"fresh site", func() (int, error) { return 0, nil }, nil, 0,
			comment.RulesDoc{}, comment.SiteLists{}, nil},
		{"first save", func() (int, error) { return s.SaveRules(ctx, doc1, lists1, 0) }, nil, 1,
			saved1, sorted1, []comment.ListEntry{
				entry(comment.ListTrustedEmails, "amy@example.org", "alice", t1),
				entry(comment.ListTrustedEmails, "max@example.org", "alice", t1),
				entry(comment.ListTrustedEmails, "zoe@example.org", "alice", t1),
			}},
		{"stale version changes nothing", func() (int, error) { return s.SaveRules(ctx, doc2, lists2, 0) }, comment.ErrConflict, 0,
			saved1, sorted1, nil},
		{"version from the future changes nothing", func() (int, error) { return s.SaveRules(ctx, doc2, lists2, 2) }, comment.ErrConflict, 0,
			saved1, sorted1, nil},
		{"second save replaces the lists", func() (int, error) { return s.SaveRules(ctx, doc2, lists2, 1) }, nil, 2,
			saved2, sorted2, []comment.ListEntry{
				entry(comment.ListTrustedEmails, "amy@example.org", "alice", t1), // kept as first added
				entry(comment.ListTrustedEmails, "new@example.org", "bob", t2),
			}},
		{"adding a new entry increments the version", func() (int, error) { return 0, s.AddListEntry(ctx, ipEntry) }, nil, 0,
			bumped(saved2, 3), withIP, nil},
		{"adding it again does not", func() (int, error) { return 0, s.AddListEntry(ctx, ipEntry) }, nil, 0,
			bumped(saved2, 3), withIP, nil},
		{"deleting an entry increments the version", func() (int, error) {
			return 0, s.DeleteListEntry(ctx, site.ID, ipEntry.List, ipEntry.Value)
		}, nil, 0, bumped(saved2, 4), sorted2, nil},
		{"deleting it again does not", func() (int, error) {
			return 0, s.DeleteListEntry(ctx, site.ID, ipEntry.List, ipEntry.Value)
		}, nil, 0, bumped(saved2, 4), sorted2, nil},
		{"deleting from another list does not", func() (int, error) {
			return 0, s.DeleteListEntry(ctx, site.ID, comment.ListBlockedEmails, "amy@example.org")
		}, nil, 0, bumped(saved2, 4), sorted2, nil},
		{"save after list changes", func() (int, error) { return s.SaveRules(ctx, doc1, comment.SiteLists{}, 4) }, nil, 5,
			bumped(saved1, 5), comment.SiteLists{}, []comment.ListEntry{}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			v, err := st.act()
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("error = %v, want none", err)
			case st.wantErr != nil && !errors.Is(err, st.wantErr):
				t.Fatalf("error = %v, want %v", err, st.wantErr)
			}
			if v != st.wantVersion {
				t.Errorf("SaveRules = %d, want %d", v, st.wantVersion)
			}
			checkRules(t, s, site.ID, st.wantDoc, st.wantLists)
			if st.wantEntries != nil {
				got, err := s.ListEntries(ctx, site.ID, comment.ListTrustedEmails)
				if err != nil {
					t.Fatalf("ListEntries: %v", err)
				}
				checkListEntries(t, comment.ListTrustedEmails, got, st.wantEntries)
			}
		})
	}

	t.Run("a list change before any save", func(t *testing.T) {
		other := mustSite(t, s)
		e := comment.ListEntry{SiteID: other.ID, List: comment.ListTrustedEmails, Value: "amy@example.org", CreatedBy: "carol", CreatedAt: t0}
		if err := s.AddListEntry(ctx, e); err != nil {
			t.Fatalf("AddListEntry: %v", err)
		}
		checkRules(t, s, other.ID, comment.RulesDoc{Version: 1}, comment.SiteLists{TrustedEmails: []string{e.Value}})
		v, err := s.SaveRules(ctx, comment.RulesDoc{SiteID: other.ID, Settings: settings2, UpdatedBy: "dan", UpdatedAt: t1},
			comment.SiteLists{TrustedEmails: []string{e.Value}}, 1)
		if err != nil || v != 2 {
			t.Fatalf("SaveRules = %d, %v; want 2, nil", v, err)
		}
		checkRules(t, s, other.ID, comment.RulesDoc{Version: 2, Settings: settings2, UpdatedBy: "dan", UpdatedAt: t1},
			comment.SiteLists{TrustedEmails: []string{e.Value}})
	})
}

func testRulesErrors(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	const unknown = "no-such-site"
	doc := comment.RulesDoc{SiteID: site.ID, Settings: []byte(`{"links":2}`), UpdatedBy: "alice", UpdatedAt: t0}
	lists := comment.SiteLists{BlockedIPs: []string{"192.0.2.1"}}
	if _, err := s.SaveRules(ctx, doc, lists, 0); err != nil {
		t.Fatalf("SaveRules: %v", err)
	}
	unknownDoc := doc
	unknownDoc.SiteID = unknown

	t.Run("unknown site", func(t *testing.T) {
		tests := []struct {
			name string
			call func() error
		}{
			{"Rules", func() error { _, _, err := s.Rules(ctx, unknown); return err }},
			{"SaveRules", func() error { _, err := s.SaveRules(ctx, unknownDoc, lists, 0); return err }},
			{"RulesVersion", func() error { _, err := s.RulesVersion(ctx, unknown); return err }},
			{"AddRuleHits", func() error { return s.AddRuleHits(ctx, unknown, []string{"links"}) }},
			{"AddRuleHits without rules", func() error { return s.AddRuleHits(ctx, unknown, nil) }},
			{"AddListEntry", func() error {
				return s.AddListEntry(ctx, comment.ListEntry{SiteID: unknown, List: comment.ListBlockedIPs, Value: "192.0.2.1"})
			}},
			{"Rules of an id no database can hold", func() error { _, _, err := s.Rules(ctx, "\xff\x00"); return err }},
			{"RulesVersion of an id no database can hold", func() error { _, err := s.RulesVersion(ctx, "\xff\x00"); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, comment.ErrNotFound) {
					t.Errorf("%s error = %v, want ErrNotFound", tt.name, err)
				}
			})
		}
	})

	t.Run("unknown site, nothing to report", func(t *testing.T) {
		if err := s.DeleteListEntry(ctx, unknown, comment.ListBlockedIPs, "192.0.2.1"); err != nil {
			t.Errorf("DeleteListEntry error = %v, want none", err)
		}
		if hits, err := s.RuleHits(ctx, unknown); err != nil || len(hits) != 0 {
			t.Errorf("RuleHits = %v, %v; want none", hits, err)
		}
		if dup, err := s.HasDuplicate(ctx, unknown, "/p", "ada@example.org", "Nice post."); err != nil || dup {
			t.Errorf("HasDuplicate = %v, %v; want false", dup, err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name     string
			settings []byte
			lists    comment.SiteLists
		}{
			{"settings not JSON", []byte(`{"links":`), lists},
			{"settings not UTF-8", []byte("{\"a\":\"\xff\"}"), lists},
			{"empty trusted email", doc.Settings, comment.SiteLists{TrustedEmails: []string{"a@example.org", ""}}},
			{"empty blocked IP", doc.Settings, comment.SiteLists{BlockedIPs: []string{""}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d := doc
				d.Settings = tt.settings
				v, err := s.SaveRules(ctx, d, tt.lists, 1)
				var ve *comment.ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("SaveRules = %d, %v; want a *comment.ValidationError", v, err)
				}
			})
		}
		checkRules(t, s, site.ID, comment.RulesDoc{Version: 1, Settings: doc.Settings, UpdatedBy: "alice", UpdatedAt: t0}, lists)
	})
}

func testConcurrentSaveRules(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	// Round 1 races to create the site's rules row, round 2 to update it.
	for round, expect := range []int{0, 1} {
		t.Run(fmt.Sprintf("over version %d", expect), func(t *testing.T) {
			const n = 10
			var (
				wg       sync.WaitGroup
				start    = make(chan struct{})
				versions = make([]int, n)
				errs     = make([]error, n)
			)
			for i := range n {
				wg.Go(func() {
					<-start
					doc := comment.RulesDoc{
						SiteID:    site.ID,
						Settings:  fmt.Appendf(nil, `{"writer":%d}`, i),
						UpdatedBy: fmt.Sprintf("writer %d", i),
						UpdatedAt: t0.Add(time.Duration(round*n+i) * time.Second),
					}
					lists := comment.SiteLists{BlockedIPs: []string{fmt.Sprintf("192.0.2.%d", i)}}
					versions[i], errs[i] = s.SaveRules(ctx, doc, lists, expect)
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("writers %d and %d both saved over version %d", winner, i, expect)
				case err == nil:
					winner = i
					if versions[i] != expect+1 {
						t.Errorf("writer %d got version %d, want %d", i, versions[i], expect+1)
					}
				case !errors.Is(err, comment.ErrConflict):
					t.Errorf("writer %d error = %v, want ErrConflict", i, err)
				}
			}
			if winner < 0 {
				t.Fatal("no writer saved")
			}
			checkRules(t, s, site.ID, comment.RulesDoc{
				Version:   expect + 1,
				Settings:  fmt.Appendf(nil, `{"writer":%d}`, winner),
				UpdatedBy: fmt.Sprintf("writer %d", winner),
				UpdatedAt: t0.Add(time.Duration(round*n+winner) * time.Second),
			}, comment.SiteLists{BlockedIPs: []string{fmt.Sprintf("192.0.2.%d", winner)}})
		})
	}
}

func testRuleHits(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	withReasons := func(siteID string, rules ...string) comment.Comment {
		c := newComment(siteID, "/hits", t0)
		for _, r := range rules {
			c.Reasons = append(c.Reasons, comment.Reason{Rule: r, Detail: "matched " + r})
		}
		return c
	}
	first := withReasons(site.ID, "a", "a", "b")
	steps := []struct {
		name      string
		act       func() error
		wantErr   error
		want      map[string]int // the site's hits
		wantOther map[string]int
	}{
		{"fresh site", func() error { return nil }, nil, map[string]int{}, map[string]int{}},
		{"a comment counts each rule once", func() error {
			return s.CreateComment(ctx, first, comment.Page{})
		}, nil, map[string]int{"a": 1, "b": 1}, map[string]int{}},
		{"a second comment", func() error {
			return s.CreateComment(ctx, withReasons(site.ID, "a", ""), comment.Page{})
		}, nil, map[string]int{"a": 2, "b": 1}, map[string]int{}},
		{"a comment without reasons", func() error {
			return s.CreateComment(ctx, withReasons(site.ID), comment.Page{})
		}, nil, map[string]int{"a": 2, "b": 1}, map[string]int{}},
		{"a comment not stored counts nothing", func() error {
			again := withReasons(site.ID, "a", "c")
			again.ID = first.ID
			return s.CreateComment(ctx, again, comment.Page{})
		}, comment.ErrConflict, map[string]int{"a": 2, "b": 1}, map[string]int{}},
		{"refused submissions", func() error {
			return s.AddRuleHits(ctx, site.ID, []string{"c", "c", "", "a"})
		}, nil, map[string]int{"a": 3, "b": 1, "c": 1}, map[string]int{}},
		{"no rules", func() error { return s.AddRuleHits(ctx, site.ID, nil) },
			nil, map[string]int{"a": 3, "b": 1, "c": 1}, map[string]int{}},
		{"sites are separate", func() error {
			return s.CreateComment(ctx, withReasons(other.ID, "b", "a"), comment.Page{})
		}, nil, map[string]int{"a": 3, "b": 1, "c": 1}, map[string]int{"a": 1, "b": 1}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.act()
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("error = %v, want none", err)
			case st.wantErr != nil && !errors.Is(err, st.wantErr):
				t.Fatalf("error = %v, want %v", err, st.wantErr)
			}
			for _, c := range []struct {
				siteID string
				want   map[string]int
			}{{site.ID, st.want}, {other.ID, st.wantOther}} {
				got, err := s.RuleHits(ctx, c.siteID)
				if err != nil {
					t.Fatalf("RuleHits: %v", err)
				}
				if got == nil || !maps.Equal(got, c.want) {
					t.Errorf("RuleHits(%s) = %#v, want %v", c.siteID, got, c.want)
				}
			}
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		busy := mustSite(t, s)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			// Opposite orders, so that writers locking rows in the order
			// given would deadlock.
			rules := []string{"x", "y", "z"}
			if i%2 == 1 {
				slices.Reverse(rules)
			}
			wg.Go(func() {
				if i%4 < 2 {
					errs[i] = s.CreateComment(ctx, withReasons(busy.ID, rules...), comment.Page{})
				} else {
					errs[i] = s.AddRuleHits(ctx, busy.ID, rules)
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
		got, err := s.RuleHits(ctx, busy.ID)
		if err != nil {
			t.Fatalf("RuleHits: %v", err)
		}
		if want := map[string]int{"x": n, "y": n, "z": n}; !maps.Equal(got, want) {
			t.Errorf("RuleHits = %v, want %v", got, want)
		}
	})
}

func testHasDuplicate(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	create := func(siteID, key, email, body string, status comment.Status) {
		t.Helper()
		c := newComment(siteID, key, t0)
		c.AuthorEmail, c.Body, c.Status = email, body, status
		mustCreate(t, s, c)
	}
	create(site.ID, "/p", "Ada@Example.org", "Nice post.", comment.StatusPending)
	create(site.ID, "/p", "ada@example.org", "Held as spam.", comment.StatusSpam)
	create(site.ID, "/p", "ada@example.org", "Deleted since.", comment.StatusDeleted)
	create(other.ID, "/other-site", "ada@example.org", "Elsewhere.", comment.StatusApproved)

	tests := []struct {
		name                  string
		site, key, email, txt string
		want                  bool
	}{
		{"same", site.ID, "/p", "Ada@Example.org", "Nice post.", true},
		{"email in another case", site.ID, "/p", "ADA@example.ORG", "Nice post.", true},
		{"spam counts", site.ID, "/p", "ada@example.org", "Held as spam.", true},
		{"deleted does not count", site.ID, "/p", "ada@example.org", "Deleted since.", false},
		{"other page", site.ID, "/q", "ada@example.org", "Nice post.", false},
		{"other body", site.ID, "/p", "ada@example.org", "Nice post!", false},
		{"body in another case", site.ID, "/p", "ada@example.org", "nice post.", false},
		{"other author", site.ID, "/p", "bob@example.org", "Nice post.", false},
		{"other site", other.ID, "/p", "ada@example.org", "Nice post.", false},
		{"the other site's own comment", other.ID, "/other-site", "Ada@example.org", "Elsewhere.", true},
		{"values no database can hold", site.ID, "/p\x00", "ada@example.org", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.HasDuplicate(ctx, tt.site, tt.key, tt.email, tt.txt)
			if err != nil {
				t.Fatalf("HasDuplicate: %v", err)
			}
			if got != tt.want {
				t.Errorf("HasDuplicate(%q, %q, %q, %q) = %v, want %v", tt.site, tt.key, tt.email, tt.txt, got, tt.want)
			}
		})
	}
}
