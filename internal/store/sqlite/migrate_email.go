package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"
)

// lowerEmailsMigration is migration 9, written in Go: it sets
// author_email_lower to strings.ToLower(author_email) for every comment
// whose address has a character outside ASCII. Migration 3 filled the
// column of older rows with SQLite's lower(), which folds ASCII letters
// only, so such an address written before it was not found by a reader's
// data request spelled in lower case. Rows written since already hold Go's
// folding; rewriting them changes nothing.
func lowerEmailsMigration() *goose.Migration {
	return goose.NewGoMigration(9, &goose.GoFunc{RunTx: lowerNonASCIIEmails}, &goose.GoFunc{})
}

func lowerNonASCIIEmails(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, author_email FROM comments WHERE author_email GLOB '*[^'||char(1)||'-'||char(127)||']*'`)
	if err != nil {
		return fmt.Errorf("read addresses: %w", err)
	}
	type row struct{ id, email string }
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.email); err != nil {
			rows.Close()
			return fmt.Errorf("read addresses: %w", err)
		}
		todo = append(todo, r)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read addresses: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read addresses: %w", err)
	}
	for _, r := range todo {
		if _, err := tx.ExecContext(ctx, `UPDATE comments SET author_email_lower = ? WHERE id = ?`, strings.ToLower(r.email), r.id); err != nil {
			return fmt.Errorf("fold address of comment %s: %w", r.id, err)
		}
	}
	return nil
}
