package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// CreateKeyedComment stores c as CreateComment does and k with it, in the
// same transaction (the group commit's: see group.go), with k.SiteID and
// k.CommentID taken from c. An expired record of the same site and key (one
// whose ExpiresAt is at or before k.CreatedAt) is replaced. Errors are
// CreateComment's, and one wrapping comment.ErrConflict if the key is
// held unexpired; nothing is stored then.
func (s *Store) CreateKeyedComment(ctx context.Context, c comment.Comment, p comment.Page, k comment.IdempotencyKey) error {
	p.SiteID, p.Key = c.SiteID, c.PageKey
	k.SiteID, k.CommentID = c.SiteID, c.ID
	if err := s.group.write(ctx, c, p, &k); err != nil {
		return fmt.Errorf("create comment %s with idempotency key: %w", c.ID, err)
	}
	return nil
}

// FindIdempotencyKey returns the record of key on site siteID if it expires
// after now, or an error wrapping comment.ErrNotFound.
func (s *Store) FindIdempotencyKey(ctx context.Context, siteID, key string, now time.Time) (comment.IdempotencyKey, error) {
	var k comment.IdempotencyKey
	err := s.read(ctx, func(tx *sql.Tx) error {
		var (
			status           string
			created, expires int64
		)
		err := preparedTx{tx, s.reads}.QueryRowContext(ctx, findKeySQL, siteID, key, micros(now)).
			Scan(&k.SiteID, &k.Key, &k.RequestHash, &k.CommentID, &status, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return comment.ErrNotFound
		}
		if err != nil {
			return mapErr(err)
		}
		k.Status, k.CreatedAt, k.ExpiresAt = comment.Status(status), fromMicros(created), fromMicros(expires)
		return nil
	})
	if err != nil {
		return comment.IdempotencyKey{}, fmt.Errorf("idempotency key of site %q: %w", siteID, err)
	}
	return k, nil
}

// purgeBatch is how many expired keys one write transaction deletes, so
// that a purge after a busy day never holds the writer (and so the group
// commit) for long.
const purgeBatch = 1000

// DeleteIdempotencyKeysBefore deletes every record whose ExpiresAt is at or
// before t and returns how many it deleted. It runs as ordinary writes,
// outside the group commit, purgeBatch records at a time.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (site_id, key) IN
				(SELECT site_id, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`, micros(t), purgeBatch)
			if err != nil {
				return mapErr(err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("delete idempotency keys expired by %s: %w", t.Format(time.RFC3339), err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

const (
	keyColumns = `site_id, key, request_hash, comment_id, status, created_at, expires_at`

	findKeySQL = `SELECT ` + keyColumns + ` FROM idempotency_keys
		WHERE site_id = ? AND key = ? AND expires_at > ?`

	// insertKeyPrefix, followed by one keyValuesRow per key, inserts keys.
	insertKeyPrefix = `INSERT INTO idempotency_keys (` + keyColumns + `) VALUES `
	keyValuesRow    = `(?, ?, ?, ?, ?, ?, ?)`
	insertKeySQL    = insertKeyPrefix + keyValuesRow

	deleteExpiredKeySQL = `DELETE FROM idempotency_keys WHERE site_id = ? AND key = ? AND expires_at <= ?`
)

// keyValues returns the values of keyValuesRow for k.
func keyValues(k comment.IdempotencyKey) []any {
	return []any{k.SiteID, k.Key, k.RequestHash, k.CommentID, string(k.Status), micros(k.CreatedAt), micros(k.ExpiresAt)}
}

// insertKey stores k, replacing an expired record of the same key; a
// record that has not expired by k.CreatedAt fails it with
// comment.ErrConflict.
func insertKey(ctx context.Context, tx querier, k comment.IdempotencyKey) error {
	if _, err := tx.ExecContext(ctx, deleteExpiredKeySQL, k.SiteID, k.Key, micros(k.CreatedAt)); err != nil {
		return fmt.Errorf("delete expired idempotency key: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, insertKeySQL, keyValues(k)...); err != nil {
		return fmt.Errorf("store idempotency key: %w", mapErr(err))
	}
	return nil
}
