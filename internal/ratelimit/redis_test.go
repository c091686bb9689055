package ratelimit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/testenv"
)

// redisOptions returns client options for the test Redis.
func redisOptions(t testing.TB) *redis.Options {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse Redis URL: %v", err)
	}
	return opt
}

// newClient opens a client with opt and closes it when the test ends.
func newClient(t testing.TB, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// deadRedisOptions points at a port nothing listens on.
func deadRedisOptions() *redis.Options {
	return &redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}
}

func newFallbackCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "commentd_ratelimit_fallbacks_total",
		Help: "Rate-limit decisions answered by the in-process fallback.",
	})
}

// logBuffer collects log output; slog handlers serialise their writes, and
// tests read it only after the calls that log have returned.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(level string) int {
	return strings.Count(b.String(), "level="+level)
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// redisKey is where redis_rate keeps the bucket of key.
func redisKey(key string) string { return "rate:" + KeyPrefix + key }

func TestRedisAllow(t *testing.T) {
	opt := redisOptions(t)
	lim := comment.RateLimit{Every: 15 * time.Second, Burst: 3}
	tests := []struct {
		name string
		keys []string // one call each, in order
		want []bool   // allowed?
	}{
		{
			name: "burst of 3 then denied",
			keys: []string{"a", "a", "a", "a"},
			want: []bool{true, true, true, false},
		},
		{
			name: "keys are independent",
			keys: []string{"a", "a", "a", "b", "a", "b"},
			want: []bool{true, true, true, true, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient(t, opt)
			fallbacks := newFallbackCounter()
			r := NewRedis(client, NewLocal(time.Now), RedisOptions{Timeout: 2 * time.Second, Fallbacks: fallbacks})
			prefix := testenv.UniqueName("test:")
			t.Cleanup(func() {
				for _, k := range tt.keys {
					client.Del(context.Background(), redisKey(prefix+k))
				}
			})

			used := map[string]int{}
			for i, k := range tt.keys {
				got, err := r.Allow(context.Background(), prefix+k, lim)
				if err != nil {
					t.Fatalf("call %d (%s): error %v", i, k, err)
				}
				if got.Allowed != tt.want[i] {
					t.Fatalf("call %d (%s): Allowed = %v, want %v", i, k, got.Allowed, tt.want[i])
				}
				if got.Allowed {
					used[k]++
					if want := lim.Burst - used[k]; got.Remaining != want {
						t.Errorf("call %d (%s): Remaining = %d, want %d", i, k, got.Remaining, want)
					}
					if got.RetryAfter != 0 {
						t.Errorf("call %d (%s): RetryAfter = %s on an allowed call, want 0", i, k, got.RetryAfter)
					}
				} else if got.RetryAfter < time.Second || got.RetryAfter > lim.Every {
					t.Errorf("call %d (%s): RetryAfter = %s, want between 1s and %s", i, k, got.RetryAfter, lim.Every)
				}
			}
			if got := testutil.ToFloat64(fallbacks); got != 0 {
				t.Errorf("fallbacks = %v, want 0 (Redis should have answered every call)", got)
			}
			n, err := client.Exists(context.Background(), redisKey(prefix+tt.keys[0])).Result()
			if err != nil {
				t.Fatalf("EXISTS: %v", err)
			}
			if n != 1 {
				t.Errorf("EXISTS %s = %d, want 1 (bucket kept under the commentd prefix)", redisKey(prefix+tt.keys[0]), n)
			}
		})
	}
}

func TestRedisSharedAcrossInstances(t *testing.T) {
	opt := redisOptions(t)
	lim := comment.RateLimit{Every: 15 * time.Second, Burst: 3}
	key := testenv.UniqueName("test:shared:")
	// Two instances: separate clients (separate connection pools), separate
	// fallbacks, one Redis.
	clientA, clientB := newClient(t, opt), newClient(t, opt)
	t.Cleanup(func() { clientA.Del(context.Background(), redisKey(key)) })
	fallbacks := newFallbackCounter()
	instances := map[string]*Redis{
		"A": NewRedis(clientA, NewLocal(time.Now), RedisOptions{Timeout: 2 * time.Second, Fallbacks: fallbacks}),
		"B": NewRedis(clientB, NewLocal(time.Now), RedisOptions{Timeout: 2 * time.Second, Fallbacks: fallbacks}),
	}
	steps := []struct {
		instance string
		want     bool
	}{
		{"A", true},
		{"B", true},
		{"A", true},
		{"B", false},
		{"A", false},
	}
	for i, s := range steps {
		got, err := instances[s.instance].Allow(context.Background(), key, lim)
		if err != nil {
			t.Fatalf("step %d (instance %s): error %v", i, s.instance, err)
		}
		if got.Allowed != s.want {
			t.Errorf("step %d (instance %s): Allowed = %v, want %v", i, s.instance, got.Allowed, s.want)
		}
	}
	if got := testutil.ToFloat64(fallbacks); got != 0 {
		t.Errorf("fallbacks = %v, want 0", got)
	}
}

// countingDialer dials for real and counts the attempts.
type countingDialer struct{ n atomic.Int64 }

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestRedisDown(t *testing.T) {
	const cooldown = 2 * time.Second
	lim := comment.RateLimit{Every: time.Hour, Burst: 3}
	clock := newFakeClock()
	dialer := &countingDialer{}
	opt := deadRedisOptions()
	opt.Dialer = dialer.dial
	client := newClient(t, opt)
	logger, logs := newLogger()
	fallbacks := newFallbackCounter()
	r := NewRedis(client, NewLocal(clock.Now), RedisOptions{
		Cooldown: cooldown, Logger: logger, Fallbacks: fallbacks, Now: clock.Now,
	})

	steps := []struct {
		name      string
		advance   time.Duration
		want      bool // allowed?
		wantDials bool // Redis tried during this call?
	}{
		{name: "first call tries Redis", want: true, wantDials: true},
		{name: "in cooldown", advance: time.Second, want: true},
		{name: "still in cooldown", advance: 500 * time.Millisecond, want: true},
		{name: "probe after cooldown", advance: time.Second, want: false, wantDials: true},
		{name: "in new cooldown", want: false},
		{name: "second probe", advance: cooldown, want: false, wantDials: true},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		before := dialer.n.Load()
		got, err := r.Allow(context.Background(), "site:ip", lim)
		if err != nil {
			t.Fatalf("step %d (%s): error %v, want none while Redis is down", i, s.name, err)
		}
		if got.Allowed != s.want {
			t.Errorf("step %d (%s): Allowed = %v, want %v (fallback burst 3)", i, s.name, got.Allowed, s.want)
		}
		if !got.Allowed && got.RetryAfter <= 0 {
			t.Errorf("step %d (%s): RetryAfter = %s on a denied call, want > 0", i, s.name, got.RetryAfter)
		}
		if dialed := dialer.n.Load() > before; dialed != s.wantDials {
			t.Errorf("step %d (%s): Redis tried = %v, want %v", i, s.name, dialed, s.wantDials)
		}
		if got, want := testutil.ToFloat64(fallbacks), float64(i+1); got != want {
			t.Errorf("step %d (%s): fallbacks = %v, want %v", i, s.name, got, want)
		}
	}
	if got := logs.count("WARN"); got != 1 {
		t.Errorf("warnings = %d, want exactly 1; log:\n%s", got, logs)
	}
	if got := logs.count("INFO"); got != 0 {
		t.Errorf("info lines = %d, want 0; log:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "err=") {
		t.Errorf("warning lacks the err key; log:\n%s", logs)
	}
}

func TestRedisRecovery(t *testing.T) {
	const cooldown = 2 * time.Second
	lim := comment.RateLimit{Every: time.Minute, Burst: 5}
	opt := redisOptions(t)
	// The server stays real; only new connections fail while failing is set.
	var failing atomic.Bool
	failing.Store(true)
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if failing.Load() {
			return nil, errors.New("test: Redis unreachable")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	client := newClient(t, opt)
	clock := newFakeClock()
	logger, logs := newLogger()
	fallbacks := newFallbackCounter()
	r := NewRedis(client, NewLocal(clock.Now), RedisOptions{
		Timeout: 2 * time.Second, Cooldown: cooldown, Logger: logger, Fallbacks: fallbacks, Now: clock.Now,
	})
	key := testenv.UniqueName("test:recovery:")
	t.Cleanup(func() { client.Del(context.Background(), redisKey(key)) })

	steps := []struct {
		name          string
		advance       time.Duration
		heal          bool // Redis reachable from this step on
		wantFallbacks float64
		wantInRedis   bool // bucket exists in Redis after the call
		wantWarn      int
		wantInfo      int
	}{
		{name: "Redis unreachable", wantFallbacks: 1, wantWarn: 1},
		{name: "healed but in cooldown", advance: time.Second, heal: true, wantFallbacks: 2, wantWarn: 1},
		{name: "after cooldown Redis is used again", advance: time.Second, wantFallbacks: 2, wantInRedis: true, wantWarn: 1, wantInfo: 1},
		{name: "stays on Redis", advance: time.Second, wantFallbacks: 2, wantInRedis: true, wantWarn: 1, wantInfo: 1},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if s.heal {
			failing.Store(false)
		}
		got, err := r.Allow(context.Background(), key, lim)
		if err != nil {
			t.Fatalf("step %d (%s): error %v", i, s.name, err)
		}
		if !got.Allowed {
			t.Errorf("step %d (%s): denied (%+v), want allowed", i, s.name, got)
		}
		if got := testutil.ToFloat64(fallbacks); got != s.wantFallbacks {
			t.Errorf("step %d (%s): fallbacks = %v, want %v", i, s.name, got, s.wantFallbacks)
		}
		if !s.heal && failing.Load() {
			continue // cannot look into Redis through this client yet
		}
		n, err := client.Exists(context.Background(), redisKey(key)).Result()
		if err != nil {
			t.Fatalf("step %d (%s): EXISTS: %v", i, s.name, err)
		}
		if inRedis := n == 1; inRedis != s.wantInRedis {
			t.Errorf("step %d (%s): bucket in Redis = %v, want %v", i, s.name, inRedis, s.wantInRedis)
		}
		if got := logs.count("WARN"); got != s.wantWarn {
			t.Errorf("step %d (%s): warnings = %d, want %d; log:\n%s", i, s.name, got, s.wantWarn, logs)
		}
		if got := logs.count("INFO"); got != s.wantInfo {
			t.Errorf("step %d (%s): info lines = %d, want %d; log:\n%s", i, s.name, got, s.wantInfo, logs)
		}
	}
}

// pingProbe is a raw connection to Redis of its own, for asking whether the
// server answers without going through the client under test.
type pingProbe struct {
	conn net.Conn
	r    *bufio.Reader
}

// newPingProbe connects to addr; the connection closes when the test ends
// and, as a safety net, gives up on any read after 30s.
func newPingProbe(t *testing.T, addr string) *pingProbe {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &pingProbe{conn: conn, r: bufio.NewReader(conn)}
}

// ping sends PING and returns a channel that receives nil once the server
// answers +PONG, or the error.
func (p *pingProbe) ping(t *testing.T) <-chan error {
	t.Helper()
	if _, err := p.conn.Write([]byte("PING\r\n")); err != nil {
		t.Fatalf("probe PING: %v", err)
	}
	answered := make(chan error, 1)
	go func() {
		line, err := p.r.ReadString('\n')
		if err == nil && line != "+PONG\r\n" {
			err = fmt.Errorf("PING answered %q", line)
		}
		answered <- err
	}()
	return answered
}

func TestRedisStalled(t *testing.T) {
	// CLIENT PAUSE stalls a whole server, so each case pauses a private one:
	// the cases run in parallel and never stall the shared Redis that other
	// packages use.
	const (
		pause = 3 * time.Second // far beyond Allow's 100ms default timeout
		// probeGrace is how long the probe is watched after Allow returned.
		// No answer by then proves the pause still held when Allow
		// returned; a longer grace only makes that check stricter.
		probeGrace = 500 * time.Millisecond
	)
	tests := []struct {
		name           string
		contextTimeout bool // go-redis ContextTimeoutEnabled
	}{
		{"client ignores context deadlines", false},
		{"client honours context deadlines", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opt, err := redis.ParseURL(testenv.PrivateRedis(t)) // killed at cleanup, paused or not
			if err != nil {
				t.Fatalf("parse Redis URL: %v", err)
			}
			admin := newClient(t, opt)
			limOpt := *opt
			limOpt.ContextTimeoutEnabled = tt.contextTimeout
			client := newClient(t, &limOpt)
			fallbacks := newFallbackCounter()
			logger, logs := newLogger()
			r := NewRedis(client, NewLocal(time.Now), RedisOptions{Logger: logger, Fallbacks: fallbacks})
			key := testenv.UniqueName("test:stalled:")
			lim := comment.RateLimit{Every: time.Minute, Burst: 3}

			// Warm up through the same client, with a generous timeout: a
			// pooled connection and the script loaded, so that the call
			// below meets the pause, not a dial.
			warmFallbacks := newFallbackCounter()
			warm := NewRedis(client, NewLocal(time.Now), RedisOptions{Timeout: 2 * time.Second, Fallbacks: warmFallbacks})
			if _, err := warm.Allow(context.Background(), key, lim); err != nil {
				t.Fatalf("warm-up: %v", err)
			}
			if got := testutil.ToFloat64(warmFallbacks); got != 0 {
				t.Fatalf("warm-up fallbacks = %v, want 0", got)
			}
			probe := newPingProbe(t, opt.Addr)
			if err := <-probe.ping(t); err != nil {
				t.Fatalf("probe before the pause: %v", err)
			}

			if err := admin.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
				t.Fatalf("CLIENT PAUSE: %v", err)
			}
			// Sent after the pause took effect, so answered only once it ends.
			probeAnswered := probe.ping(t)

			got, err := r.Allow(context.Background(), key, lim)

			// Ordering, not a time limit on Allow: had Allow waited for
			// Redis to answer, the pause would be over and the probe
			// answered at once.
			select {
			case err := <-probeAnswered:
				t.Fatalf("paused Redis answered the probe (err %v) within %s of Allow returning; want Allow to return while the pause holds", err, probeGrace)
			case <-time.After(probeGrace):
			}
			if err != nil {
				t.Fatalf("Allow while stalled: error %v, want none", err)
			}
			if !got.Allowed {
				t.Errorf("Allow while stalled = %+v, want allowed by the fallback", got)
			}
			if got := testutil.ToFloat64(fallbacks); got != 1 {
				t.Errorf("fallbacks = %v, want 1", got)
			}
			if got := logs.count("WARN"); got != 1 {
				t.Errorf("warnings = %d, want 1; log:\n%s", got, logs)
			}
			// The probe's silence above must come from the pause, not from
			// a broken probe: once the pause ends it is answered.
			if err := <-probeAnswered; err != nil {
				t.Errorf("probe after the pause: %v", err)
			}
		})
	}
}

func TestRedisCallerContextDone(t *testing.T) {
	opt := redisOptions(t)
	client := newClient(t, opt)
	logger, logs := newLogger()
	fallbacks := newFallbackCounter()
	r := NewRedis(client, NewLocal(time.Now), RedisOptions{Timeout: 2 * time.Second, Logger: logger, Fallbacks: fallbacks})
	key := testenv.UniqueName("test:ctx:")
	lim := comment.RateLimit{Every: time.Minute, Burst: 3}
	t.Cleanup(func() { client.Del(context.Background(), redisKey(key)) })

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := r.Allow(ctx, key, lim)
	if err != nil {
		t.Fatalf("Allow with cancelled context: error %v, want none", err)
	}
	if !got.Allowed {
		t.Errorf("Allow with cancelled context = %+v, want allowed", got)
	}
	// The caller giving up says nothing about Redis: no warning, and the
	// next call goes to Redis without waiting for a cooldown.
	if got := logs.count("WARN"); got != 0 {
		t.Errorf("warnings = %d, want 0; log:\n%s", got, logs)
	}
	before := testutil.ToFloat64(fallbacks)
	if _, err := r.Allow(context.Background(), key, lim); err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if got := testutil.ToFloat64(fallbacks); got != before {
		t.Errorf("fallbacks went from %v to %v, want the second call answered by Redis", before, got)
	}
}

func TestRedisInvalidLimit(t *testing.T) {
	tests := []struct {
		name string
		lim  comment.RateLimit
	}{
		{"zero", comment.RateLimit{}},
		{"zero burst", comment.RateLimit{Every: time.Second}},
		{"negative interval", comment.RateLimit{Every: -time.Second, Burst: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient(t, deadRedisOptions())
			fallbacks := newFallbackCounter()
			r := NewRedis(client, NewLocal(time.Now), RedisOptions{Fallbacks: fallbacks})
			_, err := r.Allow(context.Background(), "a", tt.lim)
			if !errors.Is(err, ErrInvalidLimit) {
				t.Errorf("Allow(%+v) error = %v, want ErrInvalidLimit", tt.lim, err)
			}
			if got := testutil.ToFloat64(fallbacks); got != 0 {
				t.Errorf("fallbacks = %v, want 0 (an invalid limit is not a Redis failure)", got)
			}
		})
	}
}

func TestRedisConcurrent(t *testing.T) {
	lim := comment.RateLimit{Every: time.Hour, Burst: 10}
	tests := []struct {
		name          string
		opt           func(t *testing.T) *redis.Options
		wantFallbacks float64
		wantWarn      int
	}{
		{"Redis up", func(t *testing.T) *redis.Options { return redisOptions(t) }, 0, 0},
		{"Redis down", func(*testing.T) *redis.Options { return deadRedisOptions() }, 64, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient(t, tt.opt(t))
			logger, logs := newLogger()
			fallbacks := newFallbackCounter()
			r := NewRedis(client, NewLocal(time.Now), RedisOptions{
				Timeout: 2 * time.Second, Cooldown: time.Hour, Logger: logger, Fallbacks: fallbacks,
			})
			key := testenv.UniqueName("test:concurrent:")
			t.Cleanup(func() { client.Del(context.Background(), redisKey(key)) })

			var wg sync.WaitGroup
			var allowedN atomic.Int64
			for range 64 {
				wg.Go(func() {
					d, err := r.Allow(context.Background(), key, lim)
					if err != nil {
						t.Errorf("Allow: %v", err)
						return
					}
					if d.Allowed {
						allowedN.Add(1)
					}
				})
			}
			wg.Wait()
			if got, want := allowedN.Load(), int64(lim.Burst); got != want {
				t.Errorf("allowed = %d, want %d", got, want)
			}
			if got := testutil.ToFloat64(fallbacks); got != tt.wantFallbacks {
				t.Errorf("fallbacks = %v, want %v", got, tt.wantFallbacks)
			}
			if got := logs.count("WARN"); got != tt.wantWarn {
				t.Errorf("warnings = %d, want %d; log:\n%s", got, tt.wantWarn, logs)
			}
		})
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	opt := redisOptions(b)
	client := newClient(b, opt)
	fallbacks := newFallbackCounter()
	r := NewRedis(client, NewLocal(time.Now), RedisOptions{Timeout: time.Second, Fallbacks: fallbacks})
	lim := comment.RateLimit{Every: time.Millisecond, Burst: 10}
	prefix := testenv.UniqueName("bench:")
	b.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), redisKey(prefix)+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
		if got := testutil.ToFloat64(fallbacks); got != 0 {
			b.Errorf("fallbacks = %v, want 0: the benchmark measured the fallback, not Redis", got)
		}
	})
	b.Run("sequential", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Allow(ctx, prefix+"seq", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ctx := context.Background()
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			key := prefix + "par" + string(rune('a'+n.Add(1)%26))
			for pb.Next() {
				if _, err := r.Allow(ctx, key, lim); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
