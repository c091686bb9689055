package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commentd/commentd/internal/store/storetest"
)

// TestBackup checks that a backup holds every committed comment and none
// that is still uncommitted, that it is taken while a write transaction
// holds the write lock, that it leaves no temporary file behind, and that
// it never replaces an existing file.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(300, 2)
	seedQueue(t, s, fx)

	dir := t.TempDir()
	out := filepath.Join(dir, "backup.db")
	var info BackupInfo
	// The backup runs inside a write transaction that has inserted one more
	// comment: it must neither wait for the write lock nor see the insert.
	err := s.write(ctx, func(tx *sql.Tx) error {
		extra := fx.Comments[0]
		extra.ID = "0190a000-0000-7000-8000-00000000ffff"
		if err := insertComment(ctx, tx, extra); err != nil {
			return err
		}
		var err error
		info, err = s.Backup(ctx, out)
		return err
	})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if got, want := info.Comments, int64(len(fx.Comments)); got != want {
		t.Errorf("Backup reported %d comments, want %d (committed ones only)", got, want)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatalf("stat backup: %v", err)
	}
	if info.Size != st.Size() || info.Path != out {
		t.Errorf("BackupInfo = %+v, want path %s and size %d", info, out, st.Size())
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		t.Errorf("backup mode = %v, want no access for group or others", mode)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("backup directory holds %q, want only backup.db", names)
	}

	// The copy is a working database of its own.
	copied, err := Open(ctx, out, Options{})
	if err != nil {
		t.Fatalf("Open(backup): %v", err)
	}
	var n int
	if err := copied.reader.QueryRowContext(ctx, "SELECT count(*) FROM comments").Scan(&n); err != nil {
		t.Fatalf("count comments in the copy: %v", err)
	}
	copied.Close()
	if n != len(fx.Comments) {
		t.Errorf("copy holds %d comments, want %d", n, len(fx.Comments))
	}

	before, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(ctx, out); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Backup over an existing file: err = %v, want fs.ErrExist", err)
	}
	after, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("a refused backup changed the existing file")
	}
}

// TestBackupFile checks the copy of a database file that a store has open:
// committed comments only, no migrations applied to a database it opens,
// and no database created where none exists.
func TestBackupFile(t *testing.T) {
	ctx := context.Background()
	s, dbPath := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(200, 1)
	seedQueue(t, s, fx)
	dir := t.TempDir()

	out := filepath.Join(dir, "live.db")
	var info BackupInfo
	err := s.write(ctx, func(tx *sql.Tx) error {
		extra := fx.Comments[0]
		extra.ID = "0190a000-0000-7000-8000-00000000fffe"
		if err := insertComment(ctx, tx, extra); err != nil {
			return err
		}
		var err error
		info, err = BackupFile(ctx, dbPath, out, Options{})
		return err
	})
	if err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	if got, want := info.Comments, int64(len(fx.Comments)); got != want {
		t.Errorf("BackupFile reported %d comments, want %d", got, want)
	}

	// A database of an older schema (here: no migrations at all) is copied
	// as it is.
	bare := filepath.Join(dir, "bare.db")
	db, err := sql.Open("sqlite", bare)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE comments (id TEXT PRIMARY KEY); INSERT INTO comments VALUES ('a'), ('b')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	bareOut := filepath.Join(dir, "bare-copy.db")
	info, err = BackupFile(ctx, bare, bareOut, Options{})
	if err != nil {
		t.Fatalf("BackupFile(bare): %v", err)
	}
	if info.Comments != 2 {
		t.Errorf("bare copy: %d comments, want 2", info.Comments)
	}
	for _, p := range []string{bare, bareOut} {
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		err = db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&tables)
		db.Close()
		if err != nil || tables != 1 {
			t.Errorf("%s holds %d tables (%v), want only comments: nothing migrated", filepath.Base(p), tables, err)
		}
	}

	missing := filepath.Join(dir, "absent.db")
	if _, err := BackupFile(ctx, missing, filepath.Join(dir, "absent-copy.db"), Options{}); err == nil {
		t.Error("BackupFile of a missing database succeeded")
	}
	for _, p := range []string{missing, filepath.Join(dir, "absent-copy.db")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a failed BackupFile left %s", filepath.Base(p))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
