package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
)

// Check is one bucket of a chain decided by AllowChain.
type Check struct {
	Key   string
	Limit comment.RateLimit
}

// Refusal says which check of a chain refused, and what it answered.
type Refusal struct {
	// Index is the position of the refusing check, or -1 when every check
	// allowed the event.
	Index    int
	Decision Decision
	// Degraded reports that the limits shared by every instance could not
	// be consulted: Redis failed, did not answer in time or was cooling
	// down after a failure, or the caller's context ended first, so this
	// instance's fallback decided alone. An event it allowed may exceed a
	// limit that the other instances are counting too. A Local used as
	// the limiter itself (no Redis configured) never sets it: keeping the
	// limits in one process is then the deployment's choice, not a fault.
	Degraded bool
}

// Allowed reports whether every check of the chain allowed the event.
func (r Refusal) Allowed() bool { return r.Index < 0 }

// AllowChain counts one event against each check in order, stopping at the
// first that refuses: the checks before it are charged, it and the ones
// after it are not (the same as calling Allow on each in turn). The
// Refusal's Degraded is false: as the configured limiter, Local is the
// whole truth; Redis.AllowChain sets it when it falls back to a Local.
func (l *Local) AllowChain(ctx context.Context, checks []Check) (Refusal, error) {
	for i, c := range checks {
		d, err := l.Allow(ctx, c.Key, c.Limit)
		if err != nil {
			return Refusal{}, err
		}
		if !d.Allowed {
			return Refusal{Index: i, Decision: d}, nil
		}
	}
	return Refusal{Index: -1}, nil
}

// AllowChain is Local.AllowChain with every bucket in Redis, decided in one
// round trip by one script, so that a submission's five limits cost one
// call rather than five. For Redis Cluster every key of one chain must hash
// to the same slot: give them a common hash tag ("{site}"). Redis failures
// are answered by the fallback, as in Allow, and the Refusal then has
// Degraded set. The only error is one wrapping ErrInvalidLimit.
func (r *Redis) AllowChain(ctx context.Context, checks []Check) (Refusal, error) {
	for _, c := range checks {
		if err := checkLimit(c.Limit); err != nil {
			return Refusal{}, err
		}
	}
	if len(checks) == 0 {
		return Refusal{Index: -1}, nil
	}
	if !r.shouldTryRedis() {
		return r.fallbackChain(ctx, checks)
	}
	res, err := r.redisChain(ctx, checks)
	if err != nil {
		if ctx.Err() == nil {
			r.markFailed(err)
		}
		return r.fallbackChain(ctx, checks)
	}
	r.markHealthy()
	return res, nil
}

func (r *Redis) fallbackChain(ctx context.Context, checks []Check) (Refusal, error) {
	if r.fallbacks != nil {
		r.fallbacks.Inc()
	}
	res, err := r.fallback.AllowChain(ctx, checks)
	res.Degraded = true
	return res, err
}

// chainKeyPrefix is put before each key of a chain. The buckets are kept
// apart from Allow's (whose keys redis_rate prefixes on its own).
const chainKeyPrefix = KeyPrefix + "chain:"

// redisChain runs the chain script, giving up after r.timeout (in its own
// goroutine for the reason redisAllow gives).
func (r *Redis) redisChain(ctx context.Context, checks []Check) (Refusal, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	keys := make([]string, len(checks))
	args := make([]any, 0, 2*len(checks))
	for i, c := range checks {
		keys[i] = chainKeyPrefix + c.Key
		args = append(args, c.Limit.Burst, strconv.FormatFloat(c.Limit.Every.Seconds(), 'f', -1, 64))
	}
	type answer struct {
		out []any
		err error
	}
	done := make(chan answer, 1) // buffered: an abandoned send must not block
	go func() {
		out, err := chainScript.Run(ctx, r.client, keys, args...).Slice()
		done <- answer{out, err}
	}()
	var out []any
	select {
	case a := <-done:
		if a.err != nil {
			return Refusal{}, fmt.Errorf("redis rate limit chain %q…: %w", checks[0].Key, a.err)
		}
		out = a.out
	case <-ctx.Done():
		return Refusal{}, fmt.Errorf("redis rate limit chain %q…: %w", checks[0].Key, ctx.Err())
	}
	if len(out) != 3 {
		return Refusal{}, fmt.Errorf("redis rate limit chain: unexpected answer %v", out)
	}
	index, _ := out[0].(int64)
	remaining, _ := out[1].(int64)
	wait, _ := out[2].(string)
	if index == 0 {
		return Refusal{Index: -1, Decision: Decision{Allowed: true, Remaining: int(remaining)}}, nil
	}
	seconds, err := strconv.ParseFloat(wait, 64)
	if err != nil {
		return Refusal{}, fmt.Errorf("redis rate limit chain: retry-after %q: %w", wait, err)
	}
	retry := max(time.Duration(seconds*float64(time.Second)), time.Millisecond)
	return Refusal{Index: int(index) - 1, Decision: Decision{RetryAfter: retry}}, nil
}

// chainScript applies GCRA to each key in turn. A key's value is its
// theoretical arrival time (TAT) in seconds since 2020-01-01 (recent enough
// that microseconds survive in a double). For each key, ARGV holds the
// burst and the period (seconds per event). An event fits a bucket when
// max(TAT, now) + period - burst*period <= now. The script charges the
// buckets that admit the event until one refuses, and answers
// {0, remaining of the last bucket, ""} or {index of the refusing bucket
// (from 1), 0, seconds until it would admit}.
var chainScript = redis.NewScript(`
local t = redis.call("TIME")
local now = (tonumber(t[1]) - 1577836800) + tonumber(t[2]) / 1000000
local remaining = 0
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call("GET", key) or now)
  if tat < now then tat = now end
  local next_tat = tat + period
  local admit_at = next_tat - burst * period
  if admit_at > now then
    return {i, 0, string.format("%.17g", admit_at - now)}
  end
  redis.call("SET", key, string.format("%.17g", next_tat), "PX", math.max(1, math.ceil((next_tat - now) * 1000)))
  remaining = math.floor((now - admit_at) / period)
end
return {0, remaining, ""}
`)
