// Package postgres implements comment.Store on PostgreSQL (pgx), for running
// several commentd instances against one shared database.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/commentd/commentd/internal/comment"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a comment.Store backed by a PostgreSQL connection pool. It is
// safe for concurrent use, also by several processes sharing the database.
type Store struct {
	pool *pgxpool.Pool
}

var _ comment.Store = (*Store)(nil)

// DefaultMaxConns is the size of the connection pool unless the URL sets
// pool_max_conns (mind max_connections when several instances share the
// server: 100 by default).
const DefaultMaxConns = 16

// Open connects to the database at url (a postgres:// URL or keyword/value
// string; a search_path parameter selects the schema), applies the embedded
// migrations and returns the store. Instances starting together take turns
// migrating under an advisory lock. A database that cannot be reached gives
// an error wrapping comment.ErrUnavailable. Close the store when done.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (4 on this kind of machine) lets only four commits
		// wait for the log flush at once; PostgreSQL flushes once for all
		// the commits waiting together, so more connections turn a wave
		// of submissions into fewer flushes.
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", mapErr(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", mapErr(err))
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", mapErr(err))
	}
	return &Store{pool: pool}, nil
}

// migrate applies the embedded migrations that the current schema has not
// seen yet.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	if schema == nil {
		return errors.New("migrate: no schema of search_path exists")
	}
	// Migrations are per schema, so one lock per schema: instances sharing a
	// schema wait for each other, other schemas (e.g. parallel tests) do not.
	h := fnv.New64a()
	h.Write([]byte("commentd migrations " + *schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64()>>1)),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
		goose.WithGoMigrations(lowerEmailsMigration()),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate schema %s: %w", *schema, err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", mapErr(err))
	}
	return nil
}

// Close closes the connection pool, waiting for connections in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// execer is the part of dbtx that writes; a queue satisfies it too.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// queue collects statements into a batch instead of running them: see
// CreateComment.
type queue struct{ b *pgx.Batch }

// Exec queues the statement; its outcome is known when the batch runs.
func (q queue) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

// dbtx is what the private helpers need: a transaction, or the pool for
// single-statement reads.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// write runs fn in a read-committed transaction and commits it, mapping
// the error (see mapErr).
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return mapErr(pgx.BeginFunc(ctx, s.pool, fn))
}

// mapErr turns PostgreSQL and connection errors into the domain's sentinel
// errors, keeping the original error in the chain: a duplicate key becomes
// comment.ErrConflict, a missing referenced row comment.ErrNotFound, and
// anything the client may simply retry (lock and statement timeouts,
// serialization failures, deadlocks, an overloaded, restarting or
// unreachable server) comment.ErrUnavailable.
func mapErr(err error) error {
	if err == nil || errors.Is(err, comment.ErrNotFound) || errors.Is(err, comment.ErrConflict) ||
		errors.Is(err, comment.ErrUnavailable) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", comment.ErrConflict, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w", comment.ErrNotFound, err)
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"55P03", // lock_not_available (lock_timeout)
			"57014", // query_canceled (statement_timeout)
			"53000", // insufficient_resources
			"53300", // too_many_connections
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03": // cannot_connect_now
			return fmt.Errorf("%w: %w", comment.ErrUnavailable, err)
		}
		if strings.HasPrefix(pe.Code, "08") { // connection_exception
			return fmt.Errorf("%w: %w", comment.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // the caller gave up; nothing is wrong with the database
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", comment.ErrUnavailable, err)
	}
	return err
}

// storable reports whether PostgreSQL can hold s in a text column. Lookups
// by a key it cannot hold (invalid UTF-8, NUL bytes) cannot match anything,
// and are answered without asking the server, which would reject them.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// marshalList encodes a slice as a JSON array, writing [] rather than null
// for an empty one.
func marshalList[T any](v []T) ([]byte, error) {
	if v == nil {
		v = []T{}
	}
	return json.Marshal(v)
}

// unmarshalList decodes a JSON array, returning nil for an empty one so that
// values read back compare equal to values never set.
func unmarshalList[T any](b []byte) ([]T, error) {
	var v []T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
