package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/commentd/commentd/internal/comment"
)

// sweepEvery is the least time between two sweeps of idle keys.
const sweepEvery = time.Minute

// Local is an in-process GCRA limiter (a token bucket from
// golang.org/x/time/rate) with one bucket per key. Its state belongs to one
// process, so a limit it enforces holds per instance only. It is safe for
// concurrent use, and the zero value is not usable: create one with NewLocal.
//
// Keys whose bucket has refilled completely are forgotten, because a full
// bucket behaves exactly like a new one; so memory is bounded by the keys
// active within about Burst×Every, not by all keys ever seen.
type Local struct {
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// NewLocal returns an empty Local limiter that reads the time from now
// (time.Now if nil) for every decision and every eviction.
func NewLocal(now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{now: now, buckets: make(map[string]*rate.Limiter), lastSweep: now()}
}

// Allow counts one event for key under lim (one event per lim.Every, up to
// lim.Burst at once) if the key's bucket has room now. A denied event is not
// counted, and its Decision carries the delay after which one event would be
// allowed. The limit may differ between calls for the same key; the newest
// one applies from now on (a raised burst fills up at the rate, not at
// once; a lowered one caps the bucket at once). Allow returns an error wrapping ErrInvalidLimit
// for an invalid lim, and no other error; ctx is not used.
func (l *Local) Allow(_ context.Context, key string, lim comment.RateLimit) (Decision, error) {
	if err := checkLimit(lim); err != nil {
		return Decision{}, err
	}
	now := l.now()
	every := rate.Every(lim.Every)

	// One lock around lookup and reservation: a bucket must not be swept
	// away between the two, or the event it counts would be lost.
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(every, lim.Burst)
		l.buckets[key] = b
	} else {
		if b.Limit() != every {
			b.SetLimitAt(now, every)
		}
		if b.Burst() != lim.Burst {
			b.SetBurstAt(now, lim.Burst)
		}
	}

	r := b.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		// Give the token back: a refused event must not push the next
		// allowed one further out.
		r.CancelAt(now)
		return Decision{RetryAfter: delay}, nil
	}
	// The epsilon keeps a float sum such as 1.9999999999 from reading as 1.
	remaining := int(math.Floor(b.TokensAt(now) + 1e-9))
	return Decision{Allowed: true, Remaining: max(remaining, 0)}, nil
}

// sweep forgets every bucket that is full again at now. l.mu must be held.
func (l *Local) sweep(now time.Time) {
	for key, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, key)
		}
	}
	l.lastSweep = now
}

// size returns the number of keys held, for tests.
func (l *Local) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
