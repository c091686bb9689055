package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/testenv"
)

// A chain decision says whether the shared limits were consulted: never
// degraded from Local as the configured limiter or from a working Redis,
// always degraded when Redis's fallback decided, refusals included.
func TestAllowChainDegraded(t *testing.T) {
	lim := comment.RateLimit{Every: time.Hour, Burst: 1}
	tests := []struct {
		name         string
		limiter      func(t *testing.T) chainLimiter
		wantDegraded bool
	}{
		{"local is the limiter", func(*testing.T) chainLimiter { return NewLocal(time.Now) }, false},
		{"redis answers", func(t *testing.T) chainLimiter {
			return NewRedis(newClient(t, redisOptions(t)), NewLocal(time.Now), RedisOptions{Timeout: 2 * time.Second})
		}, false},
		{"redis unreachable", func(t *testing.T) chainLimiter {
			return NewRedis(newClient(t, deadRedisOptions()), NewLocal(time.Now), RedisOptions{})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.limiter(t)
			checks := []Check{{Key: "{" + testenv.UniqueName("degraded") + "}:ip", Limit: lim}}
			for i, wantAllowed := range []bool{true, false} {
				r, err := l.AllowChain(context.Background(), checks)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if r.Allowed() != wantAllowed || r.Degraded != tt.wantDegraded {
					t.Errorf("call %d: allowed %v degraded %v, want allowed %v degraded %v", i, r.Allowed(), r.Degraded, wantAllowed, tt.wantDegraded)
				}
			}
		})
	}
}

// A chain whose caller's context has already ended is decided by the
// fallback, and says so.
func TestAllowChainCallerGone(t *testing.T) {
	fallbacks := newFallbackCounter()
	r := NewRedis(newClient(t, redisOptions(t)), NewLocal(time.Now), RedisOptions{Fallbacks: fallbacks})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := r.AllowChain(ctx, []Check{{Key: "{" + testenv.UniqueName("gone") + "}:ip", Limit: comment.RateLimit{Every: time.Hour, Burst: 1}}})
	if err != nil || !got.Allowed() || !got.Degraded {
		t.Errorf("AllowChain with an ended context = %+v, %v; want allowed and degraded", got, err)
	}
	if n := testutil.ToFloat64(fallbacks); n != 1 {
		t.Errorf("fallbacks = %v, want 1", n)
	}
}

// One counter covers both kinds of decision, and the sign-in kind (Allow)
// and the submission kind (AllowChain) share the cooldown: Redis is tried
// once, then not again until the cooldown has passed.
func TestFallbacksCountAllowAndChain(t *testing.T) {
	clock := newFakeClock()
	dialer := &countingDialer{}
	opt := deadRedisOptions()
	opt.Dialer = dialer.dial
	fallbacks := newFallbackCounter()
	r := NewRedis(newClient(t, opt), NewLocal(clock.Now), RedisOptions{Cooldown: time.Second, Fallbacks: fallbacks, Now: clock.Now})
	lim := comment.RateLimit{Every: time.Hour, Burst: 2}
	steps := []struct {
		name      string
		chain     bool
		advance   time.Duration
		wantDials bool
	}{
		{name: "single, first failure", wantDials: true},
		{name: "chain in cooldown", chain: true},
		{name: "single in cooldown"},
		{name: "chain probes after the cooldown", chain: true, advance: time.Second, wantDials: true},
		{name: "chain in the new cooldown", chain: true},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		before := dialer.n.Load()
		if s.chain {
			got, err := r.AllowChain(context.Background(), []Check{{Key: "{s}:c", Limit: lim}})
			if err != nil || !got.Degraded {
				t.Fatalf("step %d (%s): %+v, %v; want a degraded decision", i, s.name, got, err)
			}
		} else if _, err := r.Allow(context.Background(), "s:a", lim); err != nil {
			t.Fatalf("step %d (%s): %v", i, s.name, err)
		}
		if dialed := dialer.n.Load() > before; dialed != s.wantDials {
			t.Errorf("step %d (%s): Redis tried = %v, want %v", i, s.name, dialed, s.wantDials)
		}
		if got, want := testutil.ToFloat64(fallbacks), float64(i+1); got != want {
			t.Errorf("step %d (%s): fallbacks = %v, want %v", i, s.name, got, want)
		}
	}
}

// chainInRedis reports whether the chain bucket of key exists in Redis.
func chainInRedis(t *testing.T, c *redis.Client, key string) bool {
	t.Helper()
	n, err := c.Exists(context.Background(), chainKeyPrefix+key).Result()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	return n == 1
}

// A Redis that is killed and started again is used again once the cooldown
// has passed, with no restart of the limiter; meanwhile decisions are
// degraded and counted.
func TestAllowChainRedisRestarted(t *testing.T) {
	const cooldown = 200 * time.Millisecond
	server := testenv.PrivateRedisProcess(t)
	opt, err := redis.ParseURL(server.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	client := newClient(t, opt)
	fallbacks := newFallbackCounter()
	logger, logs := newLogger()
	r := NewRedis(client, NewLocal(time.Now), RedisOptions{Timeout: time.Second, Cooldown: cooldown, Logger: logger, Fallbacks: fallbacks})
	lim := comment.RateLimit{Every: time.Hour, Burst: 1000}
	chain := func(key string) []Check { return []Check{{Key: key, Limit: lim}} }

	if got, err := r.AllowChain(context.Background(), chain("{s}:up")); err != nil || got.Degraded {
		t.Fatalf("with Redis up: %+v, %v", got, err)
	}
	server.Stop()
	for i := range 3 {
		got, err := r.AllowChain(context.Background(), chain("{s}:down"))
		if err != nil || !got.Allowed() || !got.Degraded {
			t.Fatalf("call %d with Redis stopped: %+v, %v; want allowed by the fallback, degraded", i, got, err)
		}
	}
	if n := testutil.ToFloat64(fallbacks); n != 3 {
		t.Errorf("fallbacks with Redis stopped = %v, want 3", n)
	}
	server.Start()
	// go-redis itself waits up to a second between dials after failed
	// ones, so give the recovery a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		key := "{s}:back" + string(rune('a'+i%26))
		got, err := r.AllowChain(context.Background(), chain(key))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Degraded {
			if !chainInRedis(t, client, key) {
				t.Errorf("a decision not degraded left no bucket in Redis")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis not used again within 5s of restarting; log:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := testutil.ToFloat64(fallbacks)
	if got, _ := r.AllowChain(context.Background(), chain("{s}:stays")); got.Degraded {
		t.Errorf("the call after recovery was degraded")
	}
	if n := testutil.ToFloat64(fallbacks); n != before {
		t.Errorf("fallbacks grew from %v to %v after recovery", before, n)
	}
	if logs.count("WARN") != 1 || logs.count("INFO") != 1 {
		t.Errorf("want one warning and one recovery line; log:\n%s", logs)
	}
}

// A stalled Redis (CLIENT PAUSE) costs a chain at most the timeout, the
// calls in the cooldown nothing, and once the pause ends Redis decides
// again.
func TestAllowChainRedisStalled(t *testing.T) {
	const (
		timeout  = 100 * time.Millisecond
		cooldown = 300 * time.Millisecond
		pause    = 1500 * time.Millisecond
		// bound is generous for a loaded machine; a call that waited for
		// the pause to end would take over a second.
		bound = 600 * time.Millisecond
	)
	url := testenv.PrivateRedis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, opt)
	limOpt := *opt
	limOpt.ContextTimeoutEnabled = true
	limOpt.MaxRetries = -1
	client := newClient(t, &limOpt)
	fallbacks := newFallbackCounter()
	r := NewRedis(client, NewLocal(time.Now), RedisOptions{Timeout: timeout, Cooldown: cooldown, Fallbacks: fallbacks})
	lim := comment.RateLimit{Every: time.Hour, Burst: 1000}
	key := "{" + testenv.UniqueName("stall") + "}:ip"
	// Warm up: a pooled connection and the script cached.
	if got, err := r.AllowChain(context.Background(), []Check{{Key: key, Limit: lim}}); err != nil || got.Degraded {
		t.Fatalf("warm-up: %+v, %v", got, err)
	}
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	paused := time.Now()
	for i := range 5 {
		start := time.Now()
		got, err := r.AllowChain(context.Background(), []Check{{Key: key, Limit: lim}})
		took := time.Since(start)
		if err != nil || !got.Allowed() || !got.Degraded {
			t.Errorf("call %d while stalled: %+v, %v; want allowed by the fallback, degraded", i, got, err)
		}
		if took > bound {
			t.Errorf("call %d while stalled took %v, want at most %v", i, took, bound)
		}
	}
	if time.Since(paused) >= pause {
		t.Fatalf("the stalled calls outlasted the pause; the test proves nothing on this machine")
	}
	deadline := paused.Add(pause + 5*time.Second)
	for {
		got, err := r.AllowChain(context.Background(), []Check{{Key: key, Limit: lim}})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Degraded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis not used again within 5s of the pause ending")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := testutil.ToFloat64(fallbacks); n < 5 {
		t.Errorf("fallbacks = %v, want at least the 5 stalled calls", n)
	}
}
