//go:build faults

// Fault tests: the real commentd binary runs as a separate process and is
// killed, stopped, or cut off from its database while clients keep posting.
// They are slow, so they run apart from the other tests:
//
//	make test-faults
//	go test -race -count=1 -tags faults -run Fault ./cmd/commentd/
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/commentd/commentd/internal/testenv"
)

// faultBinary is the commentd executable the fault tests run, built once
// per test binary into a directory that TestMain removes.
var faultBinary struct {
	dir  string
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "commentd-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	faultBinary.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// commentdBinary builds ./cmd/commentd (with the race detector when the
// tests have it) the first time it is called and returns its path.
func commentdBinary(t *testing.T) string {
	t.Helper()
	faultBinary.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			if root := os.Getenv("GOROOT"); root != "" {
				goTool, err = filepath.Join(root, "bin", "go"), nil
			}
		}
		if err != nil {
			faultBinary.err = fmt.Errorf("no go command to build commentd with: %w", err)
			return
		}
		path := filepath.Join(faultBinary.dir, "commentd")
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		// The test runs in the package's directory.
		out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
		if err != nil {
			faultBinary.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		faultBinary.path = path
	})
	if faultBinary.err != nil {
		t.Fatal(faultBinary.err)
	}
	return faultBinary.path
}

// faultOptions are the settings a fault test varies.
type faultOptions struct {
	busyTimeout     time.Duration // sqlite_busy_timeout
	shutdownTimeout time.Duration // http.shutdown_timeout
}

// writeFaultConfig writes a configuration for one site whose rate limits no
// test reaches, and returns its path. Listen address and database come from
// the environment startProcess is given.
func writeFaultConfig(t *testing.T, site string, o faultOptions) string {
	t.Helper()
	if o.busyTimeout == 0 {
		o.busyTimeout = 5 * time.Second
	}
	if o.shutdownTimeout == 0 {
		o.shutdownTimeout = 10 * time.Second
	}
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
database_url: unused.db
redis_url: ""
sqlite_busy_timeout: %s
http: {read_header_timeout: 5s, read_timeout: 60s, write_timeout: 60s, idle_timeout: 60s, shutdown_timeout: %s}
rate_limit: {every: 1ms, burst: 100000}
sites:
  - id: %s
    name: Fault test site
    origins: [https://news.example]
`, o.busyTimeout, o.shutdownTimeout, site)
	path := filepath.Join(t.TempDir(), "commentd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// process is one commentd started by startProcess.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed once the process has exited
	state  *os.ProcessState
}

// startProcess runs `commentd serve --config configPath` with env as its
// whole environment (besides PATH and HOME) and returns once it listens.
// The process is killed when the test ends, if it still runs then.
func startProcess(t *testing.T, configPath string, env map[string]string) *process {
	t.Helper()
	bin := commentdBinary(t)
	cmd := exec.Command(bin, "serve", "--config", configPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{t: t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start commentd: %v", err)
	}
	go func() {
		_ = cmd.Wait() // the exit status is in ProcessState
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		p.checkRaces()
	})
	deadline := time.After(30 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(p.stdout.String()); m != nil {
			p.base = m[1]
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("commentd exited before listening (%v); stderr:\n%s", p.state, p.stderr.String())
		case <-deadline:
			t.Fatalf("commentd did not listen within 30s; stderr:\n%s", p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it to be gone.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL) // fails only once it has exited
	<-p.exited
}

// terminate sends SIGTERM, which begins a graceful shutdown.
func (p *process) terminate() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
}

// wait waits for the process to exit and returns its exit code; it fails
// the test (and kills the process) if that takes longer than d.
func (p *process) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.state.ExitCode()
	case <-time.After(d):
		p.kill()
		p.t.Fatalf("commentd still ran %s after it was told to stop; stderr:\n%s", d, p.stderr.String())
		return -1
	}
}

// checkRaces fails the test if the race detector reported anything in the
// server.
func (p *process) checkRaces() {
	if s := p.stderr.String(); strings.Contains(s, "WARNING: DATA RACE") {
		p.t.Errorf("data race in commentd:\n%s", s)
	}
}

// freeTCPPort returns a port of 127.0.0.1 that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logical is one comment a client means to post exactly once, whatever
// happens to the server meanwhile: every attempt whose outcome the client
// cannot know is repeated with the same body and the same Idempotency-Key.
type logical struct {
	client int
	key    string
	page   string
	email  string
	body   string

	// Written by the owning client under crowd.mu.
	attempts int
	unknown  int    // attempts with no answer, or a 5xx
	id       string // from the 201 that settled it
	conflict bool   // settled by a 409 after an unknown outcome
	settled  bool
}

// attempt is the outcome of one POST.
type attempt struct {
	at         time.Time
	client     int
	key        string
	status     int // 0: no answer
	retryAfter string
	id         string
	body       []byte
	err        error
}

// crowd is a set of clients, each posting a sequence of logical comments
// to whatever server address addr returns at the time.
type crowd struct {
	t      *testing.T
	site   string
	tag    string
	addr   func() string
	client *http.Client
	stop   atomic.Bool // finish the comment in hand, then return
	abort  atomic.Bool // return at once
	wg     sync.WaitGroup

	mu       sync.Mutex
	comments []*logical
	attempts []attempt
	problems []string // answers no client should ever get
}

func newCrowd(t *testing.T, site, tag string, addr func() string) *crowd {
	c := &crowd{t: t, site: site, tag: tag, addr: addr, client: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}}
	t.Cleanup(func() {
		c.abort.Store(true)
		c.wg.Wait()
		c.client.CloseIdleConnections()
	})
	return c
}

// start starts n clients.
func (c *crowd) start(n int) {
	for i := range n {
		c.wg.Add(1)
		go c.run(i)
	}
}

// finish lets every client settle the comment in hand and waits for them;
// it reports false if they are not done within d.
func (c *crowd) finish(d time.Duration) bool {
	c.stop.Store(true)
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		c.abort.Store(true)
		<-done
		return false
	}
}

func (c *crowd) run(client int) {
	defer c.wg.Done()
	for n := 0; !c.stop.Load() && !c.abort.Load(); n++ {
		lc := &logical{
			client: client,
			key:    testenv.UniqueName("idem-"),
			page:   fmt.Sprintf("/fault/%d", client%3),
			email:  fmt.Sprintf("client%d@example.org", client),
			body:   fmt.Sprintf("%s: client %d, comment %d", c.tag, client, n),
		}
		c.mu.Lock()
		c.comments = append(c.comments, lc)
		c.mu.Unlock()
		c.settle(lc)
	}
}

// settle posts lc until an answer settles it, or the crowd is aborted.
func (c *crowd) settle(lc *logical) {
	for !c.abort.Load() {
		a := c.post(lc)
		a.client = lc.client
		c.mu.Lock()
		c.attempts = append(c.attempts, a)
		lc.attempts++
		retry := false
		switch {
		case a.status == http.StatusCreated && a.id != "":
			lc.id, lc.settled = a.id, true
		case a.status == 0 && isRefused(a.err):
			retry = true // never reached a server: nothing to know
		case a.status == 0:
			lc.unknown++
			retry = true
		case a.status == http.StatusServiceUnavailable:
			if a.retryAfter == "" {
				c.problems = append(c.problems, fmt.Sprintf("503 without Retry-After for %q", lc.body))
			}
			lc.unknown++
			retry = true
		case a.status >= 500:
			c.problems = append(c.problems, fmt.Sprintf("%d for %q: %.200s", a.status, lc.body, a.body))
			lc.unknown++
			retry = true
		case a.status == http.StatusConflict && lc.unknown > 0:
			// Stored by an attempt whose answer was lost, but the retry
			// was not recognised by its key.
			lc.conflict, lc.settled = true, true
		default:
			c.problems = append(c.problems, fmt.Sprintf("%d for %q (attempt %d): %.200s", a.status, lc.body, lc.attempts, a.body))
			lc.settled = true
		}
		c.mu.Unlock()
		if !retry {
			return
		}
		time.Sleep(40 * time.Millisecond)
	}
}

func (c *crowd) post(lc *logical) attempt {
	return postComment(context.Background(), c.client, c.addr()+"/api/v1/sites/"+c.site+"/comments", lc)
}

// postComment sends lc once to url (a site's comments) and returns what
// came of it.
func postComment(ctx context.Context, client *http.Client, url string, lc *logical) attempt {
	body, _ := json.Marshal(map[string]string{"page": lc.page, "name": "Fault tester", "email": lc.email, "body": lc.body})
	a := attempt{key: lc.key}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.err, a.at = err, time.Now()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", lc.key)
	// Without a way to rewind the body, the transport does not resend the
	// request by itself on a broken keep-alive connection (it would, for
	// one with an Idempotency-Key): every attempt is the caller's, and one
	// that fails after being sent is not mistaken for a refused one.
	req.GetBody = nil
	resp, err := client.Do(req)
	if err != nil {
		a.err, a.at = err, time.Now()
		return a
	}
	defer resp.Body.Close()
	a.body, a.err = io.ReadAll(resp.Body)
	a.at = time.Now()
	if a.err != nil {
		return a // the answer was cut off: as good as none
	}
	a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	if a.status == http.StatusCreated {
		var r struct {
			Comment struct {
				ID string `json:"id"`
			} `json:"comment"`
		}
		if err := json.Unmarshal(a.body, &r); err != nil || r.Comment.ID == "" {
			a.status = -1 // counted as a problem: a 201 must name the comment
		}
		a.id = r.Comment.ID
	}
	return a
}

// unsettled returns the comments that have been tried but not settled.
func (c *crowd) unsettled() []*logical {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*logical
	for _, lc := range c.comments {
		if lc.attempts > 0 && !lc.settled {
			out = append(out, lc)
		}
	}
	return out
}

// crowdStats are the counts a fault test reports.
type crowdStats struct {
	comments, created, unknown, retried, conflicts, refused int
	statuses                                                map[int]int
}

func (c *crowd) stats() crowdStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := crowdStats{comments: len(c.comments), statuses: map[int]int{}}
	for _, lc := range c.comments {
		s.unknown += lc.unknown
		if lc.unknown > 0 && lc.settled {
			s.retried++
		}
		if lc.conflict {
			s.conflicts++
		}
	}
	for _, a := range c.attempts {
		switch {
		case a.status == 0 && isRefused(a.err):
			s.refused++
		default:
			s.statuses[a.status]++
		}
		if a.status == http.StatusCreated {
			s.created++
		}
	}
	return s
}

func (s crowdStats) String() string {
	codes := make([]int, 0, len(s.statuses))
	for code := range s.statuses {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, code := range codes {
		name := fmt.Sprint(code)
		if code == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, s.statuses[code]))
	}
	return fmt.Sprintf("%d logical comments, %d answered 201, %d unknown outcomes (no answer or 5xx), %d settled by a retry after one, %d retries answered 409, %d attempts refused; other attempts by status: %s",
		s.comments, s.created, s.unknown, s.retried, s.conflicts, s.refused, strings.Join(parts, ", "))
}

// checkStored compares what the clients were told with stored (the ids
// stored under each comment body): every comment answered 201 is stored
// once, under the id it was given; no comment is stored twice; nothing is
// stored that no client posted; and every client answer was one it may get.
func (c *crowd) checkStored(t *testing.T, stored map[string][]string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.problems {
		t.Errorf("bad answer: %s", p)
	}
	bodies := map[string]bool{}
	conflicts := 0
	for _, lc := range c.comments {
		bodies[lc.body] = true
		ids := stored[lc.body]
		switch {
		case len(ids) > 1:
			t.Errorf("%q is stored %d times (ids %v); it was posted with one Idempotency-Key (%d attempts)", lc.body, len(ids), ids, lc.attempts)
		case lc.id != "" && (len(ids) != 1 || ids[0] != lc.id):
			t.Errorf("%q was answered 201 with id %s, but the database holds %v", lc.body, lc.id, ids)
		case lc.conflict:
			conflicts++
			if len(ids) != 1 {
				t.Errorf("%q was answered 409 on retry, but is stored %d times", lc.body, len(ids))
			}
		case !lc.settled && !c.abort.Load():
			t.Errorf("%q was never settled", lc.body)
		}
	}
	if conflicts > 0 {
		t.Errorf("%d retries of comments stored by an earlier attempt were answered 409 (duplicate) instead of 201 with the original id: the Idempotency-Key was not honoured", conflicts)
	}
	for body, ids := range stored {
		if !bodies[body] {
			t.Errorf("stored comment %q (ids %v) was never posted", body, ids)
		}
	}
}

// sqliteComments returns the ids stored under each body on the site, from
// the database file itself.
func sqliteComments(t *testing.T, dbPath, site string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return commentsBySQL(t, db, "SELECT id, body FROM comments WHERE site_id = ?", site)
}

func commentsBySQL(t *testing.T, db *sql.DB, query string, args ...any) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatalf("read stored comments: %v", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		out[body] = append(out[body], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSQLiteFile runs SQLite's own consistency checks on the file and
// checks that every comment has exactly one submit event.
func checkSQLiteFile(t *testing.T, dbPath string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, pragma := range []string{"PRAGMA integrity_check", "PRAGMA foreign_key_check"} {
		rows, err := db.QueryContext(ctx, pragma)
		if err != nil {
			t.Fatalf("%s: %v", pragma, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprint(vals...))
		}
		rows.Close()
		want := []string{}
		if pragma == "PRAGMA integrity_check" {
			want = []string{"ok"}
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s = %q, want %q", pragma, lines, want)
		}
	}
	var bad int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM comments c
		WHERE (SELECT count(*) FROM comment_events e WHERE e.comment_id = c.id AND e.action = 'submit') != 1`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d comments do not have exactly one submit event", bad)
	}
}

// isRefused reports whether err is a refused connection: the request never
// reached a server.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
