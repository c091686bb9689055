package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// write runs fn in a transaction on the single writer connection and
// commits it. The transaction begins IMMEDIATE, so waiting for another
// process's lock happens here, bounded by busy_timeout.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return run(ctx, s.writer, fn)
}

// read runs fn in a transaction on the read pool, so that it sees one
// consistent snapshot of the database.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return run(ctx, s.reader, fn)
}

func run(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// marshalList encodes a slice as a JSON array, writing [] rather than null
// for an empty one.
func marshalList[T any](v []T) (string, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// unmarshalList decodes a JSON array, returning nil for an empty one so that
// values read back compare equal to values never set.
func unmarshalList[T any](s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
