package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/sqlite"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var linkRE = regexp.MustCompile(`https?://\S+`)

// takeDue claims every due delivery at far, records it as sent, and
// returns them with their payloads decoded.
func takeDue(t *testing.T, s *sqlite.Store, far time.Time) map[comment.NotifyKind][]struct {
	d comment.NotifyDelivery
	p payload
} {
	t.Helper()
	ctx := context.Background()
	ds, err := s.ClaimNotifyDeliveries(ctx, far, far.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[comment.NotifyKind][]struct {
		d comment.NotifyDelivery
		p payload
	}{}
	for _, d := range ds {
		var p payload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			t.Fatalf("payload %s: %v", d.Payload, err)
		}
		out[d.Kind] = append(out[d.Kind], struct {
			d comment.NotifyDelivery
			p payload
		}{d, p})
		if skipped, err := s.MarkNotifyDeliveries(ctx, []comment.DeliveryResult{{ID: d.ID, State: comment.DeliverySent, Attempts: 1, NextAt: far, At: far}}); err != nil || len(skipped) > 0 {
			t.Fatalf("MarkNotifyDeliveries: skipped %q, %v", skipped, err)
		}
	}
	return out
}

// TestRepliesAndConfirmations plans confirmation requests and reply
// emails from real jobs in SQLite, and drops a reply to an address that
// unsubscribed before it went out. The mail server does not answer, so
// nothing is sent and every delivery stays due.
func TestRepliesAndConfirmations(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "c.db")
	s, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "The Blog", Origins: []string{"https://blog.example"}}); err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	w, err := New(Options{
		Store: s, SMTPURL: "smtp://" + closedAddr(t) + "?tls=none", From: "Blog <blog@example.org>",
		Sites:   map[string]Site{"blog": {Replies: true}},
		BaseURL: "https://comments.example", Secret: secret, RetryBase: time.Minute, Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	create := func(parent string, email string, status comment.Status, notify bool) comment.Comment {
		t.Helper()
		n++
		at := clk.now().Add(time.Duration(n) * time.Microsecond)
		c := comment.Comment{
			ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: "/p", ParentID: parent, Depth: 1,
			AuthorName: "Author", AuthorEmail: email, Body: "A thought.", BodyHTML: "<p>x</p>", Status: status,
			IP: "192.0.2.9", NotifyReplies: notify, CreatedAt: at, UpdatedAt: at,
		}
		if parent != "" {
			c.Depth = 2
		}
		if err := s.CreateComment(ctx, c, comment.Page{SiteID: "blog", Key: "/p", Title: "A page", URL: "https://blog.example/p"}); err != nil {
			t.Fatal(err)
		}
		return c
	}

	parent := create("", "Parent@Example.org", comment.StatusApproved, true)
	w.Tick(ctx)
	got := takeDue(t, s, clk.now().Add(24*time.Hour))
	if len(got[comment.NotifyConfirm]) != 1 || len(got) != 1 {
		t.Fatalf("deliveries after a comment asking for replies: %+v, want one confirmation", got)
	}
	conf := got[comment.NotifyConfirm][0]
	if conf.d.Recipient != "Parent@Example.org" || conf.d.CommentID != parent.ID {
		t.Errorf("confirmation to %q about %s", conf.d.Recipient, conf.d.CommentID)
	}
	link := linkRE.FindString(conf.p.Text)
	tok, ok := strings.CutPrefix(link, "https://comments.example/notify/confirm?t=")
	if !ok {
		t.Fatalf("no confirmation link in:\n%s", conf.p.Text)
	}
	if site, email, err := OpenReaderToken(secret, PurposeConfirm, tok, clk.now()); err != nil || site != "blog" || email != "parent@example.org" {
		t.Errorf("confirmation token opens to %q %q %v", site, email, err)
	}
	if st, _ := s.ReaderState(ctx, "blog", "parent@example.org"); st != comment.ReaderUnconfirmed {
		t.Errorf("state after the request = %q, want unconfirmed", st)
	}

	// Not confirmed yet: a reply tells nobody.
	create(parent.ID, "other@example.org", comment.StatusApproved, false)
	w.Tick(ctx)
	if got := takeDue(t, s, clk.now().Add(24*time.Hour)); len(got) != 0 {
		t.Fatalf("deliveries for a reply to an unconfirmed address: %+v", got)
	}

	if _, err := s.ConfirmReader(ctx, "blog", "parent@example.org", clk.now()); err != nil {
		t.Fatal(err)
	}
	reply := create(parent.ID, "other@example.org", comment.StatusApproved, false)
	create(parent.ID, "PARENT@example.org", comment.StatusApproved, false) // the author's own reply
	held := create(parent.ID, "third@example.org", comment.StatusPending, false)
	w.Tick(ctx)
	got = takeDue(t, s, clk.now().Add(24*time.Hour))
	if len(got[comment.NotifyReply]) != 1 || len(got) != 1 {
		t.Fatalf("deliveries after replies: %+v, want one reply email", got)
	}
	r := got[comment.NotifyReply][0]
	if r.d.Recipient != "Parent@Example.org" || r.d.CommentID != reply.ID {
		t.Errorf("reply email to %q about %s", r.d.Recipient, r.d.CommentID)
	}
	tok, ok = strings.CutPrefix(r.p.Unsubscribe, "https://comments.example/notify/unsubscribe?t=")
	if !ok || !strings.Contains(r.p.Text, r.p.Unsubscribe) {
		t.Fatalf("unsubscribe link %q not in the text:\n%s", r.p.Unsubscribe, r.p.Text)
	}
	if site, email, err := OpenReaderToken(secret, PurposeUnsubscribe, tok, clk.now().Add(365*24*time.Hour)); err != nil || site != "blog" || email != "parent@example.org" {
		t.Errorf("unsubscribe token opens to %q %q %v", site, email, err)
	}
	if strings.Contains(r.p.Text, "other@example.org") || strings.Contains(r.p.Text, "192.0.2.9") {
		t.Errorf("reply email shows the replier's address or IP:\n%s", r.p.Text)
	}

	// The held reply approved later is told of; the parent unsubscribes
	// before it goes out, so it is dropped.
	if _, err := s.SetStatus(ctx, comment.StatusChange{ID: held.ID, To: comment.StatusApproved, Actor: "mod", Action: "approve", At: clk.now()}); err != nil {
		t.Fatal(err)
	}
	w.Tick(ctx) // planned; sending fails (no server)
	if got := deliveryStates(t, dbPath, "reply", held.ID); len(got) != 1 || got[0].state != "due" || got[0].attempts != 1 {
		t.Fatalf("reply deliveries after approving the held reply = %+v, want one due after 1 attempt", got)
	}
	if _, err := s.UnsubscribeReader(ctx, "blog", "parent@example.org", clk.now()); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour) // past the retry
	w.Tick(ctx)
	if got := deliveryStates(t, dbPath, "reply", held.ID); len(got) != 1 || got[0].state != "dropped" || got[0].attempts != 1 {
		t.Errorf("reply deliveries after unsubscribing = %+v, want one dropped (not another attempt)", got)
	}
}

// deliveryRow is a delivery as stored.
type deliveryRow struct {
	id, recipient, state, lastError string
	attempts                        int
}

// deliveryStates reads the deliveries of a kind about a comment from the
// SQLite file, oldest first.
func deliveryStates(t *testing.T, path string, kind comment.NotifyKind, commentID string) []deliveryRow {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, recipient, state, last_error, attempts FROM notify_deliveries
		WHERE kind = ? AND comment_id = ? ORDER BY id`, string(kind), commentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []deliveryRow
	for rows.Next() {
		var r deliveryRow
		if err := rows.Scan(&r.id, &r.recipient, &r.state, &r.lastError, &r.attempts); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRetryWait(t *testing.T) {
	w := &Worker{opt: Options{RetryBase: 30 * time.Second}}
	tests := []struct {
		attempts int
		base     time.Duration
	}{
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{7, 32 * time.Minute},
		{8, time.Hour},
		{50, time.Hour},
	}
	for _, tt := range tests {
		for range 50 {
			got := w.retryWait(tt.attempts)
			lo, hi := time.Duration(float64(tt.base)*0.8), time.Duration(float64(tt.base)*1.2)
			if got < lo || got > hi {
				t.Fatalf("retryWait(%d) = %v, want within [%v, %v]", tt.attempts, got, lo, hi)
			}
		}
	}
}

func TestSign(t *testing.T) {
	// The HMAC-SHA256 of "secret" over "1700000000.{}", by openssl:
	// printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
	got := Sign([]byte("secret"), time.Unix(1700000000, 0), []byte("{}"))
	want := "t=1700000000,v1=" + wantHMAC
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestNewMailerErrorsHideThePassword(t *testing.T) {
	for _, raw := range []string{"http://u:hunter2@x.example", "smtp://u:hunter2@x.example:0", "smtp://u:hunter2@x.example?tls=maybe", "smtp://u:hunter2@:25", "smtp://u:hunter2@x.example:25?tls=none"} {
		_, err := newMailer(raw, "a@example.org")
		if err == nil {
			t.Errorf("newMailer(%q) accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("newMailer error repeats the password: %v", err)
		}
	}
}

const wantHMAC = "b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
