package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// Secret returns the secret stored under name. If there is none, it calls
// generate once and, in one transaction, inserts the result unless another
// writer (in this process or another) stored one first, then reads back
// whichever value is stored, so every caller returns the same bytes. Errors
// wrap generate's error (an empty secret is refused; nothing is stored
// either way), or comment.ErrUnavailable if another writer holds the
// database longer than the busy timeout.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	var value []byte
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		value, err = findSecret(ctx, tx, name)
		return err
	})
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, comment.ErrNotFound) {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	// Generate before taking the write lock: generate may be slow, and it
	// must not hold up (or wait for) the single writer connection.
	candidate, err := generate()
	if err != nil {
		return nil, fmt.Errorf("secret %q: generate: %w", name, err)
	}
	if len(candidate) == 0 {
		return nil, fmt.Errorf("secret %q: generate returned an empty secret", name)
	}
	err = s.write(ctx, func(tx *sql.Tx) (err error) {
		value, err = storeSecret(ctx, tx, name, candidate, time.Now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store secret %q: %w", name, err)
	}
	return value, nil
}

// storeSecret stores value under name unless a secret is stored there
// already, and returns the secret stored afterwards.
func storeSecret(ctx context.Context, tx *sql.Tx, name string, value []byte, at time.Time) ([]byte, error) {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, value, micros(at))
	if err != nil {
		return nil, mapErr(err)
	}
	return findSecret(ctx, tx, name)
}

func findSecret(ctx context.Context, tx *sql.Tx, name string) ([]byte, error) {
	var value []byte
	err := tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, comment.ErrNotFound
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return value, nil
}
