package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/ratelimit"
)

// accountCommand runs the user and token subcommands against the configured
// database.
func accountCommand(ctx context.Context, cmd string, args []string, e env) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := configFlag(fs, e)
	email := fs.String("email", "", "the user's email address")
	site := fs.String("site", "", "site id (grant, revoke)")
	role := fs.String("role", "", `create: "admin" for a global admin; grant: "owner" or "moderator"`)
	name := fs.String("name", "", "token name (token create)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("%s: --email is required", cmd)
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
	// The configured sites exist for every command, so that a moderator can
	// be granted a site before the server has ever run.
	if err := declareSites(ctx, store, cfg); err != nil {
		return err
	}
	accounts, err := account.New(account.Deps{Store: store, Limiter: ratelimit.NewLocal(time.Now)})
	if err != nil {
		return err
	}
	// The command line acts as an administrator: whoever can run it can read
	// the database anyway.
	admin := comment.Principal{Name: "command line", Admin: true}

	switch cmd {
	case "user create":
		if *role != "" && *role != "admin" {
			return fmt.Errorf(`user create: --role may only be "admin"; give site roles with "user grant"`)
		}
		password, generated, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		u, err := accounts.CreateUser(ctx, *email, password, *role == "admin")
		if err != nil {
			return describe("user create", err)
		}
		fmt.Fprintf(e.stdout, "created user %s%s\n", u.Email, map[bool]string{true: " (admin)"}[u.Admin])
		if generated {
			fmt.Fprintf(e.stdout, "password (shown once): %s\n", password)
		}
	case "user password":
		password, generated, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		if err := accounts.SetPassword(ctx, *email, password); err != nil {
			return describe("user password", err)
		}
		fmt.Fprintf(e.stdout, "password of %s changed\n", account.NormalizeEmail(*email))
		if generated {
			fmt.Fprintf(e.stdout, "password (shown once): %s\n", password)
		}
	case "user grant":
		if *site == "" || *role == "" {
			return errors.New("user grant: --site and --role are required")
		}
		if err := accounts.Grant(ctx, admin, *email, *site, comment.Role(*role)); err != nil {
			return describe("user grant", err)
		}
		fmt.Fprintf(e.stdout, "%s is now %s of site %s\n", account.NormalizeEmail(*email), *role, *site)
	case "user revoke":
		if *site == "" {
			return errors.New("user revoke: --site is required")
		}
		u, err := store.UserByEmail(ctx, account.NormalizeEmail(*email))
		if err != nil {
			return describe("user revoke", err)
		}
		if err := accounts.Revoke(ctx, admin, u.ID, *site); err != nil {
			return describe("user revoke", err)
		}
		fmt.Fprintf(e.stdout, "%s has no role on site %s any more\n", u.Email, *site)
	case "token create":
		if *name == "" {
			return errors.New("token create: --name is required")
		}
		u, err := store.UserByEmail(ctx, account.NormalizeEmail(*email))
		if err != nil {
			return describe("token create", err)
		}
		plain, _, err := accounts.CreateToken(ctx, comment.Principal{UserID: u.ID, Name: u.Email}, *name)
		if err != nil {
			return describe("token create", err)
		}
		fmt.Fprintf(e.stdout, "token %q for %s (shown once; it acts with the user's roles):\n%s\n", *name, u.Email, plain)
	}
	return nil
}

// readPassword reads a password from the first line of stdin when stdin is
// not a terminal; otherwise, or when that line is empty, it generates one.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			stdin = nil
		}
	}
	if stdin != nil {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		if p := strings.TrimRight(line, "\r\n"); p != "" {
			return p, false, nil
		}
	}
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	return base64.RawURLEncoding.EncodeToString(b), true, nil
}

// describe words domain errors for the command line.
func describe(cmd string, err error) error {
	var verr *comment.ValidationError
	switch {
	case errors.As(err, &verr):
		var parts []string
		for f, m := range verr.Fields {
			parts = append(parts, f+": "+m)
		}
		return fmt.Errorf("%s: %s", cmd, strings.Join(parts, "; "))
	case errors.Is(err, comment.ErrConflict):
		return fmt.Errorf("%s: a user with that email already exists", cmd)
	case errors.Is(err, comment.ErrNotFound):
		return fmt.Errorf("%s: no such user or site", cmd)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}
