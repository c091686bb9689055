package comment

import (
	"context"
	"time"
)

// Revision is a comment's content before a moderator edited it.
type Revision struct {
	CommentID     string
	AuthorName    string
	AuthorWebsite string
	Body          string
	EditedBy      string
	EditedAt      time.Time
}

// Edit changes a comment's content. The previous content is kept as a
// Revision and an "edit" event is recorded.
type Edit struct {
	ID            string
	AuthorName    string
	AuthorWebsite string
	Body          string
	BodyHTML      string
	Actor         string
	At            time.Time
}

// AuthorKey names an author on a site by email.
type AuthorKey struct {
	SiteID string
	Email  string // lower-cased
}

// AuthorStats counts an author's comments on a site by status.
type AuthorStats map[Status]int

// PageRef names a page.
type PageRef struct {
	SiteID string
	Key    string
}

// The lists a site keeps about authors. Moderators fill them with "approve
// and trust" and "spam and block"; the spam rules read them.
const (
	ListTrustedEmails = "trusted_email"
	ListBlockedEmails = "blocked_email"
	ListBlockedIPs    = "blocked_ip"
)

// ListEntry is one value on one of a site's lists.
type ListEntry struct {
	SiteID    string
	List      string // one of the List* constants
	Value     string // a lower-cased email, or an IP address or CIDR
	CreatedBy string
	CreatedAt time.Time
}

// ModerationStore holds what the moderation workspace needs beyond Store.
type ModerationStore interface {
	// EditComment applies e, keeping the previous content as a revision and
	// recording an "edit" event, in one transaction. ErrNotFound if no such
	// comment. It returns the comment afterwards.
	EditComment(ctx context.Context, e Edit) (Comment, error)
	// Revisions returns the comment's earlier versions, oldest first.
	Revisions(ctx context.Context, id string) ([]Revision, error)
	// CommentsByID returns the comments with the given ids that exist.
	CommentsByID(ctx context.Context, ids []string) (map[string]Comment, error)
	// PagesByRef returns the pages that exist among refs.
	PagesByRef(ctx context.Context, refs []PageRef) (map[PageRef]Page, error)
	// AuthorStats returns, for each author, the number of their comments on
	// that site by status (statuses with no comments are absent).
	AuthorStats(ctx context.Context, authors []AuthorKey) (map[AuthorKey]AuthorStats, error)

	// AddListEntry puts the value on the site's list, and increments the
	// site's rules version when it was not there yet; adding one already
	// there changes nothing. ErrNotFound for an unknown site.
	AddListEntry(ctx context.Context, e ListEntry) error
	// DeleteListEntry removes the value from the list, incrementing the
	// site's rules version when it was there; a missing one is not an error.
	DeleteListEntry(ctx context.Context, siteID, list, value string) error
	// ListEntries returns the entries of one of the site's lists, ordered by
	// value.
	ListEntries(ctx context.Context, siteID, list string) ([]ListEntry, error)
}
