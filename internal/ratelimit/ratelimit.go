// Package ratelimit decides whether a submission may proceed now. Redis
// applies GCRA limits shared by every commentd instance; Local applies the
// same limits inside one process and is what Redis falls back to when Redis
// cannot answer.
package ratelimit

import (
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// Decision is the answer of a limiter to one event.
type Decision struct {
	// Allowed reports whether the event may proceed; an allowed event has
	// been counted against the limit.
	Allowed bool
	// RetryAfter is how long the caller must wait before the next event
	// could be allowed. It is greater than zero only when Allowed is false.
	RetryAfter time.Duration
	// Remaining is how many more events the key could take right now,
	// after this one.
	Remaining int
}

// ErrInvalidLimit is returned (wrapped) by Allow for a comment.RateLimit
// whose Every is not positive or whose Burst is below one. Callers that want
// no limit must not call Allow at all.
var ErrInvalidLimit = errors.New("invalid rate limit")

func checkLimit(lim comment.RateLimit) error {
	if lim.Every <= 0 || lim.Burst < 1 {
		return fmt.Errorf("%w: every %s, burst %d (want every > 0, burst >= 1)", ErrInvalidLimit, lim.Every, lim.Burst)
	}
	return nil
}
