package comment

import (
	"context"
	"time"
)

// ListFilter selects comments for the moderation queue. Results are ordered
// oldest first by (CreatedAt, ID) and paged by keyset: pass the last
// comment's position as After to get the next page.
type ListFilter struct {
	SiteIDs     []string // empty means every site
	Status      Status   // required
	PageKey     string   // optional
	AuthorEmail string   // optional, matched case-insensitively
	IP          string   // optional, exact
	// Query is optional full-text search in the body and the author's name:
	// every word must occur (case-insensitive, whole words).
	Query string
	After *Cursor // optional
	Limit int     // 1..500
}

// Cursor is a position in the (CreatedAt, ID) order.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// StatusChange moves a comment to a new status and records who did it.
type StatusChange struct {
	ID     string
	To     Status
	Actor  string
	Action string
	At     time.Time
}

// Store persists sites, pages and comments. Implementations must be safe for
// concurrent use. Every method that writes does so in one transaction and
// returns only after the transaction is committed.
type Store interface {
	AccountStore
	ModerationStore
	RulesStore
	RetentionStore
	IdempotencyStore
	PrivacyStore
	NotifyStore
	ReaderStore

	// UpsertSite creates the site or updates its name, origins and limits.
	UpsertSite(ctx context.Context, s Site) error
	// Site returns the site with id, or ErrNotFound.
	Site(ctx context.Context, id string) (Site, error)
	// Sites returns every site, ordered by id.
	Sites(ctx context.Context) ([]Site, error)

	// CreateComment stores c (whose ID the caller has set) together with its
	// page (created if new; an empty URL or title is filled in if the page
	// lacks one), a "submit" event, and one hit for each distinct rule named
	// in c.Reasons, in one transaction. It returns
	// ErrConflict if the ID exists and ErrUnavailable if the database is
	// locked by another writer for longer than its busy timeout.
	CreateComment(ctx context.Context, c Comment, p Page) error
	// Comment returns the comment with id, or ErrNotFound.
	Comment(ctx context.Context, id string) (Comment, error)
	// SetStatus applies the change and records it in the comment's history,
	// unless the comment already has that status (then nothing is written).
	// It returns the comment as it is afterwards, or ErrNotFound.
	SetStatus(ctx context.Context, ch StatusChange) (Comment, error)
	// History returns the comment's events, oldest first.
	History(ctx context.Context, id string) ([]Event, error)
	// List returns comments matching f (see ListFilter for the order).
	List(ctx context.Context, f ListFilter) ([]Comment, error)
	// Approved returns the approved comments of one page, oldest first.
	Approved(ctx context.Context, siteID, pageKey string) ([]Comment, error)
	// CountApproved returns the number of approved comments for each of the
	// given pages; pages without any are absent from the map.
	CountApproved(ctx context.Context, siteID string, pageKeys []string) (map[string]int, error)
	// Page returns a page, or ErrNotFound.
	Page(ctx context.Context, siteID, key string) (Page, error)

	// Secret returns the secret stored under name. If none is stored yet, it
	// calls generate (at most once per call, outside any transaction), stores
	// the result unless another caller stored one first, and returns the
	// stored value: concurrent callers, also in other processes sharing the
	// database, all get the same bytes, and a stored secret never changes.
	// An error from generate, or an empty secret, is returned wrapped and
	// nothing is stored. It returns ErrUnavailable if the database is locked
	// by another writer for longer than its busy timeout.
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}
