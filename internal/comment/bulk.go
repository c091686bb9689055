package comment

import (
	"context"
	"iter"
)

// BulkLoader is implemented by stores that can write many comments at once,
// far faster than one CreateComment each. It serves seeding a database with
// scale data (commentd seed) and imports; the service itself never calls it.
type BulkLoader interface {
	// BulkLoad stores pages, then the comments that comments yields, which
	// it reads as it writes them, so that a load need not fit in memory.
	// Each page is created, or an empty stored URL or title filled in, as
	// CreateComment does; a page it creates is recorded as created at the
	// first comment's CreatedAt (or now, when there are no comments). Each
	// comment is stored exactly as given: its ID, status, depth, parent and
	// times are the caller's, and nothing beyond the schema's own
	// constraints checks them. Each gets one "submit" event by "system" at
	// its CreatedAt to its Status, as CreateComment writes, and is indexed
	// for List's search like any other. Unlike CreateComment, no rule hits
	// are counted for c.Reasons.
	//
	// A comment's page must be among pages or stored already, and its
	// parent stored already or yielded earlier. A store may commit a long
	// load in several transactions, so on an error the comments before the
	// failing batch may stay stored. Errors wrap ErrNotFound for a missing
	// site, page or parent, ErrConflict for an ID that exists, and
	// ErrUnavailable when the database cannot take the write now. Other
	// writers, and when the store has no comments yet also readers, may
	// have to wait until the load is done.
	BulkLoad(ctx context.Context, pages []Page, comments iter.Seq[Comment]) error
}
