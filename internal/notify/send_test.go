package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/sqlite"
)

// mailServer is an SMTP server in the test process. It answers RCPT TO
// with rcptErr when set, and records the decoded text of the messages it
// accepts.
type mailServer struct {
	mu      sync.Mutex
	rcptErr *smtp.SMTPError
	msgs    []string
	headers []mail.Header // of each of msgs
	onData  func()
	addr    string
}

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	m := &mailServer{}
	srv := smtp.NewServer(m)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return m
}

// messageHeaders returns the headers of the messages, in the order of
// messages.
func (m *mailServer) messageHeaders() []mail.Header {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail.Header(nil), m.headers...)
}

func (m *mailServer) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

// NewSession implements smtp.Backend.
func (m *mailServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

type mailSession struct{ m *mailServer }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.rcptErr != nil {
		return s.m.rcptErr
	}
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	body := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, string(text))
	s.m.headers = append(s.m.headers, msg.Header)
	f := s.m.onData
	s.m.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

// notifyEnv is a SQLite store with one site, "blog", and a clock.
type notifyEnv struct {
	s    *sqlite.Store
	path string
	clk  *clock
	n    int
}

func newNotifyEnv(t *testing.T) *notifyEnv {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "The Blog", Origins: []string{"https://blog.example"}}); err != nil {
		t.Fatal(err)
	}
	return &notifyEnv{s: s, path: path, clk: &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
}

// create stores a comment on /p of the blog.
func (e *notifyEnv) create(t *testing.T, parent, email string, status comment.Status, notify bool) comment.Comment {
	t.Helper()
	e.n++
	at := e.clk.now().Add(time.Duration(e.n) * time.Microsecond)
	c := comment.Comment{
		ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: "/p", ParentID: parent, Depth: 1,
		AuthorName: "Author", AuthorEmail: email, Body: "A thought.", BodyHTML: "<p>x</p>", Status: status,
		IP: "192.0.2.9", NotifyReplies: notify, CreatedAt: at, UpdatedAt: at,
	}
	if parent != "" {
		c.Depth = 2
	}
	if err := e.s.CreateComment(context.Background(), c, comment.Page{SiteID: "blog", Key: "/p", Title: "A page", URL: "https://blog.example/p"}); err != nil {
		t.Fatal(err)
	}
	return c
}

// worker returns a worker on the env's store and clock; its log goes to
// logs.
func (e *notifyEnv) worker(t *testing.T, store Store, smtpAddr string, site Site, logs *bytes.Buffer, reg prometheus.Registerer) *Worker {
	t.Helper()
	if store == nil {
		store = e.s
	}
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	w, err := New(Options{
		Store: store, SMTPURL: "smtp://" + smtpAddr + "?tls=none", From: "Blog <blog@example.org>",
		Sites: map[string]Site{"blog": site}, BaseURL: "https://comments.example",
		Secret: []byte("0123456789abcdef0123456789abcdef"), RetryBase: time.Minute, Now: e.clk.now,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRejectedRecipient: a mail server refusing the recipient and quoting
// the address in its answer leaves no address in the log or the stored
// error; a 5xx answer fails the delivery at once, a 4xx one is retried.
func TestRejectedRecipient(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		wantState string
	}{
		{"permanent 550", 550, "failed"},
		{"temporary 450", 450, "due"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newNotifyEnv(t)
			srv := startMailServer(t)
			const to = "Mod.Private@Example.org"
			srv.rcptErr = &smtp.SMTPError{Code: tt.code, EnhancedCode: smtp.EnhancedCode{tt.code / 100, 1, 1},
				Message: "<mod.private@example.org>: Recipient address rejected: user mod.private@example.org unknown"}
			var logs bytes.Buffer
			w := e.worker(t, nil, srv.addr, Site{Emails: []string{to}}, &logs, nil)
			c := e.create(t, "", "author@example.net", comment.StatusPending, false)
			w.Tick(context.Background())

			got := deliveryStates(t, e.path, comment.NotifyHeld, c.ID)
			if len(got) != 1 {
				t.Fatalf("deliveries = %+v, want 1", got)
			}
			if got[0].state != tt.wantState || got[0].attempts != 1 {
				t.Errorf("delivery %s after %d attempts, want %s after 1", got[0].state, got[0].attempts, tt.wantState)
			}
			if !strings.Contains(logs.String(), "delivery attempt failed") || !strings.Contains(logs.String(), "RCPT") {
				t.Errorf("the log does not tell of the refused recipient:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "@") {
				t.Errorf("the log holds an address:\n%s", logs.String())
			}
			if strings.Contains(got[0].lastError, "@") || !strings.Contains(got[0].lastError, "RCPT") {
				t.Errorf("last_error = %q, want the failure without the address", got[0].lastError)
			}
			if len(srv.messages()) != 0 {
				t.Errorf("a message went out")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ msg, to, want string }{
		{"550 <Reader@Example.ORG> unknown", "reader@example.org", "550 <<recipient>> unknown"},
		{"rejected: reader@example.org, affected recipient(s): READER@EXAMPLE.ORG", "Reader@Example.org", "rejected: <recipient>, affected recipient(s): <recipient>"},
		{"550 user other+tag@host.example (alias of reader@example.org) unknown", "reader@example.org", "550 user <address> (alias of <recipient>) unknown"},
		{"dial tcp 127.0.0.1:25: connection refused", "reader@example.org", "dial tcp 127.0.0.1:25: connection refused"},
		{"webhook answered 500", "https://hooks.example/x?a.b", "webhook answered 500"},
	}
	for _, tt := range tests {
		if got := redact(tt.msg, tt.to); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.msg, tt.to, got, tt.want)
		}
	}
}

// TestSubjectsOneLine: line breaks and separators in a page title, a site
// name or an author name never reach a subject as such.
func TestSubjectsOneLine(t *testing.T) {
	const nasty = "Title\r\nBcc: victim@example.org\u2028next\u2029end\x00\x7f"
	sub := comment.NotifySubject{
		Comment: comment.Comment{ID: "c1", SiteID: "blog", AuthorName: "Eve\r\nX-Evil: 1\u2028", Body: "Body"},
		Page:    comment.Page{Key: "/p", Title: nasty, URL: "https://blog.example/p"},
	}
	subjects := map[string]string{
		"held":    heldEmail("https://c.example", "Site\nName", sub).Subject,
		"reply":   replyEmail("Site\r\nName", sub, "https://c.example/u").Subject,
		"confirm": confirmEmail("Site\u2028Name", sub, "https://c.example/c", "https://c.example/u").Subject,
	}
	subjects["digest"], _ = digestEmail("Site\rName", []payload{{Item: "a"}, {Item: "b"}})
	for kind, s := range subjects {
		if strings.ContainsAny(s, "\r\n\u2028\u2029\x00\x7f") {
			t.Errorf("%s subject %q holds a line break or control character", kind, s)
		}
		if !strings.Contains(s, "Site Name") {
			t.Errorf("%s subject %q lacks the site name", kind, s)
		}
	}
	if !strings.Contains(subjects["held"], "Title Bcc: victim@example.org next end") {
		t.Errorf("held subject %q, want the title on one line", subjects["held"])
	}
}

// failingStore fails NotifySubject for one comment and, when cancel is
// set, cancels the worker's context before recording results.
type failingStore struct {
	Store
	failFor string
	// commentFails makes Comment fail (the check at send time).
	commentFails bool
	cancel       context.CancelFunc
}

func (f *failingStore) Comment(ctx context.Context, id string) (comment.Comment, error) {
	if f.commentFails {
		return comment.Comment{}, errors.New("database unreachable")
	}
	return f.Store.Comment(ctx, id)
}

func (f *failingStore) NotifySubject(ctx context.Context, id string) (comment.NotifySubject, error) {
	if id == f.failFor {
		return comment.NotifySubject{}, errors.New("broken comment")
	}
	return f.Store.NotifySubject(ctx, id)
}

func (f *failingStore) MarkNotifyDeliveries(ctx context.Context, rs []comment.DeliveryResult) ([]string, error) {
	if f.cancel != nil {
		f.cancel() // the worker is told to stop while it records
	}
	return f.Store.MarkNotifyDeliveries(ctx, rs)
}

// TestPoisonJobAbandoned: a job whose planning fails every time is given
// up after maxJobAttempts, logged at ERROR and counted; the other jobs
// are planned.
func TestPoisonJobAbandoned(t *testing.T) {
	e := newNotifyEnv(t)
	srv := startMailServer(t)
	poison := e.create(t, "", "a@example.net", comment.StatusPending, false)
	good := e.create(t, "", "b@example.net", comment.StatusPending, false)
	reg := prometheus.NewPedanticRegistry()
	var logs bytes.Buffer
	w := e.worker(t, &failingStore{Store: e.s, failFor: poison.ID}, srv.addr, Site{Emails: []string{"mod@example.org"}}, &logs, reg)
	ctx := context.Background()
	for i := 1; i <= maxJobAttempts; i++ {
		w.Tick(ctx)
		if i == 1 && len(deliveryStates(t, e.path, comment.NotifyHeld, good.ID)) != 1 {
			t.Fatalf("the good job was not planned alongside the failing one")
		}
		if got := testutil.ToFloat64(w.jobsAbandoned); i < maxJobAttempts && got != 0 {
			t.Fatalf("abandoned after %d attempts", i)
		}
		e.clk.add(jobLease + time.Second)
	}
	if got := testutil.ToFloat64(w.jobsAbandoned); got != 1 {
		t.Errorf("commentd_notify_jobs_abandoned_total = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), poison.ID) {
		t.Errorf("no ERROR log naming the comment:\n%s", logs.String())
	}
	jobs, err := e.s.ClaimNotifyJobs(ctx, e.clk.now().Add(time.Hour), e.clk.now().Add(2*time.Hour), 10)
	if err != nil || len(jobs) != 0 {
		t.Errorf("jobs left = %+v, %v; want none", jobs, err)
	}
	if got := deliveryStates(t, e.path, comment.NotifyHeld, poison.ID); len(got) != 0 {
		t.Errorf("deliveries for the failing comment: %+v", got)
	}
}

// TestResultsRecordedAtShutdown: a message sent while the worker is told
// to stop is recorded as sent, not left to be sent again.
func TestResultsRecordedAtShutdown(t *testing.T) {
	e := newNotifyEnv(t)
	srv := startMailServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := e.worker(t, &failingStore{Store: e.s, cancel: cancel}, srv.addr, Site{Emails: []string{"mod@example.org"}}, nil, nil)
	c := e.create(t, "", "a@example.net", comment.StatusPending, false)
	w.Tick(ctx)
	if len(srv.messages()) != 1 {
		t.Fatalf("%d messages, want 1", len(srv.messages()))
	}
	if got := deliveryStates(t, e.path, comment.NotifyHeld, c.ID); len(got) != 1 || got[0].state != "sent" {
		t.Errorf("deliveries = %+v, want one sent", got)
	}
}

// TestRecheckedAtSend: a confirmation request is dropped when the address
// was confirmed before it went out, and due reply emails are dropped when
// the site stops offering them.
func TestRecheckedAtSend(t *testing.T) {
	e := newNotifyEnv(t)
	ctx := context.Background()
	down := closedAddr(t)
	w := e.worker(t, nil, down, Site{Replies: true}, nil, nil)
	parent := e.create(t, "", "parent@example.org", comment.StatusApproved, true)
	w.Tick(ctx) // the confirmation request fails: no server
	if got := deliveryStates(t, e.path, comment.NotifyConfirm, parent.ID); len(got) != 1 || got[0].state != "due" {
		t.Fatalf("confirmations = %+v, want one due", got)
	}
	if _, err := e.s.ConfirmReader(ctx, "blog", "parent@example.org", e.clk.now()); err != nil {
		t.Fatal(err)
	}
	reply := e.create(t, parent.ID, "other@example.org", comment.StatusApproved, false)
	w.Tick(ctx) // the reply email fails too
	if got := deliveryStates(t, e.path, comment.NotifyReply, reply.ID); len(got) != 1 || got[0].state != "due" {
		t.Fatalf("replies = %+v, want one due", got)
	}

	// The site turns reply emails off; a mail server is up now.
	srv := startMailServer(t)
	e.clk.add(24 * time.Hour)
	off := e.worker(t, nil, srv.addr, Site{Replies: false}, nil, nil)
	off.Tick(ctx)
	if got := deliveryStates(t, e.path, comment.NotifyConfirm, parent.ID); len(got) != 1 || got[0].state != "dropped" {
		t.Errorf("confirmations = %+v, want one dropped", got)
	}
	if got := deliveryStates(t, e.path, comment.NotifyReply, reply.ID); len(got) != 1 || got[0].state != "dropped" {
		t.Errorf("replies = %+v, want one dropped", got)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d messages went out", n)
	}
}

// TestConfirmDroppedOnceConfirmed: with reply emails on, a confirmation
// request still due when the address gets confirmed is not sent.
func TestConfirmDroppedOnceConfirmed(t *testing.T) {
	e := newNotifyEnv(t)
	ctx := context.Background()
	w := e.worker(t, nil, closedAddr(t), Site{Replies: true}, nil, nil)
	c := e.create(t, "", "reader@example.org", comment.StatusPending, true)
	w.Tick(ctx)
	if _, err := e.s.ConfirmReader(ctx, "blog", "Reader@example.org", e.clk.now()); err != nil {
		t.Fatal(err)
	}
	srv := startMailServer(t)
	e.clk.add(time.Hour)
	e.worker(t, nil, srv.addr, Site{Replies: true}, nil, nil).Tick(ctx)
	if got := deliveryStates(t, e.path, comment.NotifyConfirm, c.ID); len(got) != 1 || got[0].state != "dropped" {
		t.Errorf("confirmations = %+v, want one dropped", got)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d messages went out", n)
	}
}

// TestDigestTiming: a digest waits a whole period for others to join its
// first comment, lists the comments held meanwhile, and the next one goes
// out no less than a period after it.
func TestDigestTiming(t *testing.T) {
	e := newNotifyEnv(t)
	ctx := context.Background()
	srv := startMailServer(t)
	w := e.worker(t, nil, srv.addr, Site{Emails: []string{"mod@example.org"}, Digest: time.Hour}, nil, nil)
	start := e.clk.now()
	first := e.create(t, "", "a@example.net", comment.StatusPending, false)
	w.Tick(ctx)
	e.clk.add(40 * time.Minute)
	second := e.create(t, "", "b@example.net", comment.StatusPending, false)
	w.Tick(ctx)
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("%d messages before the period ended", n)
	}
	e.clk.set(start.Add(time.Hour - time.Second))
	w.Tick(ctx)
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("%d messages a second before the period ended", n)
	}
	e.clk.set(start.Add(time.Hour))
	w.Tick(ctx)
	msgs := srv.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], first.ID) || !strings.Contains(msgs[0], second.ID) {
		t.Fatalf("messages at the end of the period = %d, want one digest of both", len(msgs))
	}
	// A comment held just after: its digest waits a period from the last.
	e.clk.add(time.Minute)
	third := e.create(t, "", "c@example.net", comment.StatusPending, false)
	w.Tick(ctx)
	e.clk.set(start.Add(2*time.Hour + 59*time.Second))
	w.Tick(ctx)
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("%d messages less than a period after the digest, want still 1", n)
	}
	e.clk.set(start.Add(2*time.Hour + time.Minute))
	w.Tick(ctx)
	if msgs := srv.messages(); len(msgs) != 2 || !strings.Contains(msgs[1], third.ID) {
		t.Errorf("messages = %d, want a second digest with the third comment", len(msgs))
	}
}

// TestFailingCheckCountsAsAttempt: a delivery whose check at send time
// keeps failing is retried like a failed send and ends failed.
func TestFailingCheckCountsAsAttempt(t *testing.T) {
	e := newNotifyEnv(t)
	srv := startMailServer(t)
	w := e.worker(t, &failingStore{Store: e.s, commentFails: true}, srv.addr, Site{Emails: []string{"mod@example.org"}}, nil, nil)
	c := e.create(t, "", "a@example.net", comment.StatusPending, false)
	ctx := context.Background()
	w.Tick(ctx)
	got := deliveryStates(t, e.path, comment.NotifyHeld, c.ID)
	if len(got) != 1 || got[0].state != "due" || got[0].attempts != 1 || !strings.Contains(got[0].lastError, "database unreachable") {
		t.Fatalf("deliveries after one round = %+v, want one due after 1 attempt", got)
	}
	for range DefaultMaxAttempts {
		e.clk.add(2 * MaxRetryWait)
		w.Tick(ctx)
	}
	got = deliveryStates(t, e.path, comment.NotifyHeld, c.ID)
	if len(got) != 1 || got[0].state != "failed" || got[0].attempts != DefaultMaxAttempts {
		t.Errorf("deliveries = %+v, want one failed after %d attempts", got, DefaultMaxAttempts)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d messages went out", n)
	}
}
