// Package events carries live moderation events ("a comment is waiting",
// "a comment changed") to every subscriber on every commentd instance: a
// moderator's queue page on any instance sees a comment held on any other.
//
// Local fans events out inside one process; Redis adds one Redis pub/sub
// subscription per instance so that events cross instances. Both satisfy
// Bus. Delivery is best effort and never slows the publisher: a subscriber
// that falls behind loses events rather than holding up a submission, and
// while Redis is down events reach this instance's subscribers only.
package events

import (
	"context"
	"time"
)

// Event types.
const (
	// TypeHeld: a new comment waits for moderation.
	TypeHeld = "comment.held"
	// TypeChanged: a comment's status or content changed.
	TypeChanged = "comment.changed"
	// TypeRulesChanged: a site's spam rules or lists changed; instances drop
	// their cached copy. CommentID and Status are empty.
	TypeRulesChanged = "rules.changed"
	// TypeThreadChanged: the public thread of a page changed; instances
	// drop their cached copy. Page names it and Version is the site's
	// thread version after the change (0 when it could not be counted).
	TypeThreadChanged = "thread.changed"
)

// Event is one moderation event. It names the comment and never carries
// personal data (no author, email, IP or body), so it may be sent to any
// moderator of the site and through Redis as is.
type Event struct {
	// Type is TypeHeld, TypeChanged, TypeRulesChanged or TypeThreadChanged.
	Type string `json:"type"`
	// SiteID is the site the comment belongs to.
	SiteID    string `json:"site"`
	CommentID string `json:"comment_id"`
	// Status is the comment's status after the event.
	Status string `json:"status"`
	// Page is the page key, for TypeThreadChanged.
	Page string `json:"page,omitempty"`
	// Version is the site's thread version, for TypeThreadChanged.
	Version int64 `json:"version,omitempty"`
	// At is when it happened, as set by the publisher.
	At time.Time `json:"at"`
}

// Bus publishes events and hands them to subscribers. Local and Redis
// implement it; consumers (the moderation use cases, the SSE handler) depend
// on this interface only.
type Bus interface {
	// Publish hands ev to every current subscriber without blocking on
	// any of them. A failing transport is not the caller's problem: see
	// each implementation for the (rare) errors it returns.
	Publish(ctx context.Context, ev Event) error
	// Subscribe returns a channel of events published from now on and a
	// function that ends the subscription and closes the channel; calling
	// it more than once is harmless. A subscriber that does not keep up
	// loses events (see SubscriberBuffer).
	Subscribe() (<-chan Event, func())
}

var (
	_ Bus = (*Local)(nil)
	_ Bus = (*Redis)(nil)
)
