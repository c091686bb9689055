package moderation

import "time"

// Metrics are the hooks through which the service reports what it counts
// and times, so that it needs no metrics library. A nil hook is skipped.
type Metrics struct {
	// LimitRefused is called with the bucket that refused a submission:
	// ip, net, email, page or site.
	LimitRefused func(bucket string)
	// StoreCall is called with how long a database call took, by
	// operation: create_comment (a submission stored, idempotency key
	// included), duplicate_check (a submission compared with the page's
	// comments), thread (a page's approved comments read), counts (pages'
	// approved counts read), queue (a page of the moderation queue read) or
	// set_status (a moderator's decision stored).
	StoreCall func(op string, took time.Duration)
}

// limitBuckets name checkLimits' checks, in their order.
var limitBuckets = [...]string{"ip", "net", "email", "page", "site"}

func (s *Service) limitRefused(index int) {
	if s.metrics.LimitRefused != nil && index >= 0 && index < len(limitBuckets) {
		s.metrics.LimitRefused(limitBuckets[index])
	}
}

// storeCall reports the time since start as a call of op.
func (s *Service) storeCall(op string, start time.Time) {
	if s.metrics.StoreCall != nil {
		s.metrics.StoreCall(op, time.Since(start))
	}
}
