package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/commentd/commentd/internal/testenv"
)

var backupLineRE = regexp.MustCompile(`^backup (\S+): (\d+) bytes, (\d+) comments, integrity ok\n$`)

// TestBackupWhileServing takes backups of a running server's SQLite
// database while comments keep arriving: every backup passes PRAGMA
// integrity_check, holds every comment acknowledged before it began and
// reports its own comment count, and no submission fails because of it.
func TestBackupWhileServing(t *testing.T) {
	site := testenv.UniqueName("s")
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "commentd.db")
	yaml := strings.Replace(siteYAML(site, ""), "burst: 3", "burst: 100000", 1)
	cfgPath := filepath.Join(dir, "commentd.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, setup{yaml: yaml, env: map[string]string{"COMMENTD_DATABASE_URL": dbPath}})

	var (
		mu     sync.Mutex
		acked  []string
		failed []string
	)
	submit := func(i int) {
		id, err := postNumbered(in.base, site, i)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed = append(failed, err.Error())
			return
		}
		acked = append(acked, id)
	}
	for i := range 20 {
		submit(i)
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 1000 * (w + 1); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				submit(i)
			}
		}()
	}

	lookup := func(k string) (string, bool) {
		if k == "COMMENTD_DATABASE_URL" {
			return dbPath, true
		}
		return "", false
	}
	for n := range 3 {
		out := filepath.Join(dir, "backups", fmt.Sprintf("commentd-%d.db", n))
		if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		before := append([]string(nil), acked...)
		mu.Unlock()

		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"backup", "--config", cfgPath, out}, lookup, strings.NewReader(""), &stdout, &stderr); err != nil {
			close(stop)
			writers.Wait()
			t.Fatalf("backup %d: %v\nstderr: %s", n, err, stderr.String())
		}
		m := backupLineRE.FindStringSubmatch(stdout.String())
		if m == nil || m[1] != out {
			t.Fatalf("backup %d printed %q, want one summary line naming %s", n, stdout.String(), out)
		}
		ids, integrity := readBackup(t, out)
		if integrity != "ok" {
			t.Errorf("backup %d: integrity_check = %q, want ok", n, integrity)
		}
		if reported, _ := strconv.Atoi(m[3]); reported != len(ids) {
			t.Errorf("backup %d reported %d comments, the file holds %d", n, reported, len(ids))
		}
		if st, err := os.Stat(out); err != nil || strconv.FormatInt(st.Size(), 10) != m[2] {
			t.Errorf("backup %d reported %s bytes; stat: %v, %v", n, m[2], st, err)
		}
		t.Logf("backup %d: %d comments acknowledged before it, %d in it", n, len(before), len(ids))
		var missing []string
		for _, id := range before {
			if !ids[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			t.Errorf("backup %d lacks %d of the %d comments acknowledged before it began: %v", n, len(missing), len(before), missing)
		}
	}
	close(stop)
	writers.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Errorf("%d submissions failed during the backups, first: %s", len(failed), failed[0])
	}
}

// postNumbered submits comment i to site and returns its id once the
// server has acknowledged it with 201. It reports errors instead of
// failing the test, so that it can run off the test's goroutine.
func postNumbered(base, site string, i int) (string, error) {
	b, _ := json.Marshal(map[string]any{
		"page": "/backup", "name": "Reader", "email": fmt.Sprintf("reader%d@example.org", i), "body": fmt.Sprintf("Comment number %d.", i),
	})
	resp, err := http.Post(base+"/api/v1/sites/"+site+"/comments", "application/json", bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("post comment %d: %w", i, err)
	}
	defer resp.Body.Close()
	var created struct {
		Comment struct{ ID string } `json:"comment"`
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("post comment %d: status %d", i, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || created.Comment.ID == "" {
		return "", fmt.Errorf("post comment %d: no id in the answer (%v)", i, err)
	}
	return created.Comment.ID, nil
}

// readBackup opens the database file at path read-only and returns the ids
// of its comments and what PRAGMA integrity_check says.
func readBackup(t *testing.T, path string) (map[string]bool, string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil {
		t.Fatalf("integrity_check %s: %v", path, err)
	}
	rows, err := db.Query("SELECT id FROM comments")
	if err != nil {
		t.Fatalf("read comments of %s: %v", path, err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, integrity
}

// TestBackupRefuses: an existing file is never replaced, a PostgreSQL
// database is sent to pg_dump, and a missing database is not created.
func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "commentd.db")
	existing := filepath.Join(dir, "old.db")
	if err := os.WriteFile(existing, []byte("an older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The cases naming dbPath need it to exist: a server creates it.
	var created bool
	tests := []struct {
		name    string
		dbURL   string
		args    []string
		wantErr []string
	}{
		{"existing output", dbPath, []string{existing}, []string{existing, "already exists"}},
		{"postgres", "postgres://commentd@db.internal/commentd", []string{filepath.Join(dir, "pg.db")}, []string{"PostgreSQL", "pg_dump --format=custom"}},
		{"postgresql scheme", "postgresql://commentd@db.internal/commentd", []string{filepath.Join(dir, "pg.db")}, []string{"pg_dump"}},
		{"missing database", filepath.Join(dir, "nowhere", "commentd.db"), []string{filepath.Join(dir, "new.db")}, []string{"nowhere"}},
		{"no output named", dbPath, nil, []string{"usage: commentd backup"}},
		{"two outputs", dbPath, []string{filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")}, []string{"usage: commentd backup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.dbURL == dbPath && !created {
				in := start(t, setup{yaml: siteYAML(testenv.UniqueName("s"), ""), env: map[string]string{"COMMENTD_DATABASE_URL": dbPath}})
				in.stop()
				<-in.done
				created = true
			}
			lookup := func(k string) (string, bool) {
				if k == "COMMENTD_DATABASE_URL" {
					return tt.dbURL, true
				}
				return "", false
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"backup"}, tt.args...), lookup, strings.NewReader(""), &stdout, &stderr)
			if err == nil {
				t.Fatalf("backup succeeded; stdout %q", stdout.String())
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to contain %q", err, want)
				}
			}
			if stdout.Len() > 0 {
				t.Errorf("a refused backup printed %q", stdout.String())
			}
		})
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "an older backup" {
		t.Errorf("existing file now %q (%v), want it untouched", b, err)
	}
	for _, name := range []string{"pg.db", "new.db", "a.db", "b.db", "nowhere"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("a refused backup created %s", name)
		}
	}
}
