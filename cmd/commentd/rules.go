package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/spam"
)

// rulesCommand runs "rules export SITE" (YAML on standard output) and
// "rules import SITE FILE" (replaces the site's rules and lists), so that a
// site's rules can live in version control.
func rulesCommand(ctx context.Context, cmd string, args []string, e env) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return err
	}
	want := 1
	if cmd == "rules import" {
		want = 2
	}
	if fs.NArg() != want {
		if want == 1 {
			return errors.New("usage: commentd rules export SITE")
		}
		return errors.New("usage: commentd rules import SITE FILE")
	}
	siteID := fs.Arg(0)
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := declareSites(ctx, store, cfg); err != nil {
		return err
	}
	secret, err := serverSecret(ctx, store, cfg)
	if err != nil {
		return err
	}
	svc := moderation.New(moderation.Deps{Store: store, Limiter: ratelimit.NewLocal(time.Now), Renderer: markup.NewRenderer(), Secret: secret})
	admin := comment.Principal{Name: "command line", Admin: true}

	view, err := svc.Rules(ctx, admin, siteID)
	if err != nil {
		return describe(cmd, err)
	}
	if cmd == "rules export" {
		out, err := view.Rules.YAML()
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(out)
		return err
	}
	raw, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		return fmt.Errorf("rules import: %w", err)
	}
	r, err := spam.ParseYAML(raw)
	if err != nil {
		return describe(cmd, err)
	}
	// The file replaces whatever is stored: it is the source of truth.
	r.Version = view.Rules.Version
	v, err := svc.SaveRules(ctx, admin, siteID, r)
	if err != nil {
		return describe(cmd, err)
	}
	fmt.Fprintf(e.stdout, "rules of site %s imported (version %d)\n", siteID, v)
	return nil
}
