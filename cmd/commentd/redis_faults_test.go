package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/testenv"
)

// The bound on any one request while Redis is stopped or stalled: the
// limiter gives up on Redis after 100ms, and the bus and the thread cache
// after as much again; the rest is margin for a loaded test machine. A
// request that waited for a 5s pause to end would exceed it.
const rfBound = 2 * time.Second

// rfDetail is what moderators read on a comment held because Redis did not
// answer.
const rfDetail = "Redis did not answer"

// rfEnv is one commentd instance on a private Redis, with a site whose
// rules approve clean comments.
type rfEnv struct {
	in     *instance
	redis  *testenv.RedisProcess
	site   string
	db     string
	token  string // the form token of page /p
	seq    atomic.Int64
	client *http.Client
}

func newRFEnv(t *testing.T) *rfEnv {
	t.Helper()
	e := &rfEnv{
		redis:  testenv.PrivateRedisProcess(t),
		site:   testenv.UniqueName("s"),
		db:     filepath.Join(t.TempDir(), "c.db"),
		client: &http.Client{Timeout: 30 * time.Second},
	}
	if out, err := cli(t, e.db, "the right password 42\n", "user", "create", "--email", "mod@example.org", "--role", "admin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	e.in = start(t, setup{yaml: siteYAML(e.site, ""), env: map[string]string{
		"COMMENTD_DATABASE_URL":    e.db,
		"COMMENTD_REDIS_URL":       e.redis.URL(),
		"COMMENTD_ADMIN_TOKEN":     "redis-faults-admin-token-0123456789",
		"COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32",
	}})
	doc := e.in.rules(t, e.site)
	doc["mode"] = "hold_on_hits"
	doc["min_submit_seconds"] = 0
	doc["hold_words"] = []string{"casino"}
	// One address may post three at once, as by default; nothing else
	// limits the crowd of distinct readers below.
	wide := map[string]any{"every": "1ms", "burst": 100000}
	doc["rate_limits"] = map[string]any{
		"ip": map[string]any{"every": "15s", "burst": 3}, "email": wide, "prefix": wide, "page": wide, "site": wide,
	}
	if r := e.in.putRules(t, e.site, doc); r.status != 200 {
		t.Fatalf("put rules: %d %s", r.status, r.body)
	}
	var tok struct{ Token string }
	e.in.call(t, "GET", "/api/v1/sites/"+e.site+"/form-token?page=/p", nil, nil).decode(t, &tok)
	e.token = tok.Token
	return e
}

// rfOutcome is the answer to one submission.
type rfOutcome struct {
	start  time.Time
	took   time.Duration
	status int
	state  string // the status in a 201's body: approved or pending
	id     string
	err    error
}

// submit posts one clean comment from ip (a fresh address when empty), as
// a reader's browser would; safe to call from any goroutine.
func (e *rfEnv) submit(ip, body string) rfOutcome {
	n := e.seq.Add(1)
	if ip == "" {
		ip = fmt.Sprintf("10.%d.%d.%d", n/62500%250, n/250%250, n%250+1)
	}
	if body == "" {
		body = fmt.Sprintf("Comment number %d.", n)
	}
	b, _ := json.Marshal(map[string]any{"page": "/p", "name": "Reader", "email": fmt.Sprintf("r%d@example.org", n), "body": body, "form_token": e.token})
	req, err := http.NewRequest("POST", e.in.base+"/api/v1/sites/"+e.site+"/comments", bytes.NewReader(b))
	if err != nil {
		return rfOutcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	out := rfOutcome{start: time.Now()}
	resp, err := e.client.Do(req)
	out.took = time.Since(out.start)
	if err != nil {
		out.err = err
		return out
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		out.err = err
		return out
	}
	out.status = resp.StatusCode
	if out.status == http.StatusCreated {
		var created struct {
			Comment struct{ ID string } `json:"comment"`
			Status  string              `json:"status"`
		}
		if err := json.Unmarshal(raw, &created); err != nil {
			out.err = fmt.Errorf("decode %s: %w", raw, err)
		}
		out.id, out.state = created.Comment.ID, created.Status
	}
	return out
}

// load has clients readers post, each about every 20ms, for d.
func (e *rfEnv) load(clients int, d time.Duration) []rfOutcome {
	var (
		mu  sync.Mutex
		all []rfOutcome
		wg  sync.WaitGroup
	)
	end := time.Now().Add(d)
	for range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				o := e.submit("", "")
				mu.Lock()
				all = append(all, o)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return all
}

// checkAnswered fails unless every submission got 201 or 429 within
// rfBound, and returns the slowest.
func checkAnswered(t *testing.T, phase string, outs []rfOutcome) time.Duration {
	t.Helper()
	if len(outs) == 0 {
		t.Fatalf("%s: no submissions were made", phase)
	}
	var slowest time.Duration
	for i, o := range outs {
		slowest = max(slowest, o.took)
		if o.err != nil {
			t.Errorf("%s: submission %d: %v", phase, i, o.err)
			continue
		}
		if o.status != http.StatusCreated && o.status != http.StatusTooManyRequests {
			t.Errorf("%s: submission %d answered %d, want 201 or 429", phase, i, o.status)
		}
	}
	if slowest > rfBound {
		t.Errorf("%s: the slowest of %d submissions took %v, want at most %v", phase, len(outs), slowest, rfBound)
	}
	return slowest
}

// reasons returns the stored status and reasons of a comment, as its
// moderator sees them.
func (e *rfEnv) reasons(t *testing.T, id string) (string, []struct{ Rule, Detail string }) {
	t.Helper()
	var full struct {
		Comment struct {
			Status  string `json:"status"`
			Reasons []struct{ Rule, Detail string }
		} `json:"comment"`
	}
	e.in.mod(t, "GET", "/comments/"+id).decode(t, &full)
	return full.Comment.Status, full.Comment.Reasons
}

// checkHeldUnchecked fails unless every comment accepted among outs, of
// those sent after since, is held with the reason that Redis did not
// answer; it returns how many it checked.
func (e *rfEnv) checkHeldUnchecked(t *testing.T, phase string, outs []rfOutcome, since time.Time) int {
	t.Helper()
	n := 0
	for _, o := range outs {
		if o.status != http.StatusCreated || o.start.Before(since) {
			continue
		}
		n++
		if o.state != "pending" {
			t.Errorf("%s: comment %s was answered %q, want pending", phase, o.id, o.state)
		}
		status, reasons := e.reasons(t, o.id)
		found := false
		for _, r := range reasons {
			found = found || (r.Rule == moderation.RuleLimitsUnchecked && strings.Contains(r.Detail, rfDetail))
		}
		if status != "pending" || !found {
			t.Errorf("%s: comment %s stored %q with reasons %+v; want pending, with %s saying %q", phase, o.id, status, reasons, moderation.RuleLimitsUnchecked, rfDetail)
		}
	}
	if n == 0 {
		t.Errorf("%s: no comment was accepted", phase)
	}
	return n
}

var rfFallbacksRE = regexp.MustCompile(`(?m)^commentd_ratelimit_fallbacks_total (\S+)$`)

// fallbacks reads the limiter's fallback counter from /metrics.
func (e *rfEnv) fallbacks(t *testing.T) float64 {
	t.Helper()
	m := rfFallbacksRE.FindSubmatch(e.in.call(t, "GET", "/metrics", nil, nil).body)
	if m == nil {
		t.Fatal("no commentd_ratelimit_fallbacks_total in /metrics")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// admin returns a client of the private Redis, for looking into it.
func (e *rfEnv) admin(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(e.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// chainKeys counts the submission limiter's buckets in Redis.
func chainKeys(t *testing.T, c *redis.Client) int {
	t.Helper()
	keys, err := c.Keys(context.Background(), "commentd:rl:chain:*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	return len(keys)
}

// waitForRedisDecisions submits until a comment is approved again (decided
// with Redis answering), within limit; then checks that its buckets are in
// Redis and that the next submission does not fall back.
func (e *rfEnv) waitForRedisDecisions(t *testing.T, admin *redis.Client, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		o := e.submit("", "")
		if o.err != nil || (o.status != http.StatusCreated && o.status != http.StatusTooManyRequests) {
			t.Fatalf("submission while Redis recovers: %d %v", o.status, o.err)
		}
		if o.took > rfBound {
			t.Errorf("submission while Redis recovers took %v, want at most %v", o.took, rfBound)
		}
		if o.state == "approved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no submission was approved within %v of Redis answering again; log:\n%s", limit, e.in.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := chainKeys(t, admin); n == 0 {
		t.Error("a comment was approved but no limiter bucket is in Redis")
	}
	// The counter stops growing. One Redis call that overran its 100ms on
	// a busy machine would count once, so a few tries are allowed.
	var before, after float64
	for range 3 {
		before = e.fallbacks(t)
		o := e.submit("", "")
		after = e.fallbacks(t)
		if o.status == http.StatusCreated && o.state == "approved" && after == before {
			return
		}
	}
	t.Errorf("fallbacks still grow after recovery (last %v → %v)", before, after)
}

// burstFromOneAddress posts five comments from one new address at once and
// returns how many were refused with 429 (the limit is a burst of three).
func (e *rfEnv) burstFromOneAddress(t *testing.T, ip string) int {
	t.Helper()
	refused := 0
	for i := range 5 {
		o := e.submit(ip, "")
		switch {
		case o.err != nil:
			t.Fatalf("burst %d: %v", i, o.err)
		case o.status == http.StatusTooManyRequests:
			refused++
		case o.status != http.StatusCreated:
			t.Fatalf("burst %d: status %d", i, o.status)
		}
	}
	return refused
}

// TestRedisStoppedMidLoad: four readers post while Redis is killed. Every
// submission is answered promptly; those accepted without Redis are held
// with the reason; the fallbacks are counted; one address is still
// limited; and once Redis is back it decides again, without a restart.
func TestRedisStoppedMidLoad(t *testing.T) {
	e := newRFEnv(t)
	admin := e.admin(t)

	up := e.load(4, time.Second)
	checkAnswered(t, "Redis up", up)
	approved := 0
	for _, o := range up {
		if o.state == "approved" {
			approved++
		}
	}
	if approved == 0 {
		t.Fatalf("with Redis up none of %d clean comments was approved", len(up))
	}
	if chainKeys(t, admin) == 0 {
		t.Fatal("with Redis up no limiter bucket is in Redis")
	}
	before := e.fallbacks(t)

	e.redis.Stop()
	stopped := time.Now()
	down := e.load(4, 2*time.Second)
	slowest := checkAnswered(t, "Redis stopped", down)
	held := e.checkHeldUnchecked(t, "Redis stopped", down, stopped)
	after := e.fallbacks(t)
	if after < before+float64(held) {
		t.Errorf("fallbacks went from %v to %v over %d submissions without Redis, want at least %d more", before, after, held, held)
	}
	if refused := e.burstFromOneAddress(t, "192.0.2.77"); refused != 2 {
		t.Errorf("Redis stopped: %d of 5 rapid comments from one address refused, want 2 (burst 3, in-process)", refused)
	}
	t.Logf("with Redis up: %d submissions, %d approved; stopped: %d submissions, %d held, slowest %v; fallbacks %v → %v",
		len(up), approved, len(down), held, slowest, before, after)

	e.redis.Start()
	// The limiter's cooldown (2s), go-redis's pause between failed dials
	// (1s), and margin.
	e.waitForRedisDecisions(t, admin, 10*time.Second)
}

// TestRedisStalled: while Redis holds every command (CLIENT PAUSE ... ALL),
// submissions are answered promptly and held with the reason, moderators
// can still approve and sign in promptly, and after the pause Redis
// decides again.
func TestRedisStalled(t *testing.T) {
	const pause = 5 * time.Second
	e := newRFEnv(t)
	admin := e.admin(t)
	// Redis in use before the pause: one approved comment, decided there.
	e.waitForRedisDecisions(t, admin, 5*time.Second)
	queued := e.submit("", "Free casino chips.")
	if queued.status != http.StatusCreated || queued.state != "pending" {
		t.Fatalf("comment with a hold word: %d %q, want 201 pending", queued.status, queued.state)
	}
	before := e.fallbacks(t)

	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	paused := time.Now()
	outs := e.load(4, 2*time.Second)
	slowest := checkAnswered(t, "Redis stalled", outs)
	held := e.checkHeldUnchecked(t, "Redis stalled", outs, paused)

	start := time.Now()
	r := e.in.mod(t, "POST", "/comments/"+queued.id+"/approve")
	if took := time.Since(start); r.status != 200 || took > rfBound {
		t.Errorf("approve while Redis is stalled: status %d after %v, want 200 within %v", r.status, took, rfBound)
	}
	start = time.Now()
	lr := rfLogin(t, e.in, "mod@example.org", "the right password 42", "198.51.100.20")
	if took := time.Since(start); lr.status != http.StatusSeeOther || took > rfBound {
		t.Errorf("sign-in while Redis is stalled: status %d after %v, want 303 within %v", lr.status, took, rfBound)
	}
	if since := time.Since(paused); since >= pause {
		t.Fatalf("the checks took %v, outlasting the %v pause: they prove nothing", since, pause)
	}
	after := e.fallbacks(t)
	if after < before+float64(held) {
		t.Errorf("fallbacks went from %v to %v over %d submissions during the pause, want at least %d more", before, after, held, held)
	}
	t.Logf("during the pause: %d submissions, %d held, slowest %v; fallbacks %v → %v", len(outs), held, slowest, before, after)

	time.Sleep(time.Until(paused.Add(pause)))
	e.waitForRedisDecisions(t, admin, 10*time.Second)
}

// rfLogin signs in through the moderator page's form, as a browser without
// JavaScript does, from client address ip.
func rfLogin(t *testing.T, in *instance, email, password, ip string) result {
	t.Helper()
	page := in.call(t, "GET", "/admin/login", nil, nil)
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page.body)
	if page.status != 200 || m == nil {
		t.Fatalf("sign-in page: %d, CSRF field found %v", page.status, m != nil)
	}
	var cookies []string
	for _, c := range (&http.Response{Header: page.header}).Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	form := url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}}
	return in.call(t, "POST", "/admin/login", strings.NewReader(form.Encode()), map[string]string{
		"Content-Type":    "application/x-www-form-urlencoded",
		"Cookie":          strings.Join(cookies, "; "),
		"X-Forwarded-For": ip,
	})
}

// TestSignInWhileRedisDown: with Redis stopped, sign-in is limited per
// account by the in-process limiter exactly as with Redis: after five wrong
// passwords, from five addresses, even the right one is refused for now.
func TestSignInWhileRedisDown(t *testing.T) {
	e := newRFEnv(t)
	e.redis.Stop()
	before := e.fallbacks(t)
	for i := range 5 {
		start := time.Now()
		r := rfLogin(t, e.in, "mod@example.org", fmt.Sprintf("wrong guess %d", i), fmt.Sprintf("198.51.100.%d", 30+i))
		if took := time.Since(start); r.status != http.StatusUnauthorized || took > rfBound {
			t.Fatalf("wrong password %d with Redis down: status %d after %v, want 401 within %v", i, r.status, took, rfBound)
		}
	}
	r := rfLogin(t, e.in, "mod@example.org", "the right password 42", "198.51.100.99")
	if r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), "Too many sign-in attempts") || r.header.Get("Retry-After") == "" {
		t.Errorf("right password after five wrong ones, Redis down: status %d, Retry-After %q; want 429 with the sign-in message", r.status, r.header.Get("Retry-After"))
	}
	if after := e.fallbacks(t); after < before+6 {
		t.Errorf("fallbacks went from %v to %v over 6 sign-ins without Redis, want at least 6 more", before, after)
	}
}
