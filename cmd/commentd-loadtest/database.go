package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver for database/sql
)

// database is commentd's database for one run.
type database struct {
	url  string // commentd's database_url
	desc string // for the report
	// count returns how many comments are stored, whatever their status.
	count func(context.Context) (int, error)
	// drop removes what openDatabase created outside the temporary
	// directory (the PostgreSQL schema).
	drop func()
}

// openDatabase prepares an empty database: a SQLite file in dir, or a fresh
// schema in the PostgreSQL database opt.postgresURL, dropped by drop.
func openDatabase(ctx context.Context, opt options, dir string) (*database, error) {
	if opt.store == "sqlite" {
		path := filepath.Join(dir, "commentd.db")
		return &database{
			url:  path,
			desc: "SQLite (WAL, synchronous=FULL), file in a temporary directory",
			count: func(ctx context.Context) (int, error) {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					return 0, err
				}
				defer db.Close()
				var n int
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM comments").Scan(&n); err != nil {
					return 0, fmt.Errorf("count comments in %s: %w", path, err)
				}
				return n, nil
			},
			drop: func() {},
		}, nil
	}

	schema := "loadtest_" + randomHex(6)
	conn, err := pgx.Connect(ctx, opt.postgresURL)
	if err != nil {
		return nil, fmt.Errorf("connect PostgreSQL (-postgres-url): %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	u, err := url.Parse(opt.postgresURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	schemaURL := u.String()
	return &database{
		url:  schemaURL,
		desc: fmt.Sprintf("PostgreSQL %s@%s%s, schema %s (dropped after the run)", u.User.Username(), u.Host, u.Path, schema),
		count: func(ctx context.Context) (int, error) {
			c, err := pgx.Connect(ctx, schemaURL)
			if err != nil {
				return 0, err
			}
			defer c.Close(ctx)
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM comments").Scan(&n); err != nil {
				return 0, fmt.Errorf("count comments in schema %s: %w", schema, err)
			}
			return n, nil
		},
		drop: func() {
			ctx := context.Background()
			if c, err := pgx.Connect(ctx, opt.postgresURL); err == nil {
				_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
				c.Close(ctx)
			}
		},
	}, nil
}
