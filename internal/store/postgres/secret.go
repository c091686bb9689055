package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// Secret returns the secret stored under name. If there is none, it calls
// generate once and, in one transaction, inserts the result unless another
// instance stored one first, then reads back whichever value is stored, so
// every caller sharing the database returns the same bytes. Errors wrap
// generate's error (an empty secret is refused; nothing is stored either
// way), or comment.ErrUnavailable if the database cannot take the write now.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	value, err := findSecret(ctx, s.pool, name)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, comment.ErrNotFound) {
		return nil, fmt.Errorf("secret %q: %w", name, mapErr(err))
	}
	// Generate outside the transaction, so that a slow generator holds no
	// connection and no lock.
	candidate, err := generate()
	if err != nil {
		return nil, fmt.Errorf("secret %q: generate: %w", name, err)
	}
	if len(candidate) == 0 {
		return nil, fmt.Errorf("secret %q: generate returned an empty secret", name)
	}
	err = s.write(ctx, func(tx pgx.Tx) (err error) {
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
func storeSecret(ctx context.Context, tx dbtx, name string, value []byte, at time.Time) ([]byte, error) {
	// If a concurrent transaction is inserting the same name, the INSERT
	// waits for it to commit and then does nothing. The SELECT is a new
	// statement, so under read committed it sees that committed row.
	_, err := tx.Exec(ctx, `
		INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, value, at)
	if err != nil {
		return nil, err
	}
	return findSecret(ctx, tx, name)
}

func findSecret(ctx context.Context, tx dbtx, name string) ([]byte, error) {
	var value []byte
	err := tx.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comment.ErrNotFound
	}
	return value, err
}
