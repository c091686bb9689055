package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/commentd/commentd/internal/testenv"
)

// received is one email the test SMTP server accepted.
type received struct {
	from    string
	to      []string
	header  mail.Header
	subject string
	text    string // the decoded body
	raw     string
}

// smtpSink is an SMTP server in the test process recording what it gets.
// It offers AUTH PLAIN (over plain TCP too) and no STARTTLS.
type smtpSink struct {
	mu       sync.Mutex
	msgs     []received
	auths    int
	sessions int
	down     bool // sessions are refused (451 to EHLO)
	srv      *smtp.Server
	addr     string
}

// startSMTP serves on addr ("127.0.0.1:0" for any port).
func startSMTP(t *testing.T, addr string) *smtpSink {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var (
		ln  net.Listener
		err error
	)
	for range 50 { // the port may be briefly in use after a free-port probe
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("SMTP listen: %v", err)
	}
	sink.srv, sink.addr = srv, ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sink
}

// NewSession implements smtp.Backend.
func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions++
	if s.down {
		return nil, errors.New("service not available, try later")
	}
	return &smtpSession{sink: s}, nil
}

// setDown makes the server refuse sessions, or accept them again.
func (s *smtpSink) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *smtpSink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpSink) counts() (auths, sessions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths, s.sessions
}

type smtpSession struct {
	sink *smtpSink
	from string
	to   []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	s.sink.mu.Lock()
	s.sink.auths++
	s.sink.mu.Unlock()
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *smtpSession) Reset()                                      { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error                               { return nil }

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, received{from: s.from, to: append([]string(nil), s.to...), header: msg.Header,
		subject: subject, text: string(text), raw: string(raw)})
	s.sink.mu.Unlock()
	return nil
}

// hookCall is one webhook request the test receiver got.
type hookCall struct {
	header http.Header
	body   []byte
	status int
}

// hookSink is a webhook receiver answering with queued statuses (200 once
// the queue is empty).
type hookSink struct {
	mu      sync.Mutex
	calls   []hookCall
	answers []int
	srv     *httptest.Server
}

func startHooks(t *testing.T) *hookSink {
	h := &hookSink{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		status := http.StatusOK
		if len(h.answers) > 0 {
			status, h.answers = h.answers[0], h.answers[1:]
		}
		h.calls = append(h.calls, hookCall{header: r.Header.Clone(), body: body, status: status})
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) answer(statuses ...int) {
	h.mu.Lock()
	h.answers = append(h.answers, statuses...)
	h.mu.Unlock()
}

// about returns the calls whose body names the comment.
func (h *hookSink) about(commentID string) []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookCall
	for _, c := range h.calls {
		if bytes.Contains(c.body, []byte(commentID)) {
			out = append(out, c)
		}
	}
	return out
}

// mailsAbout returns the emails whose text names the comment.
func mailsAbout(s *smtpSink, commentID string) []received {
	var out []received
	for _, m := range s.messages() {
		if strings.Contains(m.text, commentID) {
			out = append(out, m)
		}
	}
	return out
}

// eventually polls cond every 50 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notifyYAML is a configuration with one site whose notify block is
// siteNotify (indented under the site) and top-level notify keys.
func notifyYAML(site, notify, siteNotify string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
database_url: unused.db
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 1s, burst: 100}
trusted_proxies: [127.0.0.1/32]
notify:
%s
sites:
  - id: %s
    name: Ledger Notes
    origins: [https://news.example]
    notify:
%s
`, indent(notify, "  "), site, indent(siteNotify, "      "))
}

func indent(s, by string) string {
	var b strings.Builder
	for line := range strings.Lines(strings.TrimSpace(s)) {
		b.WriteString(by + strings.TrimSpace(line) + "\n")
	}
	return b.String()
}

// notifySite sets rules that approve clean comments, hold those with the
// word "holdme" and mark those without a form token as spam.
func notifySite(t *testing.T, in *instance, site string) {
	t.Helper()
	doc := in.rules(t, site)
	doc["mode"] = "hold_on_hits"
	doc["min_submit_seconds"] = 0
	doc["hold_words"] = []string{"holdme"}
	doc["actions"].(map[string]any)["form_token_missing"] = "spam"
	if r := in.putRules(t, site, doc); r.status != http.StatusOK {
		t.Fatalf("put rules: %d %s", r.status, r.body)
	}
}

const authorEmail = "private-author@example.org"

// authorNet holds every test author's IP address, and authorAgent is
// their user agent.
const (
	authorNet   = "203.0.113."
	authorAgent = "PrivateAgent/1.0 (test reader)"
)

// submit posts a comment and returns its id; kind is "held", "approved"
// or "spam".
func submit(t *testing.T, in *instance, site, kind string, n int) string {
	t.Helper()
	f := map[string]any{"page": "/notes/tides", "page_title": "On the tides", "page_url": "https://news.example/notes/tides",
		"name": "Grace", "email": strings.Replace(authorEmail, "@", fmt.Sprintf("+%d@", n), 1),
		"body": fmt.Sprintf("Comment %d about the tides.", n)}
	if kind == "held" {
		f["body"] = fmt.Sprintf("Comment %d: holdme please.", n)
	}
	if kind != "spam" {
		var tok struct{ Token string }
		in.call(t, "GET", "/api/v1/sites/"+site+"/form-token?page=/notes/tides", nil, nil).decode(t, &tok)
		f["form_token"] = tok.Token
	}
	r := in.post(t, site, f, map[string]string{"X-Forwarded-For": fmt.Sprintf("%s%d", authorNet, n), "User-Agent": authorAgent})
	if r.status != http.StatusCreated {
		t.Fatalf("submit %s: %d %s", kind, r.status, r.body)
	}
	var c struct {
		Comment struct {
			ID string `json:"id"`
		} `json:"comment"`
		Status string `json:"status"`
	}
	r.decode(t, &c)
	want := map[string]string{"held": "pending", "approved": "approved", "spam": "pending"}[kind]
	if kind != "spam" && c.Status != want {
		t.Fatalf("submitted %s comment has status %q, want %q", kind, c.Status, want)
	}
	return c.Comment.ID
}

// verifySignature checks a Commentd-Signature header the way the docs
// tell receivers to.
func verifySignature(t *testing.T, secret string, call hookCall) {
	t.Helper()
	sig := call.header.Get("Commentd-Signature")
	var ts, v1 string
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || v1 == "" {
		t.Fatalf("signature header %q", sig)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(call.body)
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(v1)) {
		t.Errorf("signature %q does not verify over the body with the secret", sig)
	}
}

// noPrivateData fails if text holds the author's address or IP. Raw
// messages are checked, and their decoded subject and text too: quoted-
// printable soft line breaks may split a word in the raw form.
func noPrivateData(t *testing.T, what, text string) {
	t.Helper()
	for _, secret := range []string{"private-author", authorNet, "PrivateAgent"} {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains %q:\n%s", what, secret, text)
		}
	}
}

func notifyMetric(t *testing.T, in *instance, name string, labels map[string]string) float64 {
	t.Helper()
	v, _ := sum(in.scrape(t, in.base), name, labels)
	return v
}

// TestNotifyHeld: moderators and the webhook hear of held comments only;
// the webhook is signed, retried on 5xx, not retried on 4xx.
func TestNotifyHeld(t *testing.T) {
	site := testenv.UniqueName("n")
	mail := startSMTP(t, "127.0.0.1:0")
	hooks := startHooks(t)
	const secret = "whsec-test-0123456789"
	in := start(t, setup{yaml: notifyYAML(site,
		fmt.Sprintf("smtp_url: smtp://%s?tls=none\nfrom: Ledger <notes@example.org>\npoll: 100ms\nretry_base: 100ms\nmax_attempts: 5", mail.addr),
		fmt.Sprintf("emails: [mod1@example.org, Mod2@example.org]\nwebhook_url: %s/hook\nwebhook_secret: %s", hooks.srv.URL, secret),
	), env: map[string]string{"COMMENTD_ADMIN_TOKEN": "notify-test-admin-token"}})
	notifySite(t, in, site)

	n := 0
	next := func() int { n++; return n }

	t.Run("held comment: one email per moderator and one signed webhook", func(t *testing.T) {
		id := submit(t, in, site, "held", next())
		eventually(t, 15*time.Second, "two emails and a webhook", func() bool {
			return len(mailsAbout(mail, id)) == 2 && len(hooks.about(id)) == 1
		})
		var to []string
		for _, m := range mailsAbout(mail, id) {
			to = append(to, m.to...)
			if !strings.Contains(m.subject, "Ledger Notes") || !strings.Contains(m.subject, "On the tides") {
				t.Errorf("subject %q lacks the site name or the page title", m.subject)
			}
			if !strings.Contains(m.text, in.base+"/admin/comments/"+id) {
				t.Errorf("email lacks the moderation link:\n%s", m.text)
			}
			if !strings.Contains(m.header.Get("Content-Type"), "charset=UTF-8") {
				t.Errorf("Content-Type %q", m.header.Get("Content-Type"))
			}
			noPrivateData(t, "email", m.raw)
			noPrivateData(t, "email text", m.text)
			noPrivateData(t, "email subject", m.subject)
		}
		if strings.Join(to, ",") != "mod1@example.org,Mod2@example.org" && strings.Join(to, ",") != "Mod2@example.org,mod1@example.org" {
			t.Errorf("emails went to %v", to)
		}
		call := hooks.about(id)[0]
		if got := call.header.Get("Commentd-Event"); got != "comment.held" {
			t.Errorf("Commentd-Event = %q", got)
		}
		if call.header.Get("Commentd-Delivery") == "" {
			t.Error("no Commentd-Delivery header")
		}
		verifySignature(t, secret, call)
		noPrivateData(t, "webhook body", string(call.body))
		var body struct {
			Event      string `json:"event"`
			DeliveryID string `json:"delivery_id"`
			Comment    struct {
				ID         string `json:"id"`
				AuthorName string `json:"author_name"`
			} `json:"comment"`
		}
		if err := json.Unmarshal(call.body, &body); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		if body.Event != "comment.held" || body.Comment.ID != id || body.Comment.AuthorName != "Grace" || body.DeliveryID != call.header.Get("Commentd-Delivery") {
			t.Errorf("webhook body %s", call.body)
		}
	})

	t.Run("spam and approved comments: nothing", func(t *testing.T) {
		spam := submit(t, in, site, "spam", next())
		approved := submit(t, in, site, "approved", next())
		time.Sleep(time.Second) // ten polls
		// A held comment after them is told of, so the worker has passed them.
		marker := submit(t, in, site, "held", next())
		eventually(t, 15*time.Second, "the marker's webhook", func() bool { return len(hooks.about(marker)) == 1 })
		eventually(t, 15*time.Second, "the marker's emails", func() bool { return len(mailsAbout(mail, marker)) == 2 })
		for _, id := range []string{spam, approved} {
			if got := len(mailsAbout(mail, id)); got != 0 {
				t.Errorf("%d emails about %s", got, id)
			}
			if got := len(hooks.about(id)); got != 0 {
				t.Errorf("%d webhooks about %s", got, id)
			}
		}
	})

	t.Run("webhook answering 500 twice is delivered on the third try", func(t *testing.T) {
		hooks.answer(http.StatusInternalServerError, http.StatusInternalServerError)
		id := submit(t, in, site, "held", next())
		eventually(t, 20*time.Second, "a third webhook attempt", func() bool { return len(hooks.about(id)) >= 3 })
		time.Sleep(time.Second)
		calls := hooks.about(id)
		if len(calls) != 3 {
			t.Fatalf("%d attempts, want 3", len(calls))
		}
		for i, c := range calls {
			want := []int{500, 500, 200}[i]
			if c.status != want {
				t.Errorf("attempt %d answered %d, want %d", i+1, c.status, want)
			}
			if !bytes.Equal(c.body, calls[0].body) || c.header.Get("Commentd-Delivery") != calls[0].header.Get("Commentd-Delivery") {
				t.Errorf("attempt %d differs from the first:\n%s\n%s", i+1, c.body, calls[0].body)
			}
			verifySignature(t, secret, c)
		}
		if got := notifyMetric(t, in, "commentd_notify_deliveries_total", map[string]string{"channel": "webhook", "kind": "held", "result": "retry"}); got != 2 {
			t.Errorf("webhook retries counted %v, want 2", got)
		}
	})

	t.Run("webhook answering 4xx fails without retry", func(t *testing.T) {
		hooks.answer(http.StatusGone)
		id := submit(t, in, site, "held", next())
		eventually(t, 15*time.Second, "a webhook attempt", func() bool { return len(hooks.about(id)) >= 1 })
		eventually(t, 15*time.Second, "the failure counted", func() bool {
			return notifyMetric(t, in, "commentd_notify_deliveries_total", map[string]string{"channel": "webhook", "kind": "held", "result": "failed"}) == 1
		})
		time.Sleep(2 * time.Second) // many retry periods
		if got := len(hooks.about(id)); got != 1 {
			t.Errorf("%d attempts after a 410, want 1", got)
		}
		if got := notifyMetric(t, in, "commentd_notify_deliveries_total", map[string]string{"channel": "email", "kind": "held", "result": "sent"}); got != 8 {
			t.Errorf("emails sent counted %v, want 8 (four held comments, two moderators)", got)
		}
	})
}

// TestNotifyDigest: comments held within the digest period reach each
// moderator as one email; those no longer pending by then are left out.
// The period is long enough for the submissions to fit in it on a loaded
// machine; the timing itself is tested with a clock in internal/notify.
func TestNotifyDigest(t *testing.T) {
	site := testenv.UniqueName("d")
	mail := startSMTP(t, "127.0.0.1:0")
	in := start(t, setup{yaml: notifyYAML(site,
		fmt.Sprintf("smtp_url: smtp://%s?tls=none\npoll: 100ms\nretry_base: 100ms", mail.addr),
		"emails: [digest@example.org]\ndigest: 10s",
	), env: map[string]string{"COMMENTD_ADMIN_TOKEN": "notify-test-admin-token"}})
	notifySite(t, in, site)
	var ids []string
	for i := range 6 {
		ids = append(ids, submit(t, in, site, "held", i+1))
	}
	// The last one is approved before the digest goes out.
	if r := in.mod(t, "POST", "/comments/"+ids[5]+"/approve"); r.status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	eventually(t, 40*time.Second, "a digest email", func() bool { return len(mail.messages()) >= 1 })
	time.Sleep(2 * time.Second) // twenty polls: nothing else goes out
	msgs := mail.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1 digest", len(msgs))
	}
	m := msgs[0]
	if !strings.Contains(m.subject, "5 comments") {
		t.Errorf("digest subject %q, want it to count 5 comments", m.subject)
	}
	for i, id := range ids {
		if got, want := strings.Contains(m.text, id), i < 5; got != want {
			t.Errorf("digest names comment %d (%s): %v, want %v", i+1, id, got, want)
		}
	}
	noPrivateData(t, "digest", m.raw)
	noPrivateData(t, "digest text", m.text)
	noPrivateData(t, "digest subject", m.subject)
}

// TestNotifySMTPDown: a comment held while the mail server refuses
// sessions is emailed once it accepts them again.
func TestNotifySMTPDown(t *testing.T) {
	site := testenv.UniqueName("s")
	mail := startSMTP(t, "127.0.0.1:0")
	mail.setDown(true)
	in := start(t, setup{yaml: notifyYAML(site,
		fmt.Sprintf("smtp_url: smtp://%s?tls=none\npoll: 100ms\nretry_base: 300ms", mail.addr),
		"emails: [mod@example.org]",
	), env: map[string]string{"COMMENTD_ADMIN_TOKEN": "notify-test-admin-token"}})
	notifySite(t, in, site)
	id := submit(t, in, site, "held", 1)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", in.stderr.String())
		}
	})
	eventually(t, 15*time.Second, "a failed attempt logged", func() bool {
		return strings.Contains(in.stderr.String(), "delivery attempt failed")
	})
	if got := len(mail.messages()); got != 0 {
		t.Fatalf("%d messages while the server refused sessions", got)
	}
	mail.setDown(false)
	eventually(t, 20*time.Second, "the email once the server is up", func() bool { return len(mailsAbout(mail, id)) == 1 })
}

// TestNotifySTARTTLSRequired: smtp:// requires STARTTLS; a server without
// it gets no credentials and no message, and the failure is logged.
func TestNotifySTARTTLSRequired(t *testing.T) {
	site := testenv.UniqueName("t")
	mail := startSMTP(t, "127.0.0.1:0")
	const password = "pw-never-in-clear-42"
	in := start(t, setup{yaml: notifyYAML(site,
		"poll: 100ms\nretry_base: 100ms\nmax_attempts: 3",
		"emails: [mod@example.org]",
	), env: map[string]string{"COMMENTD_ADMIN_TOKEN": "notify-test-admin-token",
		"COMMENTD_SMTP_URL": "smtp://user:" + password + "@" + mail.addr}})
	notifySite(t, in, site)
	submit(t, in, site, "held", 1)
	eventually(t, 20*time.Second, "the delivery failed after 3 attempts", func() bool {
		return notifyMetric(t, in, "commentd_notify_deliveries_total", map[string]string{"channel": "email", "result": "failed"}) == 1
	})
	auths, sessions := mail.counts()
	if auths != 0 {
		t.Errorf("%d AUTH commands reached a server without TLS", auths)
	}
	if sessions < 3 {
		t.Errorf("%d connections, want 3 attempts", sessions)
	}
	if got := len(mail.messages()); got != 0 {
		t.Errorf("%d messages sent without TLS", got)
	}
	logs := in.stderr.String()
	if !strings.Contains(logs, "delivery attempt failed") || !strings.Contains(strings.ToLower(logs), "starttls") {
		t.Errorf("no logged STARTTLS failure:\n%s", logs)
	}
	if strings.Contains(logs, password) {
		t.Error("the log repeats the SMTP password")
	}
}

// TestNotifyTwoInstancesSendOncePostgres: two instances sharing a
// database, both planning and sending, email each held comment once.
// (Planning a job twice would not show here: the unique index on
// deliveries drops a repeat; the store suite tests claims.)
func TestNotifyTwoInstancesSendOncePostgres(t *testing.T) {
	site := testenv.UniqueName("p")
	mail := startSMTP(t, "127.0.0.1:0")
	db := pgSchemaURL(t)
	yaml := notifyYAML(site, fmt.Sprintf("smtp_url: smtp://%s?tls=none\npoll: 50ms", mail.addr), "emails: [mod@example.org]")
	env := map[string]string{"COMMENTD_DATABASE_URL": db, "COMMENTD_ADMIN_TOKEN": "notify-test-admin-token"}
	in1 := start(t, setup{yaml: yaml, env: env})
	in2 := start(t, setup{yaml: yaml, env: env})
	notifySite(t, in1, site)
	var ids []string
	for i := range 12 {
		in := in1
		if i%2 == 1 {
			in = in2
		}
		ids = append(ids, submit(t, in, site, "held", i+1))
	}
	eventually(t, 20*time.Second, "twelve emails", func() bool { return len(mail.messages()) >= len(ids) })
	time.Sleep(time.Second) // twenty polls of each instance
	if got := len(mail.messages()); got != len(ids) {
		t.Errorf("%d emails, want %d", got, len(ids))
	}
	for _, id := range ids {
		if got := len(mailsAbout(mail, id)); got != 1 {
			t.Errorf("%d emails about %s, want 1", got, id)
		}
	}
	// Every sending was recorded (under the lease it was claimed with).
	sent := map[string]string{"channel": "email", "kind": "held", "result": "sent"}
	if got := notifyMetric(t, in1, "commentd_notify_deliveries_total", sent) + notifyMetric(t, in2, "commentd_notify_deliveries_total", sent); got != float64(len(ids)) {
		t.Errorf("sent deliveries recorded by both instances: %v, want %d", got, len(ids))
	}
}

// TestNotifyWarnsOfWildcardLinks: with notifications configured, no
// public_url and a listen address naming no host, the start logs a
// warning; with public_url set it does not. With email configured and
// links that are not https, it warns that one-click unsubscribe links
// should be https.
func TestNotifyWarnsOfWildcardLinks(t *testing.T) {
	const (
		wildcard = "public_url is not set"
		plain    = "one-click unsubscribe"
	)
	yaml := notifyYAML(testenv.UniqueName("w"), "smtp_url: smtp://127.0.0.1:2525?tls=none", "emails: [mod@example.org]")
	for _, tt := range []struct {
		name, publicURL       string
		wantWildcard, wantTLS bool
	}{
		{"no public_url", "", true, true},
		{"https public_url", "https://comments.example", false, false},
		{"http public_url", "http://comments.example", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := start(t, setup{yaml: yaml, env: map[string]string{"COMMENTD_LISTEN": "0.0.0.0:0",
				"COMMENTD_PUBLIC_URL": tt.publicURL, "COMMENTD_ADMIN_TOKEN": "notify-test-admin-token"}})
			for _, w := range []struct {
				text string
				want bool
			}{{wildcard, tt.wantWildcard}, {plain, tt.wantTLS}} {
				if w.want {
					eventually(t, 10*time.Second, "the warning "+w.text, func() bool { return strings.Contains(in.stderr.String(), w.text) })
				}
			}
			time.Sleep(time.Second) // the log is written out every 100 ms
			for _, w := range []struct {
				text string
				want bool
			}{{wildcard, tt.wantWildcard}, {plain, tt.wantTLS}} {
				if !w.want && strings.Contains(in.stderr.String(), w.text) {
					t.Errorf("warning %q logged:\n%s", w.text, in.stderr.String())
				}
			}
		})
	}
}
