package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
)

// gdprCommand runs "gdpr export" and "gdpr erase": a reader's request to
// see, or to remove, what is stored about their email address.
func gdprCommand(ctx context.Context, cmd string, args []string, e env) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := configFlag(fs, e)
	email := fs.String("email", "", "the reader's email address")
	mode := fs.String("comments", "keep", `erase: "keep" the comments without email, IP and user agent, or "delete" them`)
	yes := fs.Bool("yes", false, "erase: do not ask for confirmation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if comment.NormalizeEmail(*email) == "" {
		return fmt.Errorf("%s: --email is required", cmd)
	}
	if *mode != "keep" && *mode != "delete" {
		return fmt.Errorf(`%s: --comments must be "keep" or "delete"`, cmd)
	}
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	log := newLogger(cfg.LogFormat, e.stderr)
	key, err := serverSecret(ctx, store, cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	subject := comment.EmailSubject(key, *email)

	if cmd == "gdpr export" {
		d, err := comment.ExportPersonalData(ctx, store, key, comment.AuditActorCLI, time.Now().UTC(), *email)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		log.Info("personal data exported", "actor", comment.AuditActorCLI, "subject", subject, "comments", len(d.Comments))
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}

	if !*yes {
		d, err := store.PersonalData(ctx, *email)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		prompt := fmt.Sprintf("erase %d comments (%s them) and %d list entries of %s? [y/N] ",
			len(d.Comments), *mode, len(d.ListEntries), d.Email)
		if err := confirm(e, prompt); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
	}
	sum, err := comment.ErasePersonalData(ctx, store, key, comment.AuditActorCLI, time.Now().UTC(), *email, *mode == "delete")
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	log.Info("personal data erased", "actor", comment.AuditActorCLI, "subject", subject,
		"scrubbed", sum.Scrubbed, "deleted", sum.Deleted, "tombstoned", sum.Tombstoned, "list_entries", sum.ListEntries)
	fmt.Fprintf(e.stdout, "erased: %d comments kept without email, IP and user agent, %d deleted, %d left as deleted placeholders (others replied), %d revisions, %d list entries, on %d sites\n",
		sum.Scrubbed, sum.Deleted, sum.Tombstoned, sum.Revisions, sum.ListEntries, len(sum.Sites))
	return nil
}

// errNotConfirmed is returned when erasure was not confirmed.
var errNotConfirmed = errors.New("not confirmed; nothing was erased")

// confirm asks prompt on the terminal and returns nil if the answer is yes.
// Without a terminal on standard input it refuses, so that a script cannot
// erase data without saying --yes.
func confirm(e env, prompt string) error {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return errors.New("standard input is not a terminal: pass --yes to erase without confirmation")
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return errors.New("standard input is not a terminal: pass --yes to erase without confirmation")
	}
	fmt.Fprint(e.stderr, prompt)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
