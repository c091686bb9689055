package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/testenv"
)

// modView is what these tests read of the moderation API's comment.
type modView struct {
	Comment struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		IP        string `json:"ip"`
		UserAgent string `json:"user_agent"`
		Reasons   []struct {
			Rule   string `json:"rule"`
			Detail string `json:"detail"`
		} `json:"reasons"`
	} `json:"comment"`
}

func (v modView) details() string {
	var b strings.Builder
	for _, r := range v.Comment.Reasons {
		b.WriteString(r.Rule + ": " + r.Detail + "\n")
	}
	return b.String()
}

func (in *instance) modComment(t *testing.T, id string) modView {
	t.Helper()
	r := in.mod(t, "GET", "/comments/"+id)
	if r.status != 200 {
		t.Fatalf("GET comment %s: %d %s", id, r.status, r.body)
	}
	var v modView
	r.decode(t, &v)
	return v
}

// ageComments moves the comments' creation back by d, in one statement, as
// if they had been submitted that much earlier.
func ageComments(t *testing.T, store, db string, d time.Duration, ids ...string) {
	t.Helper()
	ctx := context.Background()
	if store == "postgres" {
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		tag, err := conn.Exec(ctx, `UPDATE comments SET created_at = created_at - $1::interval WHERE id = ANY($2)`, d, ids)
		if err != nil || tag.RowsAffected() != int64(len(ids)) {
			t.Fatalf("age comments: %v (%d rows)", err, tag.RowsAffected())
		}
		return
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	args := []any{d.Microseconds()}
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := conn.ExecContext(ctx, `UPDATE comments SET created_at = created_at - ? WHERE id IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)`, args...)
	if err != nil {
		t.Fatalf("age comments: %v", err)
	}
	if n, _ := res.RowsAffected(); n != int64(len(ids)) {
		t.Fatalf("aged %d comments, want %d", n, len(ids))
	}
}

// metricValue returns the value of one sample of /metrics, or "" if it is
// absent.
func metricValue(metrics, name, site string) string {
	labels := ""
	if site != "" {
		labels = `\{site="` + regexp.QuoteMeta(site) + `"\}`
	}
	m := regexp.MustCompile(`(?m)^` + name + labels + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestClientDataRetention runs the server with a 30-day retention and a
// job every 200ms, submits comments from addresses of each kind, makes
// some of them older by changing their creation time in the database, and
// checks what moderators see once the job has run: the network instead of
// the address and no user agent for the old comments (reasons included),
// everything as submitted for the others. It also checks the moderation
// backlog in /readyz and /metrics, which must hold counts only.
func TestClientDataRetention(t *testing.T) {
	type want struct{ ip, ua string }
	tests := []struct {
		name, store, mode string
		old               [3]string // what the old comments' IPs become
	}{
		{"sqlite", "sqlite", "truncate", [3]string{"198.51.100.0/24", "2001:db8:1234::/48", "203.0.113.0/24"}},
		{"postgres", "postgres", "truncate", [3]string{"198.51.100.0/24", "2001:db8:1234::/48", "203.0.113.0/24"}},
		{"sqlite, delete mode", "sqlite", "delete", [3]string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := testenv.UniqueName("s")
			var db string
			for _, d := range databases() {
				if d.name == tt.store {
					db = d.db(t)
				}
			}
			yaml := strings.Replace(siteYAML(site, "retention: {client_data: 720h, pending_warn_after: 72h, interval: 200ms}\n"), "burst: 3", "burst: 100", 1)
			in := start(t, setup{yaml: yaml, env: map[string]string{
				"COMMENTD_DATABASE_URL": db, "COMMENTD_ADMIN_TOKEN": "retention-test-admin-token",
				"COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32", "COMMENTD_RETENTION_CLIENT_DATA_MODE": tt.mode,
			}})

			// Patterns on the user agent and the address, so that reasons
			// quote both.
			doc := in.rules(t, site)
			doc["hold_words"] = []string{"/oldbrowser/", `/^198\.51\.100\.7$/`}
			if r := in.putRules(t, site, doc); r.status != 200 {
				t.Fatalf("put rules: %d %s", r.status, r.body)
			}

			submit := func(i int, ip, ua string) string {
				r := in.post(t, site, map[string]any{"page": "/p", "name": "Reader", "email": fmt.Sprintf("reader%d@example.org", i), "body": fmt.Sprintf("Comment number %d.", i)},
					map[string]string{"X-Forwarded-For": ip, "User-Agent": ua})
				var c struct {
					Comment struct{ ID string } `json:"comment"`
					Status  string              `json:"status"`
				}
				r.decode(t, &c)
				if r.status != 201 || c.Status != "pending" {
					t.Fatalf("submission %d: %d %s", i, r.status, r.body)
				}
				return c.Comment.ID
			}
			const oldUA = "oldbrowser/1.0 (retention test)"
			ids := []string{
				submit(0, "198.51.100.7", oldUA),             // 40 days old
				submit(1, "2001:db8:1234:5678::9", oldUA),    // 40 days old
				submit(2, "::ffff:203.0.113.77", oldUA),      // 40 days old, approved
				submit(3, "192.0.2.55", "middle/5.0 (test)"), // 5 days old: overdue, data kept
				submit(4, "192.0.2.66", "fresh/9.0 (test)"),  // new
			}
			before := in.modComment(t, ids[0])
			if !strings.Contains(before.details(), `("198.51.100.7") in IP`) || !strings.Contains(before.details(), `("oldbrowser") in user agent`) {
				t.Fatalf("reasons before expiry do not quote the client data:\n%s", before.details())
			}
			kept := map[string]want{}
			for _, id := range ids[3:] {
				v := in.modComment(t, id)
				kept[id] = want{v.Comment.IP, v.Comment.UserAgent}
			}
			if r := in.mod(t, "POST", "/comments/"+ids[2]+"/approve"); r.status != 200 {
				t.Fatalf("approve: %d %s", r.status, r.body)
			}
			ageComments(t, tt.store, db, 40*24*time.Hour, ids[:3]...)
			ageComments(t, tt.store, db, 5*24*time.Hour, ids[3])

			// The job runs every 200ms: wait for the old comments to change.
			deadline := time.Now().Add(20 * time.Second)
			for in.modComment(t, ids[0]).Comment.UserAgent != "" {
				if time.Now().After(deadline) {
					t.Fatalf("the old comments kept their user agent for 20s; log:\n%s", in.stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			for i, id := range ids[:3] {
				v := in.modComment(t, id)
				if v.Comment.IP != tt.old[i] || v.Comment.UserAgent != "" {
					t.Errorf("old comment %d: ip %q, user agent %q; want %q and none", i, v.Comment.IP, v.Comment.UserAgent, tt.old[i])
				}
				d := v.details()
				if strings.Contains(d, `("`) || strings.Contains(d, "198.51.100.7") || !strings.Contains(d, "/oldbrowser/ in user agent") {
					t.Errorf("old comment %d: reasons still quote client data, or lost the rule:\n%s", i, d)
				}
			}
			for id, w := range kept {
				v := in.modComment(t, id)
				if v.Comment.IP != w.ip || v.Comment.UserAgent != w.ua || w.ip == "" || w.ua == "" {
					t.Errorf("newer comment %s: ip %q, user agent %q; want them as submitted (%q, %q)", id, v.Comment.IP, v.Comment.UserAgent, w.ip, w.ua)
				}
			}
			if tt.mode == "truncate" {
				// The queue's IP filter takes the network a moderator sees.
				var q struct {
					Comments []struct{ ID string } `json:"comments"`
				}
				r := in.mod(t, "GET", "/comments?site="+site+"&ip=198.51.100.0/24")
				r.decode(t, &q)
				if r.status != 200 || len(q.Comments) != 1 || q.Comments[0].ID != ids[0] {
					t.Errorf("queue filtered by 198.51.100.0/24: %d %s, want the first comment", r.status, r.body)
				}
			}

			// Let the job run a few more times: nothing is changed twice.
			time.Sleep(time.Second)
			metrics := string(in.call(t, "GET", "/metrics", nil, nil).body)
			if got := metricValue(metrics, "commentd_client_data_expired_total", ""); got != "3" {
				t.Errorf("commentd_client_data_expired_total = %q, want 3", got)
			}
			logs := in.stderr.String()
			if !strings.Contains(logs, `msg="client data expired" comments=3 mode=`+tt.mode) {
				t.Errorf("no log line for the 3 expired comments:\n%s", logs)
			}
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, "client data") && (strings.Contains(line, "198.51.100") || strings.Contains(line, "2001:db8") || strings.Contains(line, "203.0.113")) {
					t.Errorf("a retention log line names an address: %s", line)
				}
			}

			// The backlog: 4 pending (the approved one is not), 3 of them
			// older than 72h, the oldest 40 days.
			r := in.call(t, "GET", "/readyz", nil, nil)
			var ready struct {
				Status  string `json:"status"`
				Pending map[string]struct {
					Count   int   `json:"count"`
					Overdue int   `json:"older_than_warn"`
					Age     int64 `json:"oldest_age_seconds"`
				} `json:"pending"`
			}
			r.decode(t, &ready)
			t.Logf("readyz: %s", r.body)
			p, ok := ready.Pending[site]
			const forty = 40 * 24 * 3600
			if r.status != 200 || ready.Status != "warn" || !ok || p.Count != 4 || p.Overdue != 3 || p.Age < forty || p.Age > forty+120 {
				t.Errorf("readyz = %d %s; want 200, status warn, %s with 4 pending, 3 overdue, the oldest about %ds old", r.status, r.body, site, forty)
			}
			for _, m := range []struct{ name, want string }{
				{"commentd_pending_comments", "4"},
				{"commentd_pending_overdue_comments", "3"},
			} {
				if got := metricValue(metrics, m.name, site); got != m.want {
					t.Errorf("%s{site=%q} = %q, want %s", m.name, site, got, m.want)
				}
			}
			age, err := strconv.ParseFloat(metricValue(metrics, "commentd_pending_oldest_age_seconds", site), 64)
			if err != nil || age < forty || age > forty+120 {
				t.Errorf("commentd_pending_oldest_age_seconds{site=%q} = %v (%v), want about %d", site, age, err, forty)
			}

			if tt.mode == "truncate" {
				// Spam-and-block on an expired comment blocks its network.
				if r := in.mod(t, "POST", "/comments/"+ids[0]+"/spam-and-block"); r.status != 200 {
					t.Fatalf("spam-and-block: %d %s", r.status, r.body)
				}
				blocked := fmt.Sprint(in.rules(t, site)["blocked_ips"])
				if !strings.Contains(blocked, "198.51.100.0/24") {
					t.Errorf("blocked_ips after spam-and-block = %s, want the comment's network", blocked)
				}
				for ip, wantStatus := range map[string]int{"198.51.100.99": 403, "198.51.101.5": 201} {
					r := in.post(t, site, map[string]any{"page": "/p", "name": "Next", "email": "next-" + ip + "@example.net", "body": "From " + ip + "."},
						map[string]string{"X-Forwarded-For": ip})
					if r.status != wantStatus {
						t.Errorf("submission from %s after blocking 198.51.100.0/24: %d %s, want %d", ip, r.status, r.body, wantStatus)
					}
				}
			}

			// Public routes: counts and ages only.
			for name, body := range map[string]string{"/readyz": string(r.body), "/metrics": metrics} {
				for _, secret := range []string{"@example.org", "198.51.100", "2001:db8", "192.0.2.", "203.0.113", "oldbrowser", "Comment number", "Reader"} {
					if strings.Contains(body, secret) {
						t.Errorf("%s contains %q", name, secret)
					}
				}
			}
		})
	}
}

// TestClientDataKeptForever: with retention.client_data 0 nothing is
// expired, however old, and the log says so.
func TestClientDataKeptForever(t *testing.T) {
	site := testenv.UniqueName("s")
	db := databases()[0].db(t)
	in := start(t, setup{yaml: siteYAML(site, "retention: {client_data: 0, interval: 100ms}\n"), env: map[string]string{
		"COMMENTD_DATABASE_URL": db, "COMMENTD_ADMIN_TOKEN": "retention-test-admin-token",
	}})
	r := in.post(t, site, map[string]any{"page": "/p", "name": "Reader", "email": "reader@example.org", "body": "Hello."}, map[string]string{"User-Agent": "keeper/1.0"})
	var c struct {
		Comment struct{ ID string } `json:"comment"`
	}
	r.decode(t, &c)
	ageComments(t, "sqlite", db, 10*365*24*time.Hour, c.Comment.ID)
	time.Sleep(500 * time.Millisecond) // several intervals, had a job been started
	v := in.modComment(t, c.Comment.ID)
	if v.Comment.IP != "127.0.0.1" || v.Comment.UserAgent != "keeper/1.0" {
		t.Errorf("comment 10 years old: ip %q, user agent %q; want both kept", v.Comment.IP, v.Comment.UserAgent)
	}
	if !strings.Contains(in.stderr.String(), "client data retention off") {
		t.Errorf("the log does not say that client data is kept:\n%s", in.stderr.String())
	}
	var ready struct {
		Status  string                     `json:"status"`
		Pending map[string]json.RawMessage `json:"pending"`
	}
	in.call(t, "GET", "/readyz", nil, nil).decode(t, &ready)
	if ready.Status != "warn" || string(ready.Pending[site]) == "" {
		t.Errorf("readyz = %+v, want a warning for the 10-year-old pending comment", ready)
	}
}
