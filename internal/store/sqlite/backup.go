package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// BackupInfo describes a finished backup.
type BackupInfo struct {
	Path     string // where the copy was written
	Size     int64  // its size in bytes
	Comments int64  // the comments it holds, of every status
}

// Backup writes a consistent copy of the database to path while the store
// stays in use: the copy is one read transaction's snapshot (VACUUM INTO),
// so writers are not blocked and every write committed before Backup began
// is in it. The copy is built under a temporary name in path's directory,
// checked with PRAGMA integrity_check, synced, and only then given its
// name; a failed backup leaves nothing at path.
//
// Backup never replaces a file: if path exists it returns an error
// wrapping fs.ErrExist. An integrity check that does not answer "ok" is an
// error too.
func (s *Store) Backup(ctx context.Context, path string) (BackupInfo, error) {
	return backup(ctx, path, s.vacuumInto)
}

// BackupFile is Backup for the database file at dbPath, which another
// process (a running server) may be using. Unlike Open it neither creates
// the database nor applies migrations: a newer binary can back up the
// database of an older server before it is upgraded. opt.BusyTimeout
// bounds the wait for a lock, as in Open.
func BackupFile(ctx context.Context, dbPath, path string, opt Options) (BackupInfo, error) {
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = DefaultBusyTimeout
	}
	// mode=rw: fail rather than create a missing database. Nothing is
	// written to it; VACUUM INTO only reads its source.
	db, err := sql.Open("sqlite", fileURI(dbPath, "mode=rw&_pragma=busy_timeout("+strconv.FormatInt(opt.BusyTimeout.Milliseconds(), 10)+")"))
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup %s: %w", dbPath, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	info, err := backup(ctx, path, func(ctx context.Context, tmp string) error {
		if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
			return fmt.Errorf("vacuum into: %w", mapErr(err))
		}
		return nil
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup %s: %w", dbPath, err)
	}
	return info, nil
}

// backup makes a verified copy at path with vacuum, which fills the empty
// file whose name it is given.
func backup(ctx context.Context, path string, vacuum func(ctx context.Context, tmp string) error) (BackupInfo, error) {
	if _, err := os.Lstat(path); err == nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	// An empty file is a valid target for VACUUM INTO; creating it here
	// reserves a unique name, readable by the owner only, since the copy
	// holds authors' addresses.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpPath)
		}
	}()

	if err := vacuum(ctx, tmpPath); err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	comments, err := checkCopy(ctx, tmpPath)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	if err := publish(tmpPath, path); err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	done = true
	// The name is in place; syncing the directory makes it survive a crash.
	if err := syncFile(filepath.Dir(path)); err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup to %s: %w", path, err)
	}
	return BackupInfo{Path: path, Size: st.Size(), Comments: comments}, nil
}

// vacuumInto copies the database into the empty file at path. It runs on
// a read connection: the copy is a read transaction and does not hold the
// write lock. Read connections are query_only, which VACUUM INTO counts as
// writing, so the pragma is lifted for the copy and set again after; a
// connection on which that fails is dropped from the pool.
func (s *Store) vacuumInto(ctx context.Context, path string) error {
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return fmt.Errorf("vacuum into: %w", mapErr(err))
	}
	defer func() {
		// Restore even if ctx is done, so the connection goes back read-only.
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA query_only(1)"); rerr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the error is the point: it discards the connection
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only(0)"); err != nil {
		return fmt.Errorf("vacuum into: %w", mapErr(err))
	}
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("vacuum into: %w", mapErr(err))
	}
	return nil
}

// checkCopy opens the database file at path read-only, runs PRAGMA
// integrity_check on it and returns how many comments it holds.
func checkCopy(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", fileURI(path, "mode=ro"))
	if err != nil {
		return 0, fmt.Errorf("open copy: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return 0, fmt.Errorf("integrity check: %w", mapErr(err))
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return 0, fmt.Errorf("integrity check: %w", err)
		}
		problems = append(problems, line)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("integrity check: %w", mapErr(err))
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return 0, fmt.Errorf("integrity check of the copy failed: %q", problems)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM comments").Scan(&n); err != nil {
		return 0, fmt.Errorf("count comments: %w", mapErr(err))
	}
	return n, nil
}

// publish gives the finished copy at tmp the name path, failing with
// fs.ErrExist rather than replacing a file that appeared there meanwhile.
func publish(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	// A file system without hard links: check, then rename. The window
	// between the two is small and only matters if two backups race.
	if _, statErr := os.Lstat(path); statErr == nil {
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	return os.Rename(tmp, path)
}

// fileURI returns the SQLite URI of the file at path with the given query.
func fileURI(path, query string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + query
}

// syncFile flushes the file or directory at path to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
