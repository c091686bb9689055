package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
)

// KeyPrefix is put before every caller's key in Redis (redis_rate adds its
// own "rate:" in front of it).
const KeyPrefix = "commentd:rl:"

// Defaults for RedisOptions fields left zero.
const (
	DefaultTimeout  = 100 * time.Millisecond
	DefaultCooldown = 2 * time.Second
)

// RedisOptions tunes a Redis limiter. The zero value is usable.
type RedisOptions struct {
	// Timeout bounds one Redis decision; past it the fallback answers.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// Cooldown is how long Redis is left alone after it failed; calls in
	// that window go straight to the fallback. Zero means DefaultCooldown.
	Cooldown time.Duration
	// Logger receives one warning when Redis becomes unusable and one info
	// line when it is used again. Nil discards both.
	Logger *slog.Logger
	// Fallbacks, if not nil, counts every decision made by the fallback
	// because Redis failed or was cooling down.
	Fallbacks prometheus.Counter
	// Now is the clock used for the cooldown. Nil means time.Now.
	Now func() time.Time
}

// Redis is a GCRA limiter whose state lives in Redis (through
// github.com/go-redis/redis_rate), so that a limit holds across every
// commentd instance sharing that Redis. When Redis fails or does not answer
// within the timeout, decisions come from a per-process Local fallback
// instead, and Redis is not tried again until the cooldown has passed. It is
// safe for concurrent use; create one with NewRedis.
type Redis struct {
	client    redis.UniversalClient
	limiter   *redis_rate.Limiter
	fallback  *Local
	timeout   time.Duration
	cooldown  time.Duration
	log       *slog.Logger
	fallbacks prometheus.Counter
	now       func() time.Time

	mu       sync.Mutex
	degraded bool      // the last Redis call failed
	retryAt  time.Time // while degraded, no Redis call before this
}

// NewRedis returns a limiter that keeps its buckets in Redis through client
// and answers from fallback whenever Redis cannot. fallback must not be nil
// (NewRedis panics otherwise); sharing one Local between several Redis
// limiters is fine. Fields of opt left zero take their documented defaults.
//
// Setting ContextTimeoutEnabled on the client is recommended: Allow never
// waits longer than opt.Timeout either way, but without it a stalled
// command keeps its goroutine and connection until the client's own read
// timeout.
func NewRedis(client redis.UniversalClient, fallback *Local, opt RedisOptions) *Redis {
	if fallback == nil {
		panic("ratelimit.NewRedis: nil fallback")
	}
	r := &Redis{
		client:    client,
		limiter:   redis_rate.NewLimiter(client),
		fallback:  fallback,
		timeout:   opt.Timeout,
		cooldown:  opt.Cooldown,
		log:       opt.Logger,
		fallbacks: opt.Fallbacks,
		now:       opt.Now,
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.cooldown <= 0 {
		r.cooldown = DefaultCooldown
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Allow counts one event for key under lim (one event per lim.Every, up to
// lim.Burst at once) in Redis, under KeyPrefix+key. A denied event is not
// counted and its Decision carries how long to wait.
//
// Allow returns within about the configured timeout. Any Redis failure,
// including that timeout, is answered by the fallback instead, counted and
// logged (see RedisOptions), never returned. If ctx ends before Redis
// answers, the fallback answers too (counted, but Redis is not marked
// failed). The only error is one wrapping ErrInvalidLimit for an invalid
// lim.
func (r *Redis) Allow(ctx context.Context, key string, lim comment.RateLimit) (Decision, error) {
	if err := checkLimit(lim); err != nil {
		return Decision{}, err
	}
	if !r.shouldTryRedis() {
		return r.fallbackAllow(ctx, key, lim)
	}

	res, err := r.redisAllow(ctx, key, lim)
	if err != nil {
		// A caller that gave up says nothing about Redis, so only a
		// failure under a live ctx degrades; either way the fallback
		// answers, keeping the contract that Allow never fails for Redis.
		if ctx.Err() == nil {
			r.markFailed(err)
		}
		return r.fallbackAllow(ctx, key, lim)
	}
	r.markHealthy()

	if res.Allowed > 0 {
		return Decision{Allowed: true, Remaining: res.Remaining}, nil
	}
	return Decision{RetryAfter: max(res.RetryAfter, 0), Remaining: res.Remaining}, nil
}

type redisResult struct {
	res *redis_rate.Result
	err error
}

// redisAllow runs one redis_rate decision, giving up after r.timeout. The
// command runs in its own goroutine because a go-redis client without
// ContextTimeoutEnabled ignores the deadline for socket reads; the
// goroutine then ends on its own when the client's read timeout fires.
func (r *Redis) redisAllow(ctx context.Context, key string, lim comment.RateLimit) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	done := make(chan redisResult, 1) // buffered: an abandoned send must not block
	go func() {
		res, err := r.limiter.Allow(ctx, KeyPrefix+key, redis_rate.Limit{Rate: 1, Period: lim.Every, Burst: lim.Burst})
		done <- redisResult{res, err}
	}()
	select {
	case out := <-done:
		if out.err != nil {
			return nil, fmt.Errorf("redis rate limit %q: %w", key, out.err)
		}
		return out.res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("redis rate limit %q: %w", key, ctx.Err())
	}
}

// shouldTryRedis reports whether this call may use Redis. While degraded,
// only the first call after the cooldown does (as a probe); the others keep
// using the fallback until it has answered, so a stalled Redis delays at
// most one caller per cooldown.
func (r *Redis) shouldTryRedis() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.degraded {
		return true
	}
	now := r.now()
	if now.Before(r.retryAt) {
		return false
	}
	r.retryAt = now.Add(r.cooldown)
	return true
}

func (r *Redis) markFailed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retryAt = r.now().Add(r.cooldown)
	if r.degraded {
		return
	}
	r.degraded = true
	r.log.Warn("redis rate limiter failed; using per-instance fallback limiter",
		slog.Any("err", err), slog.Duration("cooldown", r.cooldown))
}

func (r *Redis) markHealthy() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.degraded {
		return
	}
	r.degraded = false
	r.log.Info("redis rate limiter answers again; using redis")
}

func (r *Redis) fallbackAllow(ctx context.Context, key string, lim comment.RateLimit) (Decision, error) {
	if r.fallbacks != nil {
		r.fallbacks.Inc()
	}
	return r.fallback.Allow(ctx, key, lim)
}
