package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/auth"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/postgres"
	"github.com/commentd/commentd/internal/store/sqlite"
	"github.com/commentd/commentd/internal/testenv"
)

// idemClock is a clock the test moves by hand.
type idemClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *idemClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *idemClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// idemServer is the real handler over st, with sites "blog" and "other"
// (burst submissions at once per reader), the in-process limiter and the
// given clock (nil: the real one).
type idemServer struct {
	*testServer
	st  comment.Store
	svc *moderation.Service
}

func newIdemServer(t *testing.T, st comment.Store, burst int, now func() time.Time) *idemServer {
	t.Helper()
	ctx := context.Background()
	if now == nil {
		now = time.Now
	}
	for _, s := range []comment.Site{
		{ID: "blog", Name: "Blog", Origins: []string{"https://blog.example"}, RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: burst}},
		{ID: "other", Name: "Other", Origins: []string{"https://other.example"}, RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: burst}},
	} {
		if err := st.UpsertSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	bus := events.NewLocal()
	limiter := ratelimit.NewLocal(now)
	svc := moderation.New(moderation.Deps{Store: st, Limiter: limiter, Renderer: markup.NewRenderer(), Secret: []byte("k"), Events: bus, Now: now})
	accounts, err := account.New(account.Deps{Store: st, Limiter: limiter, Static: auth.NewTokens(auth.AdminToken(testAdminToken))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewServer(Deps{Moderation: svc, Accounts: accounts, Events: bus}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &idemServer{testServer: &testServer{Server: srv}, st: st, svc: svc}
}

// openSQLiteStore opens a store on a new file, closed when the test ends.
func openSQLiteStore(t *testing.T) comment.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgresStore opens a store on a fresh schema of the test database,
// dropped when the test ends.
func openPostgresStore(t *testing.T) comment.Store {
	t.Helper()
	base := testenv.PostgresURL(t)
	schema := testenv.UniqueName("t_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// postKeyed posts v as JSON with the given Idempotency-Key header.
func (s *idemServer) postKeyed(t *testing.T, site, key string, v map[string]any) response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, "/api/v1/sites/"+site+"/comments", "application/json", bytes.NewReader(b),
		map[string]string{"Idempotency-Key": key})
}

// keyedAnswer is the 201 body, with the message.
type keyedAnswer struct {
	submitted
	Message string `json:"message"`
}

// created checks that r is a 201 and returns its body.
func created(t *testing.T, r response) keyedAnswer {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201; body %s", r.status, r.body)
	}
	var a keyedAnswer
	r.json(t, &a)
	if a.Comment.ID == "" || a.Status == "" || a.Message == "" {
		t.Fatalf("answer lacks id, status or message: %s", r.body)
	}
	return a
}

// keyFieldError checks that r is a 422 with a message on "idempotency_key"
// and returns the message.
func keyFieldError(t *testing.T, r response) string {
	t.Helper()
	var body errorBody
	r.json(t, &body)
	if r.status != http.StatusUnprocessableEntity || body.Fields["idempotency_key"] == "" {
		t.Fatalf("status %d, body %s; want 422 with a message on idempotency_key", r.status, r.body)
	}
	return body.Fields["idempotency_key"]
}

// stored returns the comments of site on the pending and approved lists.
func (s *idemServer) stored(t *testing.T, site string) []comment.Comment {
	t.Helper()
	var all []comment.Comment
	for _, st := range []comment.Status{comment.StatusPending, comment.StatusApproved, comment.StatusSpam} {
		cs, err := s.st.List(context.Background(), comment.ListFilter{SiteIDs: []string{site}, Status: st, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs...)
	}
	return all
}

func TestIdempotentRetryGetsFirstAnswer(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 10000, nil)
	sub := valid()
	first := s.postKeyed(t, "blog", "retry-1", sub)
	a := created(t, first)
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first answer says Idempotent-Replayed: %q", first.header.Get("Idempotent-Replayed"))
	}

	again := s.postKeyed(t, "blog", "retry-1", sub)
	b := created(t, again)
	if !bytes.Equal(again.body, first.body) {
		t.Errorf("replay body differs:\n got %s\nwant %s", again.body, first.body)
	}
	if b.Comment.ID != a.Comment.ID || b.Status != a.Status || b.Message != a.Message {
		t.Errorf("replay = %+v, want %+v", b, a)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: Idempotent-Replayed = %q, want true", again.header.Get("Idempotent-Replayed"))
	}
	for _, secret := range []string{sub["email"].(string), "127.0.0.1"} {
		if bytes.Contains(again.body, []byte(secret)) {
			t.Errorf("replay contains %q: %s", secret, again.body)
		}
	}

	// Decoded and trimmed fields are compared, not bytes: the same
	// submission with other white space around its fields, or posted as a
	// form, is the same submission.
	spaced := with(sub, "name", "  "+sub["name"].(string)+"\n", "body", sub["body"].(string)+"   ")
	if c := created(t, s.postKeyed(t, "blog", "retry-1", spaced)); c.Comment.ID != a.Comment.ID {
		t.Errorf("retry with extra white space stored %s, want the first comment %s", c.Comment.ID, a.Comment.ID)
	}
	form := url.Values{}
	for k, v := range sub {
		form.Set(k, v.(string))
	}
	fr := s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), map[string]string{"Idempotency-Key": "retry-1"})
	if fr.status != http.StatusCreated || !strings.Contains(string(fr.body), "awaiting moderation") {
		t.Errorf("the same submission as a form: status %d, body %.300s; want 201 and the first status message", fr.status, fr.body)
	}

	// A moderator's decision since does not change what the retry is told.
	if r := s.mod(t, "POST", "/comments/"+a.Comment.ID+"/approve", testAdminToken); r.status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if c := created(t, s.postKeyed(t, "blog", "retry-1", sub)); c.Status != "pending" || c.Message != a.Message {
		t.Errorf("replay after approval = %q %q, want the first answer %q %q", c.Status, c.Message, a.Status, a.Message)
	}
	if n := len(s.stored(t, "blog")); n != 1 {
		t.Errorf("%d comments stored, want 1", n)
	}
}

func TestIdempotencyKeyWithOtherSubmission(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 10000, nil)
	sub := valid()
	a := created(t, s.postKeyed(t, "blog", "k-1", sub))
	tests := []struct {
		name string
		sub  map[string]any
	}{
		{"another body", with(sub, "body", "Something else entirely.")},
		{"another name", with(sub, "name", "Bob Reader")},
		{"another email", with(sub, "email", "bob@example.org")},
		{"another page", with(sub, "page", "/2026/11/other")},
		{"a website added", with(sub, "website", "https://ann.example")},
		{"as a reply", with(sub, "parent_id", a.Comment.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := keyFieldError(t, s.postKeyed(t, "blog", "k-1", tt.sub))
			if !strings.Contains(msg, "already used") {
				t.Errorf("message %q does not say the key was already used", msg)
			}
		})
	}
	if cs := s.stored(t, "blog"); len(cs) != 1 || cs[0].ID != a.Comment.ID {
		t.Errorf("stored %v, want only the first comment", commentIDs(cs))
	}
	// The first submission still gets its answer.
	if c := created(t, s.postKeyed(t, "blog", "k-1", sub)); c.Comment.ID != a.Comment.ID {
		t.Errorf("replay after refusals = %s, want %s", c.Comment.ID, a.Comment.ID)
	}
}

func commentIDs(cs []comment.Comment) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestIdempotencyKeysArePerSite(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 10000, nil)
	sub := valid()
	a := created(t, s.postKeyed(t, "blog", "shared-key", sub))
	b := created(t, s.postKeyed(t, "other", "shared-key", sub))
	if a.Comment.ID == b.Comment.ID {
		t.Fatalf("both sites answered with comment %s", a.Comment.ID)
	}
	// A different submission with the key on a third party's site is new
	// there too, not a conflict.
	created(t, s.postKeyed(t, "other", "another-key", with(sub, "body", "Different.")))
	for site, want := range map[string]int{"blog": 1, "other": 2} {
		if n := len(s.stored(t, site)); n != want {
			t.Errorf("site %s: %d comments, want %d", site, n, want)
		}
	}
	if c := created(t, s.postKeyed(t, "other", "shared-key", sub)); c.Comment.ID != b.Comment.ID {
		t.Errorf("replay on other = %s, want %s", c.Comment.ID, b.Comment.ID)
	}
}

// TestConcurrentIdempotentSubmissions: 20 requests at once with one key
// store one comment and all get its answer, on both stores.
func TestConcurrentIdempotentSubmissions(t *testing.T) {
	for name, open := range map[string]func(*testing.T) comment.Store{"sqlite": openSQLiteStore, "postgres": openPostgresStore} {
		t.Run(name, func(t *testing.T) {
			s := newIdemServer(t, open(t), 10000, nil)
			sub := valid()
			const n = 20
			answers := make([]response, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					answers[i] = s.postKeyed(t, "blog", "double-click", sub)
				})
			}
			close(start)
			wg.Wait()
			var id string
			for i, r := range answers {
				a := created(t, r)
				if id == "" {
					id = a.Comment.ID
				}
				if a.Comment.ID != id || a.Status != "pending" {
					t.Errorf("answer %d: comment %s, status %s; want %s, pending", i, a.Comment.ID, a.Status, id)
				}
			}
			if cs := s.stored(t, "blog"); len(cs) != 1 || cs[0].ID != id {
				t.Errorf("stored %v, want only %s", commentIDs(cs), id)
			}
		})
	}
}

func TestReplayDoesNotSpendAllowance(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 3, nil)
	subs := []map[string]any{valid(), valid(), valid()}
	first := created(t, s.postKeyed(t, "blog", "a-1", subs[0]))
	created(t, s.postKeyed(t, "blog", "a-2", subs[1]))
	created(t, s.postKeyed(t, "blog", "a-3", subs[2]))
	for range 5 {
		if c := created(t, s.postKeyed(t, "blog", "a-1", subs[0])); c.Comment.ID != first.Comment.ID {
			t.Fatalf("replay = %s, want %s", c.Comment.ID, first.Comment.ID)
		}
	}
	if r := s.postKeyed(t, "blog", "a-4", valid()); r.status != http.StatusTooManyRequests {
		t.Errorf("a new comment after 3 and some replays: status %d, want 429; body %s", r.status, r.body)
	}
	if n := len(s.stored(t, "blog")); n != 3 {
		t.Errorf("%d comments stored, want 3", n)
	}
}

func TestExpiredIdempotencyKeyIsNew(t *testing.T) {
	clk := &idemClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	s := newIdemServer(t, openSQLiteStore(t), 10000, clk.now)
	sub := valid()
	a := created(t, s.postKeyed(t, "blog", "old-key", sub))

	clk.add(moderation.IdempotencyTTL - time.Second)
	if c := created(t, s.postKeyed(t, "blog", "old-key", sub)); c.Comment.ID != a.Comment.ID {
		t.Errorf("a second before the key expires: comment %s, want the first %s", c.Comment.ID, a.Comment.ID)
	}
	keyFieldError(t, s.postKeyed(t, "blog", "old-key", valid()))

	clk.add(time.Second)
	next := valid()
	b := created(t, s.postKeyed(t, "blog", "old-key", next))
	if b.Comment.ID == a.Comment.ID {
		t.Fatalf("after the key expired, another comment got the first answer")
	}
	// The expired record was replaced: the key now stands for the new
	// submission, and the first one is foreign to it.
	if c := created(t, s.postKeyed(t, "blog", "old-key", next)); c.Comment.ID != b.Comment.ID {
		t.Errorf("retry of the new submission = %s, want %s", c.Comment.ID, b.Comment.ID)
	}
	keyFieldError(t, s.postKeyed(t, "blog", "old-key", sub))
	if n := len(s.stored(t, "blog")); n != 2 {
		t.Errorf("%d comments stored, want 2", n)
	}
}

func TestInvalidIdempotencyKeys(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 10000, nil)
	tests := []struct {
		name   string
		header http.Header
	}{
		{"empty", http.Header{"Idempotency-Key": {""}}},
		{"too long", http.Header{"Idempotency-Key": {strings.Repeat("k", 201)}}},
		{"a tab", http.Header{"Idempotency-Key": {"a\tb"}}},
		{"not ASCII", http.Header{"Idempotency-Key": {"clé"}}},
		{"two headers", http.Header{"Idempotency-Key": {"one", "two"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/sites/blog/comments", strings.NewReader(`{"page":"/p","name":"N","email":"n@example.org","body":"Hi there"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header.Clone()
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body.Fields["idempotency_key"], "Idempotency-Key") {
				t.Errorf("status %d, body %+v; want 422 with a message on idempotency_key", resp.StatusCode, body)
			}
		})
	}
	// The longest key allowed, and one with every printable character.
	printable := make([]byte, 0, 95)
	for b := byte(0x20); b <= 0x7e; b++ {
		printable = append(printable, b)
	}
	for _, key := range []string{strings.Repeat("k", 200), "x" + string(printable) + "x"} {
		created(t, s.postKeyed(t, "blog", key, valid()))
	}
	if n := len(s.stored(t, "blog")); n != 2 {
		t.Errorf("%d comments stored, want the 2 with valid keys", n)
	}

	// A form post shows the message above the form.
	form := url.Values{"page": {"/p"}, "name": {"N"}, "email": {"n@example.org"}, "body": {"Hello"}}
	r := s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), map[string]string{"Idempotency-Key": strings.Repeat("k", 201)})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "The Idempotency-Key header must be 1 to 200 characters long.") {
		t.Errorf("form post with a bad key: status %d, body %.500s; want 422 with the message", r.status, r.body)
	}
}

// TestSpamReplayIsPending: a comment filed as spam was told it awaits
// moderation, and so is its retry.
func TestSpamReplayIsPending(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 10000, nil)
	bot := with(valid(), "url", "http://bot.example") // the honeypot
	a := created(t, s.postKeyed(t, "blog", "bot-1", bot))
	b := created(t, s.postKeyed(t, "blog", "bot-1", bot))
	if a.Status != "pending" || b.Status != "pending" || b.Comment.ID != a.Comment.ID || b.Message != a.Message {
		t.Errorf("spam answers: %+v then %+v; want the same pending answer", a, b)
	}
	cs := s.stored(t, "blog")
	if len(cs) != 1 || cs[0].Status != comment.StatusSpam {
		t.Errorf("stored %+v, want one spam comment", cs)
	}
}

func TestPreflightAllowsIdempotencyKey(t *testing.T) {
	s := newIdemServer(t, openSQLiteStore(t), 10000, nil)
	r := s.do(t, http.MethodOptions, "/api/v1/sites/blog/comments", "", nil, map[string]string{
		"Origin": "https://blog.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type,idempotency-key",
	})
	allowed := strings.Split(r.header.Get("Access-Control-Allow-Headers"), ",")
	found := false
	for _, h := range allowed {
		found = found || strings.EqualFold(strings.TrimSpace(h), "Idempotency-Key")
	}
	if !found {
		t.Errorf("Access-Control-Allow-Headers = %q, want Idempotency-Key in it", r.header.Get("Access-Control-Allow-Headers"))
	}
}

// TestPurgeIdempotencyKeys: the purge deletes keys once expired, and not
// before.
func TestPurgeIdempotencyKeys(t *testing.T) {
	clk := &idemClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	st := openSQLiteStore(t)
	s := newIdemServer(t, st, 10000, clk.now)
	created(t, s.postKeyed(t, "blog", "p-1", valid()))
	ctx := context.Background()
	if n, err := s.svc.PurgeIdempotencyKeys(ctx); err != nil || n != 0 {
		t.Errorf("purge before expiry = %d, %v; want 0", n, err)
	}
	clk.add(moderation.IdempotencyTTL)
	if n, err := s.svc.PurgeIdempotencyKeys(ctx); err != nil || n != 1 {
		t.Errorf("purge after expiry = %d, %v; want 1", n, err)
	}
	// Deleted, not just ignored: it is not there even for an earlier time.
	if _, err := st.FindIdempotencyKey(ctx, "blog", "p-1", clk.now().Add(-moderation.IdempotencyTTL)); err == nil {
		t.Error("the purged key is still stored")
	}
}
