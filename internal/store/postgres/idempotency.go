package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// FindIdempotencyKey returns the record of key on site siteID if it expires
// after now, or an error wrapping comment.ErrNotFound.
func (s *Store) FindIdempotencyKey(ctx context.Context, siteID, key string, now time.Time) (comment.IdempotencyKey, error) {
	if !storable(siteID) || !storable(key) {
		return comment.IdempotencyKey{}, fmt.Errorf("idempotency key of site %q: %w", siteID, comment.ErrNotFound)
	}
	var (
		k      comment.IdempotencyKey
		status string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT site_id, key, request_hash, comment_id, status, created_at, expires_at
		FROM idempotency_keys WHERE site_id = $1 AND key = $2 AND expires_at > $3`, siteID, key, now).
		Scan(&k.SiteID, &k.Key, &k.RequestHash, &k.CommentID, &status, &k.CreatedAt, &k.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = comment.ErrNotFound
	}
	if err != nil {
		return comment.IdempotencyKey{}, fmt.Errorf("idempotency key of site %q: %w", siteID, mapErr(err))
	}
	k.Status, k.CreatedAt, k.ExpiresAt = comment.Status(status), k.CreatedAt.UTC(), k.ExpiresAt.UTC()
	return k, nil
}

// DeleteIdempotencyKeysBefore deletes every record whose ExpiresAt is at or
// before t and returns how many it deleted.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1`, t)
	if err != nil {
		return 0, fmt.Errorf("delete idempotency keys expired by %s: %w", t.Format(time.RFC3339), mapErr(err))
	}
	return tag.RowsAffected(), nil
}

// insertKey stores k, first deleting an expired record of the same key; a
// record that has not expired by k.CreatedAt fails the insert with a unique
// violation. Under read committed, two transactions replacing one expired
// record both delete it (the second waits for the first and then finds
// nothing to delete), and only the first insert stands.
func insertKey(ctx context.Context, tx execer, k comment.IdempotencyKey) error {
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE site_id = $1 AND key = $2 AND expires_at <= $3`,
		k.SiteID, k.Key, k.CreatedAt); err != nil {
		return fmt.Errorf("delete expired idempotency key: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO idempotency_keys (site_id, key, request_hash, comment_id, status, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.SiteID, k.Key, k.RequestHash, k.CommentID, string(k.Status), k.CreatedAt, k.ExpiresAt); err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	return nil
}
