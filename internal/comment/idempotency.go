package comment

import (
	"context"
	"fmt"
	"time"
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted, in bytes.
const MaxIdempotencyKeyLen = 200

// IdempotencyKey records that a submission carrying an Idempotency-Key was
// stored, so that a retry of the same submission with the same key gets the
// first answer instead of storing the comment twice. Keys are scoped to a
// site: two sites may hold the same key for unrelated comments.
type IdempotencyKey struct {
	SiteID string
	Key    string // as the client sent it (see CheckIdempotencyKey)
	// RequestHash identifies the submission the key was first sent with (a
	// hex SHA-256 of its canonical form), so that the key sent again with
	// another submission is recognised as a client error.
	RequestHash string
	CommentID   string
	// Status is what the submitter was told, which for a comment judged
	// spam is StatusPending.
	Status    Status
	CreatedAt time.Time
	// ExpiresAt is when the key stops counting: from then on the same key
	// starts a new submission, and the record may be deleted.
	ExpiresAt time.Time
}

// CheckIdempotencyKey returns a *ValidationError on the field
// "idempotency_key" unless key is 1 to MaxIdempotencyKeyLen printable ASCII
// characters (space to tilde).
func CheckIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return Invalid("idempotency_key", fmt.Sprintf("The Idempotency-Key header must be 1 to %d characters long.", MaxIdempotencyKeyLen))
	}
	for i := range len(key) {
		if key[i] < 0x20 || key[i] > 0x7e {
			return Invalid("idempotency_key", "The Idempotency-Key header may only hold printable ASCII characters (letters, digits, punctuation and spaces).")
		}
	}
	return nil
}

// IdempotencyStore keeps the idempotency keys of submissions. Every method
// that writes does so in one transaction.
type IdempotencyStore interface {
	// CreateKeyedComment is CreateComment that also stores k in the same
	// transaction, with k.SiteID and k.CommentID set from c: a comment
	// submitted with a key is never committed without it, nor the key
	// without its comment. A record of the same site and key whose
	// ExpiresAt is at or before k.CreatedAt is replaced. Besides
	// CreateComment's errors it returns ErrConflict, and stores nothing, if
	// the site holds the key unexpired (also when another caller stored it
	// a moment earlier).
	CreateKeyedComment(ctx context.Context, c Comment, p Page, k IdempotencyKey) error
	// FindIdempotencyKey returns the record of key on site siteID if it
	// expires after now, and ErrNotFound otherwise.
	FindIdempotencyKey(ctx context.Context, siteID, key string, now time.Time) (IdempotencyKey, error)
	// DeleteIdempotencyKeysBefore deletes every record whose ExpiresAt is
	// at or before t, and returns how many it deleted.
	DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error)
}
