package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/commentd/commentd/internal/testenv"
)

// syncBuffer collects a server's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one commentd started in-process through run.
type instance struct {
	base   string
	token  string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   context.CancelFunc // begins a graceful shutdown, as SIGTERM does
	done   chan struct{}      // closed when run has returned
	err    *error             // what run returned, once done is closed
}

type setup struct {
	env  map[string]string
	yaml string
}

var listenRE = regexp.MustCompile(`commentd listening on (http://\S+)`)
var tokenRE = regexp.MustCompile(`admin token for this run .*: (\S+)`)

// start runs the binary's run function with the given environment only (the
// test's own environment is not consulted) and waits until it listens.
func start(t *testing.T, s setup) *instance {
	t.Helper()
	dir := t.TempDir()
	args := []string{"serve"}
	if s.yaml != "" {
		path := filepath.Join(dir, "commentd.yaml")
		if err := os.WriteFile(path, []byte(s.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	env := map[string]string{
		"COMMENTD_LISTEN":       "127.0.0.1:0",
		"COMMENTD_DATABASE_URL": filepath.Join(dir, "data", "commentd.db"),
		"COMMENTD_REDIS_URL":    "",
	}
	for k, v := range s.env {
		env[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	inst := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, done: done, err: &runErr}
	go func() {
		defer close(done)
		runErr = run(ctx, args, lookup, strings.NewReader(""), inst.stdout, inst.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil && !t.Failed() {
				t.Errorf("run returned %v", runErr)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(inst.stdout.String()); m != nil {
			inst.base = m[1]
			inst.token = env["COMMENTD_ADMIN_TOKEN"]
			if tm := tokenRE.FindStringSubmatch(inst.stdout.String()); tm != nil {
				inst.token = tm[1]
			}
			return inst
		}
		select {
		case <-done:
			t.Fatalf("run ended before listening: %v\nstderr:\n%s", runErr, inst.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line; stdout:\n%s\nstderr:\n%s", inst.stdout.String(), inst.stderr.String())
	return nil
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (in *instance) call(t *testing.T, method, path string, body io.Reader, header map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, in.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func (in *instance) post(t *testing.T, site string, v any, header map[string]string) result {
	t.Helper()
	b, _ := json.Marshal(v)
	h := map[string]string{"Content-Type": "application/json"}
	for k, val := range header {
		h[k] = val
	}
	return in.call(t, "POST", "/api/v1/sites/"+site+"/comments", bytes.NewReader(b), h)
}

func (in *instance) mod(t *testing.T, method, path string) result {
	t.Helper()
	return in.call(t, method, "/api/v1/moderation"+path, nil, map[string]string{"Authorization": "Bearer " + in.token})
}

func siteYAML(site string, extra string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
database_url: unused.db
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 15s, burst: 3}
sites:
  - id: %s
    name: Test site
    origins: [https://news.example]
%s`, site, extra)
}

type threadBody struct {
	Total    int `json:"total"`
	Comments []struct {
		ID      string `json:"id"`
		Replies []struct {
			ID string `json:"id"`
		} `json:"replies"`
	} `json:"comments"`
}

// pgSchemaURL creates a fresh schema and returns a URL whose connections
// use it.
func pgSchemaURL(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	schema := testenv.UniqueName("e2e_")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestLeaveAReplyPath walks the whole path over HTTP on both stores: a bad
// submission, a good one held, approval, a nested reply, a form post.
func TestLeaveAReplyPath(t *testing.T) {
	for _, st := range databases() {
		t.Run(st.name, func(t *testing.T) {
			site := testenv.UniqueName("s")
			in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{
				"COMMENTD_DATABASE_URL": st.db(t), "COMMENTD_REDIS_URL": testenv.RedisURL(t),
			}})
			page := "/2026/11/doha-talks"

			bad := in.post(t, site, map[string]any{"page": page, "name": " ", "email": "x@", "body": ""}, nil)
			if bad.status != 422 {
				t.Fatalf("bad submission: status %d, body %s", bad.status, bad.body)
			}
			var verr struct {
				Fields map[string]string `json:"fields"`
			}
			bad.decode(t, &verr)
			for _, f := range []string{"name", "email", "body"} {
				if verr.Fields[f] == "" {
					t.Errorf("no error for %s in %s", f, bad.body)
				}
			}

			good := in.post(t, site, map[string]any{"page": page, "page_url": "https://news.example" + page, "name": "Ann", "email": "ann@example.org", "body": "Good *news*."}, nil)
			if good.status != 201 {
				t.Fatalf("good submission: status %d, body %s", good.status, good.body)
			}
			var created struct {
				Comment struct{ ID string } `json:"comment"`
				Status  string              `json:"status"`
			}
			good.decode(t, &created)
			if created.Status != "pending" || created.Comment.ID == "" {
				t.Fatalf("created = %+v, want a pending comment with an id", created)
			}
			var th threadBody
			in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page="+url.QueryEscape(page), nil, nil).decode(t, &th)
			if th.Total != 0 {
				t.Fatalf("pending comment is public: %+v", th)
			}
			if r := in.mod(t, "POST", "/comments/"+created.Comment.ID+"/approve"); r.status != 200 {
				t.Fatalf("approve: status %d, body %s", r.status, r.body)
			}
			in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page="+url.QueryEscape(page), nil, nil).decode(t, &th)
			if th.Total != 1 || th.Comments[0].ID != created.Comment.ID {
				t.Fatalf("after approval thread = %+v", th)
			}

			reply := in.post(t, site, map[string]any{"page": page, "parent_id": created.Comment.ID, "name": "Bo", "email": "bo@example.org", "body": "Reply."}, nil)
			var rc struct {
				Comment struct{ ID string } `json:"comment"`
			}
			reply.decode(t, &rc)
			in.mod(t, "POST", "/comments/"+rc.Comment.ID+"/approve")
			in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page="+url.QueryEscape(page), nil, nil).decode(t, &th)
			if th.Total != 2 || len(th.Comments) != 1 || len(th.Comments[0].Replies) != 1 || th.Comments[0].Replies[0].ID != rc.Comment.ID {
				t.Fatalf("reply does not nest: %+v", th)
			}

			form := url.Values{"page": {page}, "page_url": {"https://news.example" + page}, "name": {"Cy"}, "email": {"cy@example.org"}, "body": {"By form."}}
			fr := in.call(t, "POST", "/api/v1/sites/"+site+"/comments", strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if fr.status != 303 || !strings.HasPrefix(fr.header.Get("Location"), "https://news.example"+page+"#comment-") {
				t.Fatalf("form post: status %d, Location %q", fr.status, fr.header.Get("Location"))
			}
		})
	}
}

// TestRateLimitAcrossInstances: two servers sharing one Redis share one
// bucket per client address.
func TestRateLimitAcrossInstances(t *testing.T) {
	site := testenv.UniqueName("s")
	env := map[string]string{"COMMENTD_REDIS_URL": testenv.RedisURL(t), "COMMENTD_SECRET": "shared-secret"}
	a := start(t, setup{yaml: siteYAML(site, ""), env: env})
	b := start(t, setup{yaml: siteYAML(site, ""), env: env})
	statuses := []int{}
	for i, in := range []*instance{a, b, a, b, a} {
		r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("n%d@example.org", i), "body": "hello"}, nil)
		statuses = append(statuses, r.status)
	}
	want := []int{201, 201, 201, 429, 429}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("statuses across two instances = %v, want %v", statuses, want)
	}
}

// TestForwardedFor: X-Forwarded-For from an untrusted peer is ignored, so
// random values share the peer's bucket; from a trusted proxy it is used.
func TestForwardedFor(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	randomIP := func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return fmt.Sprintf("%d.%d.%d.%d", b[0]|1, b[1], b[2], b[3]|1)
	}
	t.Run("untrusted peer", func(t *testing.T) {
		site := testenv.UniqueName("s")
		in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_REDIS_URL": redisURL}})
		counts := map[int]int{}
		for i := range 50 {
			r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("u%d@example.org", i), "body": "x"},
				map[string]string{"X-Forwarded-For": randomIP()})
			counts[r.status]++
			if r.status == 429 && r.header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
		if counts[201] != 3 || counts[429] != 47 {
			t.Fatalf("statuses = %v, want 3×201 and 47×429", counts)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		site := testenv.UniqueName("s")
		in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_REDIS_URL": redisURL, "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}})
		ip := randomIP()
		for i := range 10 {
			r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("t%d@example.org", i), "body": "x"},
				map[string]string{"X-Forwarded-For": randomIP()})
			if r.status != 201 {
				t.Fatalf("post %d from a distinct client behind the proxy: status %d", i, r.status)
			}
		}
		var id string
		for i := range 4 {
			r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("same%d@example.org", i), "body": "x"},
				map[string]string{"X-Forwarded-For": "203.0.113.9, " + ip})
			if want := map[bool]int{true: 201, false: 429}[i < 3]; r.status != want {
				t.Fatalf("post %d from one client: status %d, want %d", i, r.status, want)
			}
			if i == 0 {
				var c struct {
					Comment struct{ ID string } `json:"comment"`
				}
				r.decode(t, &c)
				id = c.Comment.ID
			}
		}
		var full struct {
			Comment struct{ IP string } `json:"comment"`
		}
		in.mod(t, "GET", "/comments/"+id).decode(t, &full)
		if full.Comment.IP != ip {
			t.Errorf("stored ip = %q, want the client %q (the rightmost untrusted address)", full.Comment.IP, ip)
		}
	})
}

// TestRedisDown: with nothing listening at the Redis address the service
// starts, accepts comments, limits them in-process and counts the fallbacks.
func TestRedisDown(t *testing.T) {
	site := testenv.UniqueName("s")
	in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_REDIS_URL": "redis://127.0.0.1:1/0"}})
	// The log is flushed every 100 ms.
	for deadline := time.Now().Add(3 * time.Second); !strings.Contains(in.stderr.String(), "Redis does not answer"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("no warning about Redis in the log:\n%s", in.stderr.String())
			break
		}
	}
	statuses := []int{}
	for i := range 4 {
		r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("d%d@example.org", i), "body": "x"}, nil)
		statuses = append(statuses, r.status)
	}
	if fmt.Sprint(statuses) != "[201 201 201 429]" {
		t.Fatalf("statuses with Redis down = %v, want [201 201 201 429]", statuses)
	}
	metrics := string(in.call(t, "GET", "/metrics", nil, nil).body)
	m := regexp.MustCompile(`(?m)^commentd_ratelimit_fallbacks_total (\d+)`).FindStringSubmatch(metrics)
	if m == nil || m[1] == "0" {
		t.Errorf("fallback counter not counted; metrics line: %v", m)
	}
	if r := in.call(t, "GET", "/readyz", nil, nil); r.status != 503 || !strings.Contains(string(r.body), `"redis":"unavailable"`) {
		t.Errorf("readyz = %d %s, want 503 naming redis", r.status, r.body)
	}
}

// TestPrivacyOfPublicRoutes submits comments with unique emails and client
// addresses, approves them, then fetches every public route and looks for
// the addresses, or hashes of the emails, in the bytes.
func TestPrivacyOfPublicRoutes(t *testing.T) {
	site := "demo"
	dbPath := filepath.Join(t.TempDir(), "c.db")
	in := start(t, setup{env: map[string]string{"COMMENTD_DATABASE_URL": dbPath, "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}})
	type secret struct{ email, ip string }
	var secrets []secret
	var bodies [][]byte
	page := "/demo/"
	var ids []string
	for i := range 6 {
		s := secret{email: fmt.Sprintf("private.%s@example.org", testenv.UniqueName("p")), ip: fmt.Sprintf("198.51.100.%d", 10+i)}
		secrets = append(secrets, s)
		r := in.post(t, site, map[string]any{"page": page, "page_url": "http://127.0.0.1:8080/demo/", "name": "Reader " + fmt.Sprint(i), "email": s.email, "website": "https://reader.example", "body": "Hello " + fmt.Sprint(i)},
			map[string]string{"X-Forwarded-For": s.ip, "User-Agent": "SecretAgent/" + fmt.Sprint(i)})
		if r.status != 201 {
			t.Fatalf("submit: %d %s", r.status, r.body)
		}
		bodies = append(bodies, r.body)
		var c struct {
			Comment struct{ ID string } `json:"comment"`
		}
		r.decode(t, &c)
		ids = append(ids, c.Comment.ID)
	}
	for _, id := range ids[:4] {
		in.mod(t, "POST", "/comments/"+id+"/approve")
	}
	reply := in.post(t, site, map[string]any{"page": page, "parent_id": ids[0], "name": "R", "email": secrets[0].email, "body": "again"}, map[string]string{"X-Forwarded-For": secrets[0].ip})
	bodies = append(bodies, reply.body)

	public := []string{
		"/api/v1/sites/demo/comments?page=" + url.QueryEscape(page),
		"/api/v1/sites/demo/counts?page=" + url.QueryEscape(page),
		"/demo/",
		"/api/v1/sites/nosuch/comments?page=x",
		"/api/v1/sites/demo/comments",
		"/healthz", "/readyz", "/static/commentd.css",
		"/sites/demo/thread?page=" + url.QueryEscape(page),
		"/sites/demo/thread?page=" + url.QueryEscape(page) + "&replytocom=" + ids[0],
		"/embed.js", "/embed.json?site=demo", "/static/embed.css",
		"/api/v1/sites/demo/form-token?page=" + url.QueryEscape(page),
		"/admin/login",
	}
	for _, p := range public {
		bodies = append(bodies, in.call(t, "GET", p, nil, nil).body)
	}
	// Form posts from one of the readers: redirects, then rate-limited.
	// When a form comes back to be corrected, it keeps what that reader
	// typed, their own email included, in the answer to their own post
	// (never cached); everyone else's data must still be absent.
	form := url.Values{"page": {page}, "page_url": {"http://127.0.0.1:8080/demo/"}, "name": {"F"}, "email": {secrets[1].email}, "body": {"form"}}
	var ownForms [][]byte
	for range 4 {
		r := in.call(t, "POST", "/api/v1/sites/demo/comments", strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": secrets[1].ip})
		bodies = append(bodies, []byte(r.header.Get("Location")))
		ownForms = append(ownForms, r.body)
		if r.status != 303 && r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("form answer %d may be cached: Cache-Control %q", r.status, r.header.Get("Cache-Control"))
		}
	}
	for _, b := range ownForms {
		for i, s := range secrets {
			if i != 1 && bytes.Contains(b, []byte(s.email)) {
				t.Errorf("a reader's form answer contains another reader's email %q", s.email)
			}
		}
		if bytes.Contains(b, []byte(secrets[1].ip)) {
			t.Errorf("a reader's form answer contains their IP")
		}
	}
	for _, s := range secrets {
		md := md5.Sum([]byte(s.email))
		sh := sha256.Sum256([]byte(s.email))
		needles := []string{s.email, s.ip, hex.EncodeToString(md[:]), hex.EncodeToString(sh[:]), "SecretAgent"}
		for _, b := range bodies {
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("public response contains %q: %.200s", n, b)
				}
			}
		}
	}
	// The demo page shows the approved comments it is built from.
	demo := string(in.call(t, "GET", "/demo/", nil, nil).body)
	if !strings.Contains(demo, "Reader 0") || !strings.Contains(demo, "4 Responses") {
		t.Errorf("demo page does not show the approved comments")
	}
}

// holdWriteLock takes SQLite's write lock on the file from another
// connection, as a long write transaction would, and returns that connection
// (ROLLBACK releases the lock). The connection closes at the end of the test.
func holdWriteLock(t *testing.T, dbPath string) *sql.Conn {
	t.Helper()
	// The busy timeout lets it wait out the server's own short writes at
	// start (retention, key and notification purges).
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// databases are the two stores end-to-end tests run on: a fresh SQLite file
// and a fresh PostgreSQL schema.
func databases() []struct {
	name string
	db   func(t *testing.T) string
} {
	return []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "c.db") }},
		{"postgres", pgSchemaURL},
	}
}

// TestDatabaseLocked: when another connection holds SQLite's write lock for
// longer than the busy timeout, a submission gets 503 and Retry-After, never
// a 201, and succeeds once the lock is gone.
func TestDatabaseLocked(t *testing.T) {
	site := testenv.UniqueName("s")
	dbPath := filepath.Join(t.TempDir(), "c.db")
	in := start(t, setup{yaml: siteYAML(site, "sqlite_busy_timeout: 150ms\n"), env: map[string]string{"COMMENTD_DATABASE_URL": dbPath}})
	conn := holdWriteLock(t, dbPath)
	ctx := context.Background()
	body := map[string]any{"page": "/p", "name": "N", "email": "n@example.org", "body": "x"}
	r := in.post(t, site, body, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("while locked: status %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if r := in.post(t, site, body, nil); r.status != 201 {
		t.Fatalf("after the lock: status %d, body %s", r.status, r.body)
	}
	var q struct {
		Comments []struct{ ID string } `json:"comments"`
	}
	in.mod(t, "GET", "/comments?site="+site).decode(t, &q)
	if len(q.Comments) != 1 {
		t.Errorf("queue has %d comments, want exactly the one acknowledged", len(q.Comments))
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, func(string) (string, bool) { return "", false }, strings.NewReader(""), &out, &errb); err == nil {
		t.Error("unknown command accepted")
	}
	if !strings.Contains(errb.String(), "usage") {
		t.Errorf("no usage on stderr: %q", errb.String())
	}
}

func TestBadConfigFails(t *testing.T) {
	var out, errb bytes.Buffer
	env := func(k string) (string, bool) {
		if k == "COMMENTD_TRUSTED_PROXIES" {
			return "not-a-cidr", true
		}
		return "", false
	}
	err := run(context.Background(), []string{"serve"}, env, strings.NewReader(""), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "trusted_proxies") {
		t.Errorf("err = %v, want one naming trusted_proxies", err)
	}
}

// TestGracefulShutdown: a submission in flight when shutdown begins (held up
// by a database lock) still completes with 201 and is stored; run returns
// cleanly afterwards.
func TestGracefulShutdown(t *testing.T) {
	site := testenv.UniqueName("s")
	dbPath := filepath.Join(t.TempDir(), "c.db")
	in := start(t, setup{yaml: siteYAML(site, "sqlite_busy_timeout: 10s\n"), env: map[string]string{"COMMENTD_DATABASE_URL": dbPath}})
	conn := holdWriteLock(t, dbPath)
	ctx := context.Background()
	type outcome struct {
		status int
		err    error
	}
	posted := make(chan outcome, 1)
	go func() {
		resp, err := http.Post(in.base+"/api/v1/sites/"+site+"/comments", "application/json",
			strings.NewReader(`{"page":"/p","name":"N","email":"n@example.org","body":"in flight"}`))
		if err != nil {
			posted <- outcome{err: err}
			return
		}
		resp.Body.Close()
		posted <- outcome{status: resp.StatusCode}
	}()
	// Let the request reach the database and wait on the lock, then begin
	// the shutdown and only afterwards release the lock.
	time.Sleep(300 * time.Millisecond)
	in.stop()
	time.Sleep(300 * time.Millisecond)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if r := <-posted; r.err != nil || r.status != 201 {
		t.Fatalf("in-flight submission: status %d, err %v; want 201", r.status, r.err)
	}
	<-in.done
	if *in.err != nil {
		t.Fatalf("run after shutdown: %v", *in.err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM comments WHERE body = 'in flight'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("stored %d copies of the acknowledged comment, want 1", n)
	}
	if !strings.Contains(in.stderr.String(), "shutting down") {
		t.Errorf("no shutdown line in the log")
	}
}

// TestHostileInputOnBothStores sends input that a store could choke on
// (invalid UTF-8, NUL, odd ids and cursors, a body cut short) and expects a
// clear 4xx or an accepted comment, never a 500, on SQLite and PostgreSQL.
func TestHostileInputOnBothStores(t *testing.T) {
	for _, st := range databases() {
		t.Run(st.name, func(t *testing.T) {
			site := testenv.UniqueName("s")
			in := start(t, setup{yaml: strings.Replace(siteYAML(site, ""), "burst: 3", "burst: 1000", 1), env: map[string]string{"COMMENTD_DATABASE_URL": st.db(t)}})
			valid := map[string]any{"page": "/p", "name": "N", "email": "n@example.org", "body": "x"}
			b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
			tests := []struct {
				name   string
				do     func(t *testing.T) result
				wantOK func(status int) bool
			}{
				{"user agent with invalid UTF-8", func(t *testing.T) result {
					return in.post(t, site, valid, map[string]string{"User-Agent": "Mozilla\xff\xfe/5.0 (\xc0\xaf)"})
				}, func(s int) bool { return s == 201 }},
				{"huge user agent", func(t *testing.T) result {
					return in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": "n@example.org", "body": "another"}, map[string]string{"User-Agent": strings.Repeat("u", 20000)})
				}, func(s int) bool { return s == 201 }},
				{"parent id with invalid UTF-8", func(t *testing.T) result {
					return in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": "n@example.org", "body": "x", "parent_id": "\xff\xfe"}, nil)
				}, func(s int) bool { return s == 400 || s == 422 }},
				{"comment id with invalid UTF-8", func(t *testing.T) result { return in.mod(t, "GET", "/comments/%FF%FE%00") }, func(s int) bool { return s == 404 }},
				{"approve id with NUL", func(t *testing.T) result { return in.mod(t, "POST", "/comments/a%00b/approve") }, func(s int) bool { return s == 404 }},
				{"cursor with invalid UTF-8", func(t *testing.T) result { return in.mod(t, "GET", "/comments?cursor="+b64("1.\xff\x00")) }, func(s int) bool { return s == 422 }},
				{"cursor before year 1", func(t *testing.T) result { return in.mod(t, "GET", "/comments?cursor="+b64("-210866803200000001.x")) }, func(s int) bool { return s == 422 }},
				{"page key with invalid UTF-8", func(t *testing.T) result {
					return in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page=%FF%FE", nil, nil)
				}, func(s int) bool { return s == 422 }},
				{"counts key with NUL", func(t *testing.T) result {
					return in.call(t, "GET", "/api/v1/sites/"+site+"/counts?page=a%00b", nil, nil)
				}, func(s int) bool { return s == 422 }},
				{"site id with invalid UTF-8", func(t *testing.T) result {
					return in.call(t, "GET", "/api/v1/sites/%FF/comments?page=/p", nil, nil)
				}, func(s int) bool { return s == 404 }},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := tt.do(t)
					if !tt.wantOK(r.status) {
						t.Errorf("status = %d, body %.300s", r.status, r.body)
					}
				})
			}
			t.Run("body cut short", func(t *testing.T) {
				status := truncatedPost(t, in.base, "/api/v1/sites/"+site+"/comments")
				if status != 400 {
					t.Errorf("status = %d, want 400", status)
				}
			})
			if strings.Contains(in.stderr.String(), "level=ERROR") {
				t.Errorf("hostile input was logged as an internal error:\n%s", in.stderr.String())
			}
		})
	}
}

// truncatedPost announces a longer body than it sends, then stops writing,
// and returns the status the server answers with.
func truncatedPost(t *testing.T, base, path string) int {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"page\":", path, u.Host)
	conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEmailLimitAcrossInstances: one email address posting from different
// client addresses to two instances shares one bucket, because the
// instances share the database's secret for the email key.
func TestEmailLimitAcrossInstances(t *testing.T) {
	site := testenv.UniqueName("s")
	db := pgSchemaURL(t)
	env := map[string]string{"COMMENTD_REDIS_URL": testenv.RedisURL(t), "COMMENTD_DATABASE_URL": db, "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}
	a := start(t, setup{yaml: siteYAML(site, ""), env: env})
	b := start(t, setup{yaml: siteYAML(site, ""), env: env})
	var statuses []int
	for i, in := range []*instance{a, b, a, b} {
		r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": "same.reader@example.org", "body": fmt.Sprint("hello ", i)},
			map[string]string{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", 10+i)})
		statuses = append(statuses, r.status)
	}
	if fmt.Sprint(statuses) != "[201 201 201 429]" {
		t.Fatalf("one email from four addresses over two instances: %v, want [201 201 201 429]", statuses)
	}
}

// TestShutdownEndsEventStreams: an open live-event stream does not hold up a
// graceful shutdown.
func TestShutdownEndsEventStreams(t *testing.T) {
	site := testenv.UniqueName("s")
	in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_ADMIN_TOKEN": "stream-test-admin-token"}})
	req, err := http.NewRequest("GET", in.base+"/api/v1/moderation/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer stream-test-admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("event stream: status %d", resp.StatusCode)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("stream did not open: %q %v", line, err)
	}
	in.stop()
	<-in.done
	if *in.err != nil {
		t.Fatalf("run with an open stream at shutdown: %v", *in.err)
	}
}
