package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cli runs one command of the binary against dbPath and returns its output.
func cli(t *testing.T, dbPath, stdin string, args ...string) (string, error) {
	t.Helper()
	env := map[string]string{"COMMENTD_DATABASE_URL": dbPath, "COMMENTD_REDIS_URL": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errb bytes.Buffer
	err := run(context.Background(), args, lookup, strings.NewReader(stdin), &out, &errb)
	return out.String() + errb.String(), err
}

func TestUserAndTokenCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	out, err := cli(t, db, "", "user", "create", "--email", "Root@Example.org", "--role", "admin")
	if err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if !strings.Contains(out, "created user root@example.org (admin)") || !regexp.MustCompile(`password \(shown once\): \S{16,}`).MatchString(out) {
		t.Errorf("user create printed:\n%s", out)
	}
	out, err = cli(t, db, "a chosen password\n", "user", "create", "--email", "mod@example.org")
	if err != nil || strings.Contains(out, "password (shown once)") {
		t.Fatalf("user create with a password on stdin: %v\n%s", err, out)
	}
	if out, err := cli(t, db, "", "user", "create", "--email", "mod@example.org"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate user: %v\n%s", err, out)
	}
	if out, err := cli(t, db, "", "user", "grant", "--email", "mod@example.org", "--site", "demo", "--role", "moderator"); err != nil {
		t.Fatalf("user grant: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		{"user", "grant", "--email", "mod@example.org", "--site", "demo", "--role", "god"},
		{"user", "grant", "--email", "nobody@example.org", "--site", "demo", "--role", "moderator"},
		{"user", "grant", "--email", "mod@example.org", "--site", "nosuch", "--role", "moderator"},
		{"user", "create", "--email", "x@example.org", "--role", "owner"},
		{"user"},
		{"token", "create", "--email", "mod@example.org"},
	} {
		if out, err := cli(t, db, "", bad...); err == nil {
			t.Errorf("%v succeeded:\n%s", bad, out)
		}
	}
	out, err = cli(t, db, "", "token", "create", "--email", "mod@example.org", "--name", "ci")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	token := regexp.MustCompile(`cmtd_\S+`).FindString(out)
	if token == "" {
		t.Fatalf("no token printed:\n%s", out)
	}

	// The token and the password work against a server on the same database.
	in := start(t, setup{env: map[string]string{"COMMENTD_DATABASE_URL": db}})
	r := in.call(t, "GET", "/api/v1/moderation/comments?site=demo", nil, map[string]string{"Authorization": "Bearer " + token})
	if r.status != http.StatusOK {
		t.Errorf("token from the command line: status %d %s", r.status, r.body)
	}
	if r := in.call(t, "GET", "/api/v1/moderation/comments", nil, map[string]string{"Authorization": "Bearer " + token}); r.status != 200 {
		t.Errorf("queue of own sites: %d", r.status)
	}
	if out, err := cli(t, db, "", "user", "revoke", "--email", "mod@example.org", "--site", "demo"); err != nil {
		t.Fatalf("user revoke: %v\n%s", err, out)
	}
	if r := in.call(t, "GET", "/api/v1/moderation/comments?site=demo", nil, map[string]string{"Authorization": "Bearer " + token}); r.status != http.StatusForbidden {
		t.Errorf("after revoke: status %d, want 403", r.status)
	}
}
