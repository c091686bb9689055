package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/store/sqlite"
)

const backupUsage = `usage: commentd backup [--config FILE] OUT.db

Writes a consistent copy of the SQLite database to OUT.db, also while the
server runs, checks it with PRAGMA integrity_check and prints its size and
comment count. OUT.db must not exist. For PostgreSQL, use pg_dump.
`

// backupCommand runs "commentd backup": an online copy of the SQLite
// database, verified before it gets its name.
func backupCommand(ctx context.Context, args []string, e env) error {
	flags := flag.NewFlagSet("backup", flag.ContinueOnError)
	flags.SetOutput(e.stderr)
	flags.Usage = func() {
		fmt.Fprint(e.stderr, backupUsage)
		flags.PrintDefaults()
	}
	configPath := configFlag(flags, e)
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 1 || flags.Arg(0) == "" {
		return errors.New("usage: commentd backup [--config FILE] OUT.db")
	}
	out := flags.Arg(0)
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	if cfg.IsPostgres() {
		return errors.New("backup: the database is PostgreSQL; commentd backup copies SQLite only. " +
			`Use pg_dump, for example: pg_dump --format=custom --file=commentd.dump "$COMMENTD_DATABASE_URL"`)
	}
	if err := refuseExisting(out); err != nil {
		return err
	}
	// Name a missing database plainly (BackupFile would fail too, in SQLite's words).
	if _, err := os.Stat(cfg.DatabaseURL); err != nil {
		return fmt.Errorf("backup: database %s: %w", cfg.DatabaseURL, err)
	}
	// The file is copied without opening a store: that would apply this
	// binary's migrations, and a backup is what to take before them.
	info, err := sqlite.BackupFile(ctx, cfg.DatabaseURL, out, sqlite.Options{BusyTimeout: cfg.SQLiteBusyTimeout})
	if errors.Is(err, fs.ErrExist) {
		// The file appeared while the copy was being made.
		return fmt.Errorf("backup: %s already exists; choose a new name or remove it first", out)
	}
	if err != nil {
		return err // it names the database and the target
	}
	fmt.Fprintf(e.stdout, "backup %s: %d bytes, %d comments, integrity ok\n", info.Path, info.Size, info.Comments)
	return nil
}

// refuseExisting returns an error if a file exists at path: a backup never
// replaces one.
func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("backup: %s already exists; choose a new name or remove it first", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
