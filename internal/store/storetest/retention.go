package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// clientDataCase is a comment's client data as submitted and as each mode
// must leave it.
type clientDataCase struct {
	name      string
	ip        string
	reasons   []comment.Reason
	truncated string           // the IP after ClientDataTruncate
	tReasons  []comment.Reason // the reasons after ClientDataTruncate
	dReasons  []comment.Reason // the reasons after ClientDataDelete
}

func clientDataCases() []clientDataCase {
	blocked := func(d string) []comment.Reason { return []comment.Reason{{Rule: "blocked_ip", Detail: d}} }
	return []clientDataCase{
		{name: "IPv4", ip: "198.51.100.7", truncated: "198.51.100.0/24",
			reasons:  blocked("198.51.100.7 is on blocked_ips"),
			tReasons: blocked("198.51.100.0/24 is on blocked_ips"),
			dReasons: blocked("an address is on blocked_ips")},
		{name: "IPv4 in a blocked range", ip: "203.0.113.200", truncated: "203.0.113.0/24",
			reasons:  blocked("203.0.113.200 is in 203.0.0.0/16"),
			tReasons: blocked("203.0.113.0/24 is in 203.0.0.0/16"),
			dReasons: blocked("an address is in 203.0.0.0/16")},
		{name: "IPv6", ip: "2001:db8:1234:5678:9abc::1", truncated: "2001:db8:1234::/48"},
		{name: "IPv6 inside the first /48", ip: "2001:db8::ff", truncated: "2001:db8::/48"},
		{name: "IPv4-mapped IPv6", ip: "::ffff:198.51.100.77", truncated: "198.51.100.0/24",
			reasons:  blocked("198.51.100.77 is on blocked_ips"),
			tReasons: blocked("198.51.100.0/24 is on blocked_ips"),
			dReasons: blocked("an address is on blocked_ips")},
		{name: "IPv6 with a zone", ip: "fe80::1:2:3:4%eth0", truncated: "fe80::/48"},
		{name: "empty", ip: "", truncated: ""},
		{name: "not an address", ip: "unknown", truncated: ""},
		{name: "matches in the user agent and the address", ip: "192.0.2.33", truncated: "192.0.2.0/24",
			reasons: []comment.Reason{
				{Rule: "hold_words", Detail: `matched /curl|wget/ ("curl/8.5.0") in user agent, "casino" in body`},
				{Rule: "block_words", Detail: `matched /^192\.0\.2\./ ("192.0.2.33") in IP`},
				{Rule: "max_links", Detail: "3 links (the rule fires at 2 or more)"},
			},
			tReasons: []comment.Reason{
				{Rule: "hold_words", Detail: `matched /curl|wget/ in user agent, "casino" in body`},
				{Rule: "block_words", Detail: `matched /^192\.0\.2\./ in IP`},
				{Rule: "max_links", Detail: "3 links (the rule fires at 2 or more)"},
			},
		},
		{name: "a longer address that contains this one", ip: "10.1.2.3", truncated: "10.1.2.0/24",
			reasons:  blocked("110.1.2.34 and 10.1.2.3 are on blocked_ips"),
			tReasons: blocked("110.1.2.34 and 10.1.2.0/24 are on blocked_ips"),
			dReasons: blocked("110.1.2.34 and an address are on blocked_ips")},
	}
}

// expire calls ExpireClientData and fails the test on an error.
func expire(t *testing.T, s comment.Store, before time.Time, mode comment.ClientDataMode, limit int) int {
	t.Helper()
	n, err := s.ExpireClientData(ctxFor(t), before, mode, limit)
	if err != nil {
		t.Fatalf("ExpireClientData(%s, %s, %d): %v", before.Format(time.RFC3339), mode, limit, err)
	}
	return n
}

// checkStored reports how each stored comment differs from its wanted
// version.
func checkStored(t *testing.T, s comment.Store, want []comment.Comment, names []string) {
	t.Helper()
	for i, w := range want {
		got, err := s.Comment(ctxFor(t), w.ID)
		if err != nil {
			t.Fatalf("Comment(%s): %v", w.ID, err)
		}
		t.Run(names[i], func(t *testing.T) { checkSameComment(t, got, w) })
	}
}

// testExpireClientData checks both modes on addresses of every kind:
// only comments created before the bound change, each exactly once per
// mode, and nothing but their IP, user agent and reasons.
func testExpireClientData(t *testing.T, s comment.Store) {
	site := mustSite(t, s)
	cutoff := t0.Add(30 * 24 * time.Hour)
	cases := clientDataCases()
	var (
		old, fresh []comment.Comment
		names      []string
	)
	for i, tc := range cases {
		// Old ones end one microsecond before the bound; new ones start
		// at it.
		o := newComment(site.ID, "/old", cutoff.Add(-time.Duration(len(cases)-i)*time.Microsecond))
		o.IP, o.UserAgent, o.Reasons = tc.ip, "Mozilla/5.0 (X11; Linux x86_64) Test/"+fmt.Sprint(i), tc.reasons
		o.UpdatedAt = cutoff.Add(time.Hour) // later than created: must stay as it is
		old = append(old, mustCreate(t, s, o))
		f := o
		f.ID, f.PageKey, f.CreatedAt, f.UpdatedAt = newID(), "/new", cutoff.Add(time.Duration(i)*time.Microsecond), cutoff.Add(time.Hour)
		fresh = append(fresh, mustCreate(t, s, f))
		names = append(names, tc.name)
	}

	if n := expire(t, s, cutoff, comment.ClientDataTruncate, 100); n != len(old) {
		t.Errorf("first truncate changed %d comments, want the %d old ones", n, len(old))
	}
	truncated := make([]comment.Comment, len(old))
	for i, tc := range cases {
		c := old[i]
		c.IP, c.UserAgent, c.Reasons = tc.truncated, "", tc.tReasons
		if tc.tReasons == nil {
			c.Reasons = tc.reasons
		}
		truncated[i] = c
	}
	t.Run("truncated", func(t *testing.T) { checkStored(t, s, truncated, names) })
	t.Run("newer untouched", func(t *testing.T) { checkStored(t, s, fresh, names) })

	if n := expire(t, s, cutoff, comment.ClientDataTruncate, 100); n != 0 {
		t.Errorf("second truncate changed %d comments, want 0", n)
	}
	t.Run("truncated once", func(t *testing.T) { checkStored(t, s, truncated, names) })

	// The truncated network is what the moderation queue's IP filter finds.
	got, err := s.List(ctxFor(t), comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusPending, IP: "198.51.100.0/24", Limit: 10})
	if err != nil {
		t.Fatalf("List by truncated IP: %v", err)
	}
	if want := []string{old[0].ID, old[4].ID}; fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Errorf("List by 198.51.100.0/24 = %v, want %v", ids(got), want)
	}

	// Switching to delete takes what truncate kept of the old comments.
	if n := expire(t, s, cutoff, comment.ClientDataDelete, 100); n != len(old) {
		t.Errorf("delete after truncate changed %d comments, want %d", n, len(old))
	}
	deleted := make([]comment.Comment, len(old))
	for i, tc := range cases {
		c := truncated[i]
		c.IP = ""
		if tc.dReasons != nil {
			c.Reasons = tc.dReasons
		}
		deleted[i] = c
	}
	t.Run("deleted", func(t *testing.T) { checkStored(t, s, deleted, names) })
	for _, mode := range []comment.ClientDataMode{comment.ClientDataDelete, comment.ClientDataTruncate} {
		if n := expire(t, s, cutoff, mode, 100); n != 0 {
			t.Errorf("%s after delete changed %d comments, want 0", mode, n)
		}
	}
	t.Run("deleted once", func(t *testing.T) { checkStored(t, s, deleted, names) })
	t.Run("newer still untouched", func(t *testing.T) { checkStored(t, s, fresh, names) })
}

// testExpireClientDataDelete checks the delete mode on comments that
// truncate never saw.
func testExpireClientDataDelete(t *testing.T, s comment.Store) {
	site := mustSite(t, s)
	cutoff := t0.Add(time.Hour)
	cases := clientDataCases()
	var (
		want, fresh []comment.Comment
		names       []string
	)
	for i, tc := range cases {
		c := newComment(site.ID, "/p", t0.Add(time.Duration(i)*time.Second))
		c.IP, c.UserAgent, c.Reasons = tc.ip, "Agent/"+fmt.Sprint(i), tc.reasons
		mustCreate(t, s, c)
		c.IP, c.UserAgent = "", ""
		if tc.dReasons != nil {
			c.Reasons = tc.dReasons
		} else if tc.tReasons != nil {
			c.Reasons = tc.tReasons
		}
		want = append(want, c)
		names = append(names, tc.name)
		f := newComment(site.ID, "/p", cutoff.Add(time.Duration(i)*time.Second))
		f.IP = tc.ip
		fresh = append(fresh, mustCreate(t, s, f))
	}
	if n := expire(t, s, cutoff, comment.ClientDataDelete, 100); n != len(want) {
		t.Errorf("delete changed %d comments, want %d", n, len(want))
	}
	t.Run("deleted", func(t *testing.T) { checkStored(t, s, want, names) })
	t.Run("newer untouched", func(t *testing.T) { checkStored(t, s, fresh, names) })
	if n := expire(t, s, cutoff, comment.ClientDataDelete, 100); n != 0 {
		t.Errorf("second delete changed %d comments, want 0", n)
	}
}

// testExpireClientDataBatches checks that limit bounds each call and that
// successive calls work through the backlog, whatever the statuses.
func testExpireClientDataBatches(t *testing.T, s comment.Store) {
	site := mustSite(t, s)
	cutoff := t0.Add(24 * time.Hour)
	statuses := []comment.Status{comment.StatusPending, comment.StatusApproved, comment.StatusRejected, comment.StatusSpam, comment.StatusDeleted}
	var old, fresh []comment.Comment
	for i := range 7 {
		c := newComment(site.ID, "/p", t0.Add(time.Duration(i)*time.Minute))
		c.Status = statuses[i%len(statuses)]
		c.IP = fmt.Sprintf("192.0.2.%d", 10+i)
		old = append(old, mustCreate(t, s, c))
	}
	for i := range 2 {
		c := newComment(site.ID, "/p", cutoff.Add(time.Duration(i)*time.Minute))
		c.IP = fmt.Sprintf("2001:db8:1:2::%d", i+1)
		fresh = append(fresh, mustCreate(t, s, c))
	}
	var got []int
	for range 5 {
		got = append(got, expire(t, s, cutoff, comment.ClientDataTruncate, 3))
	}
	if want := "[3 3 1 0 0]"; fmt.Sprint(got) != want {
		t.Errorf("batches of 3 changed %v comments, want %s", got, want)
	}
	names := make([]string, 0, len(old))
	for i, c := range old {
		old[i].IP, old[i].UserAgent = "192.0.2.0/24", ""
		names = append(names, "old "+c.IP)
	}
	checkStored(t, s, old, names)
	checkStored(t, s, fresh, []string{"new 1", "new 2"})
}

// testExpireClientDataErrors checks that a bad mode or limit is refused
// and changes nothing.
func testExpireClientDataErrors(t *testing.T, s comment.Store) {
	site := mustSite(t, s)
	c := mustCreate(t, s, newComment(site.ID, "/p", t0))
	tests := []struct {
		name  string
		mode  comment.ClientDataMode
		limit int
	}{
		{"unknown mode", "scramble", 10},
		{"empty mode", "", 10},
		{"zero limit", comment.ClientDataTruncate, 0},
		{"negative limit", comment.ClientDataDelete, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.ExpireClientData(ctxFor(t), t0.Add(time.Hour), tt.mode, tt.limit)
			var verr *comment.ValidationError
			if !errors.As(err, &verr) || n != 0 {
				t.Errorf("ExpireClientData = %d, %v; want 0 and a ValidationError", n, err)
			}
		})
	}
	checkStored(t, s, []comment.Comment{c}, []string{"unchanged"})
}

// testPendingStats checks the per-site summary of the queue: every site,
// only pending comments counted, overdue strictly before the bound.
func testPendingStats(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b, c := mustSite(t, s), mustSite(t, s), mustSite(t, s)
	bound := t0.Add(72 * time.Hour)
	add := func(site comment.Site, status comment.Status, at time.Time) {
		cm := newComment(site.ID, "/p", at)
		cm.Status = status
		mustCreate(t, s, cm)
	}
	add(a, comment.StatusPending, t0.Add(time.Hour)) // the oldest, overdue
	add(a, comment.StatusPending, bound.Add(-time.Microsecond))
	add(a, comment.StatusPending, bound) // at the bound: not overdue
	add(a, comment.StatusPending, bound.Add(time.Hour))
	add(a, comment.StatusApproved, t0) // older, but not pending
	add(a, comment.StatusSpam, t0)
	add(b, comment.StatusApproved, t0)
	add(b, comment.StatusRejected, t0)
	add(c, comment.StatusPending, bound.Add(2*time.Hour))

	got, err := s.PendingStats(ctx, bound)
	if err != nil {
		t.Fatalf("PendingStats: %v", err)
	}
	want := map[string]comment.PendingStat{
		a.ID: {SiteID: a.ID, Count: 4, Overdue: 2, Oldest: t0.Add(time.Hour)},
		b.ID: {SiteID: b.ID},
		c.ID: {SiteID: c.ID, Count: 1, Oldest: bound.Add(2 * time.Hour)},
	}
	seen := 0
	for i, st := range got {
		if i > 0 && got[i-1].SiteID >= st.SiteID {
			t.Errorf("PendingStats not ordered by site id: %q before %q", got[i-1].SiteID, st.SiteID)
		}
		w, ok := want[st.SiteID]
		if !ok {
			continue
		}
		seen++
		if st.Count != w.Count || st.Overdue != w.Overdue || !st.Oldest.Equal(w.Oldest) {
			t.Errorf("PendingStats[%s] = %+v, want %+v", st.SiteID, st, w)
		}
		if !st.Oldest.IsZero() && st.Oldest.Location() != time.UTC {
			t.Errorf("PendingStats[%s].Oldest location = %v, want UTC", st.SiteID, st.Oldest.Location())
		}
	}
	if seen != len(want) {
		t.Errorf("PendingStats = %+v, want an entry for each of %s, %s and %s", got, a.ID, b.ID, c.ID)
	}

	// The zero time makes nothing overdue (no warning age configured).
	got, err = s.PendingStats(ctx, time.Time{})
	if err != nil {
		t.Fatalf("PendingStats(zero time): %v", err)
	}
	for _, st := range got {
		if w, ok := want[st.SiteID]; ok && (st.Count != w.Count || st.Overdue != 0) {
			t.Errorf("PendingStats(zero time)[%s] = %+v, want %d pending, none overdue", st.SiteID, st, w.Count)
		}
	}

	// A moderator's decision takes a comment out of the count.
	if _, err := s.SetStatus(ctx, comment.StatusChange{ID: firstPending(t, s, a.ID), To: comment.StatusApproved, Actor: "mod", Action: "approve", At: bound}); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	got, err = s.PendingStats(ctx, bound)
	if err != nil {
		t.Fatalf("PendingStats after approval: %v", err)
	}
	for _, st := range got {
		if st.SiteID == a.ID && (st.Count != 3 || st.Overdue != 1 || !st.Oldest.Equal(bound.Add(-time.Microsecond))) {
			t.Errorf("after approving the oldest, PendingStats[a] = %+v, want 3 pending, 1 overdue, the oldest at %v", st, bound.Add(-time.Microsecond))
		}
	}
}

// firstPending returns the id of the site's oldest pending comment.
func firstPending(t *testing.T, s comment.Store, siteID string) string {
	t.Helper()
	cs, err := s.List(ctxFor(t), comment.ListFilter{SiteIDs: []string{siteID}, Status: comment.StatusPending, Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatalf("List pending of %s: %d comments, %v", siteID, len(cs), err)
	}
	return cs[0].ID
}
