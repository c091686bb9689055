package account

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/sqlite"
)

// brokenLimiter is a Limiter whose every decision fails, and which counts
// the calls.
type brokenLimiter struct{ calls int }

func (b *brokenLimiter) Allow(context.Context, string, comment.RateLimit) (ratelimit.Decision, error) {
	b.calls++
	return ratelimit.Decision{}, errors.New("test: limiter broken")
}

func newServiceWith(t *testing.T, lim Limiter) *Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(Deps{Store: st, Limiter: lim, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "mod@example.org", "a long password", false); err != nil {
		t.Fatal(err)
	}
	return s
}

// With Redis unreachable, sign-in attempts are limited by the in-process
// fallback exactly as by Redis: five wrong passwords, then even the right
// one is refused with a rate limit.
func TestLoginLimitedWhileRedisDown(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens
	t.Cleanup(func() { client.Close() })
	s := newServiceWith(t, ratelimit.NewRedis(client, ratelimit.NewLocal(time.Now), ratelimit.RedisOptions{}))
	ctx := context.Background()
	for i := range 5 {
		if _, _, err := s.Login(ctx, "mod@example.org", "wrong password", "192.0.2.7"); !errors.Is(err, comment.ErrUnauthorized) {
			t.Fatalf("wrong attempt %d: err = %v, want unauthorized", i, err)
		}
	}
	var rl *comment.RateLimitError
	if _, _, err := s.Login(ctx, "mod@example.org", "a long password", "198.51.100.9"); !errors.As(err, &rl) {
		t.Fatalf("right password after 5 wrong ones, Redis down: err = %v, want a rate limit", err)
	}
}

// A limiter that fails refuses the attempt before the password is checked,
// as unavailable rather than unauthorized, so that a correct password does
// not get in unthrottled.
func TestLoginFailsClosedOnLimiterError(t *testing.T) {
	lim := &brokenLimiter{}
	s := newServiceWith(t, lim)
	ctx := context.Background()
	for _, password := range []string{"a long password", "wrong password"} {
		token, _, err := s.Login(ctx, "mod@example.org", password, "192.0.2.7")
		if !errors.Is(err, comment.ErrUnavailable) || token != "" {
			t.Errorf("Login(%q) with a failing limiter = token %q, err %v; want no session and ErrUnavailable", password, token, err)
		}
	}
	if lim.calls != 2 {
		t.Errorf("limiter consulted %d times, want once per attempt", lim.calls)
	}
}
