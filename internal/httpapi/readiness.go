package httpapi

import "context"

// PendingSite is one site's moderation backlog as /readyz reports it. The
// route is public, so it holds counts and an age only.
type PendingSite struct {
	// Count is the number of pending comments.
	Count int `json:"count"`
	// Overdue is how many of them have waited longer than the configured
	// warning age.
	Overdue int `json:"older_than_warn"`
	// OldestAgeSeconds is how long the oldest has waited (0: none pending).
	OldestAgeSeconds int64 `json:"oldest_age_seconds"`
}

// PendingCheck reports each site's moderation backlog, keyed by site id.
// It must be cheap (it runs on every /readyz request): cache it if the
// query behind it is not.
type PendingCheck func(ctx context.Context) (map[string]PendingSite, error)
