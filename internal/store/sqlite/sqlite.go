// Package sqlite implements comment.Store on an embedded SQLite database
// (modernc.org/sqlite, no cgo). It is commentd's default storage: one file,
// written by one connection at a time, read by several.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/commentd/commentd/internal/comment"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultBusyTimeout is how long a write waits for another writer's lock
// when Options.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// readers is the size of the read pool. WAL lets readers run alongside the
// single writer, so a few connections serve concurrent page loads.
const readers = 4

// Options tunes a Store.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection (or process) before failing with comment.ErrUnavailable.
	// Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// Store is a comment.Store backed by one SQLite file. Writes go through a
// single connection whose transactions begin IMMEDIATE, so they queue in Go
// rather than fail on lock upgrades; reads use a separate pool. It is safe
// for concurrent use.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	group  *committer // new comments, committed in groups on writer
	// Prepared statements of the hot paths, per pool.
	writes, reads *statements
}

var _ comment.Store = (*Store)(nil)

// Open opens (creating if needed, along with its parent directory) the
// SQLite database at path, applies the embedded migrations and returns the
// store. The database runs in WAL mode with synchronous=FULL, so a committed
// write survives a power loss. Close the store when done.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = DefaultBusyTimeout
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite %s: create directory: %w", path, err)
		}
	}

	writer, err := sql.Open("sqlite", dsn(path, opt, true))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, mapErr(err))
	}

	reader, err := sql.Open("sqlite", dsn(path, opt, false))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	if err := reader.PingContext(ctx); err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, mapErr(err))
	}
	writes, err := newStatements(ctx, writer, hotWrites)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reads, err := newStatements(ctx, reader, hotReads)
	if err != nil {
		writes.close()
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{writer: writer, reader: reader, group: newCommitter(writer, writes), writes: writes, reads: reads}, nil
}

// dsn builds the modernc.org/sqlite data source name for path. The writer's
// transactions take the write lock at BEGIN (_txlock=immediate): a deferred
// transaction that later upgrades to a writer can fail with SQLITE_BUSY
// without waiting for busy_timeout.
func dsn(path string, opt Options, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opt.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL syncs the WAL on every commit: a 201 follows only a durable write.
		q.Add("_pragma", "synchronous(FULL)")
		// Savepoint journals and temporary tables in memory, not in
		// temporary files (group.go rolls back to savepoints).
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// migrate applies the embedded migrations that db has not seen yet.
func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(lowerEmailsMigration()))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks that both connection pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite writer: %w", mapErr(err))
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite reader: %w", mapErr(err))
	}
	return nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	s.group.close()
	s.writes.close()
	s.reads.close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// mapErr turns SQLite result codes into the domain's sentinel errors, keeping
// the original error in the chain: a lock held past busy_timeout becomes
// comment.ErrUnavailable, a duplicate key comment.ErrConflict and a missing
// referenced row comment.ErrNotFound.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	code := se.Code()
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %w", comment.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", comment.ErrNotFound, err)
	}
	// Extended result codes are on; the primary code is the low byte.
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", comment.ErrUnavailable, err)
	}
	return err
}

// micros and fromMicros convert between time.Time and the INTEGER unix
// microseconds stored in every time column.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
