package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/testenv"
)

type chainLimiter interface {
	AllowChain(context.Context, []Check) (Refusal, error)
}

// chainLimiters are the two AllowChain implementations: Local, and Redis
// against the test server, which fails the test when the test ends if any
// decision came from its fallback instead.
func chainLimiters(t *testing.T) map[string]chainLimiter {
	fallbacks := newFallbackCounter()
	t.Cleanup(func() {
		if n := testutil.ToFloat64(fallbacks); n != 0 {
			t.Errorf("the Redis limiter fell back %v times", n)
		}
	})
	return map[string]chainLimiter{
		"local": NewLocal(time.Now),
		"redis": NewRedis(newClient(t, redisOptions(t)), NewLocal(time.Now), RedisOptions{Fallbacks: fallbacks}),
	}
}

// A chain charges its buckets in order until one refuses; the refusing one
// and those after it are not charged, exactly as separate Allow calls.
func TestAllowChain(t *testing.T) {
	for name, lim := range chainLimiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tag := "{" + testenv.UniqueName("chain") + "}:"
			wide := comment.RateLimit{Every: time.Hour, Burst: 10}
			narrow := comment.RateLimit{Every: time.Hour, Burst: 2}
			chain := func(ip string) []Check {
				return []Check{
					{Key: tag + "ip:" + ip, Limit: narrow},
					{Key: tag + "all", Limit: wide},
				}
			}
			steps := []struct {
				ip        string
				wantIndex int
			}{
				{"a", -1}, {"a", -1}, // a's burst of 2
				{"a", 0}, // a refused by its own bucket: "all" not charged
				{"b", -1}, {"b", -1}, {"c", -1}, {"c", -1}, {"d", -1}, {"d", -1}, {"e", -1}, {"e", -1},
				{"f", 1}, // ten charged to "all": the site bucket refuses
			}
			for i, s := range steps {
				r, err := lim.AllowChain(ctx, chain(s.ip))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if r.Index != s.wantIndex {
					t.Fatalf("step %d (%s): refused by %d, want %d", i, s.ip, r.Index, s.wantIndex)
				}
				if !r.Allowed() {
					if r.Decision.Allowed || r.Decision.RetryAfter <= 0 || r.Decision.RetryAfter > time.Hour {
						t.Errorf("step %d: refusal %+v, want a retry-after in (0, 1h]", i, r.Decision)
					}
				}
			}
		})
	}
}

// Local and Redis agree on a mixed sequence, including refill over time.
func TestAllowChainRefill(t *testing.T) {
	for name, lim := range chainLimiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := "{" + testenv.UniqueName("refill") + "}:k"
			c := []Check{{Key: key, Limit: comment.RateLimit{Every: 200 * time.Millisecond, Burst: 1}}}
			if r, _ := lim.AllowChain(ctx, c); !r.Allowed() {
				t.Fatal("first event refused")
			}
			r, _ := lim.AllowChain(ctx, c)
			if r.Allowed() {
				t.Fatal("second event at once allowed with burst 1")
			}
			time.Sleep(r.Decision.RetryAfter + 20*time.Millisecond)
			if r, _ := lim.AllowChain(ctx, c); !r.Allowed() {
				t.Fatalf("after waiting the retry-after (%v): still refused", r.Decision.RetryAfter)
			}
		})
	}
}

// With Redis unreachable a chain is decided by the fallback, and counted.
func TestAllowChainRedisDown(t *testing.T) {
	fallbacks := newFallbackCounter()
	r := NewRedis(newClient(t, deadRedisOptions()), NewLocal(time.Now), RedisOptions{Fallbacks: fallbacks})
	c := []Check{{Key: "{s}:ip", Limit: comment.RateLimit{Every: time.Hour, Burst: 1}}, {Key: "{s}:all", Limit: comment.RateLimit{Every: time.Hour, Burst: 5}}}
	first, err := r.AllowChain(context.Background(), c)
	if err != nil || !first.Allowed() {
		t.Fatalf("first: %+v, %v; want allowed by the fallback", first, err)
	}
	second, err := r.AllowChain(context.Background(), c)
	if err != nil || second.Index != 0 {
		t.Fatalf("second: %+v, %v; want refused by the fallback's ip bucket", second, err)
	}
	if got := testutil.ToFloat64(fallbacks); got != 2 {
		t.Errorf("fallbacks = %v, want 2", got)
	}
}

func TestAllowChainInvalidLimit(t *testing.T) {
	for name, lim := range chainLimiters(t) {
		if _, err := lim.AllowChain(context.Background(), []Check{{Key: "x", Limit: comment.RateLimit{}}}); err == nil {
			t.Errorf("%s: invalid limit accepted", name)
		}
	}
}

// BenchmarkRedisAllowChain measures the five-bucket chain a submission
// runs, in one Redis call.
func BenchmarkRedisAllowChain(b *testing.B) {
	fallbacks := newFallbackCounter()
	r := NewRedis(newClient(b, redisOptions(b)), NewLocal(time.Now), RedisOptions{Fallbacks: fallbacks})
	lim := comment.RateLimit{Every: time.Nanosecond, Burst: 1 << 30}
	b.Cleanup(func() {
		if n := testutil.ToFloat64(fallbacks); n != 0 {
			b.Errorf("the Redis limiter fell back %v times", n)
		}
	})
	tag := "{" + testenv.UniqueName("bench") + "}:"
	chain := []Check{{tag + "ip", lim}, {tag + "net", lim}, {tag + "email", lim}, {tag + "page", lim}, {tag + "all", lim}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := r.AllowChain(context.Background(), chain); err != nil || !r.Allowed() {
				b.Errorf("%+v, %v", r, err)
				return
			}
		}
	})
}
