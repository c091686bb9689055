//go:build faults

package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// TestFaultDatabaseLocked: while another process holds SQLite's write lock
// for longer than sqlite_busy_timeout, twenty concurrent submissions all get
// 503 with Retry-After, none is stored, and all succeed once the lock is
// released.
func TestFaultDatabaseLocked(t *testing.T) {
	const n = 20
	site := testenv.UniqueName("s")
	dbPath := filepath.Join(t.TempDir(), "c.db")
	config := writeFaultConfig(t, site, faultOptions{busyTimeout: 300 * time.Millisecond})
	p := startProcess(t, config, map[string]string{
		"COMMENTD_LISTEN":       "127.0.0.1:0",
		"COMMENTD_DATABASE_URL": dbPath,
		"COMMENTD_REDIS_URL":    "",
	})
	c := newCrowd(t, site, "locked", func() string { return p.base })
	comments := make([]*logical, n)
	for i := range comments {
		comments[i] = &logical{key: testenv.UniqueName("idem-"), page: "/locked", email: fmt.Sprintf("l%d@example.org", i),
			body: fmt.Sprintf("locked: comment %d", i)}
	}
	postAll := func() []attempt {
		out := make([]attempt, n)
		var wg sync.WaitGroup
		for i, lc := range comments {
			wg.Go(func() { out[i] = c.post(lc) })
		}
		wg.Wait()
		return out
	}

	conn := holdWriteLock(t, dbPath)
	began := time.Now()
	for i, a := range postAll() {
		if a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("comment %d while locked: status %d (err %v), Retry-After %q, body %.200s; want 503 with Retry-After",
				i, a.status, a.err, a.retryAfter, a.body)
		}
	}
	t.Logf("%d submissions refused in %s while the lock was held", n, time.Since(began).Round(time.Millisecond))
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if stored := sqliteComments(t, dbPath, site); len(stored) != 0 {
		t.Fatalf("refused submissions were stored: %v", stored)
	}

	ids := map[string]string{}
	for i, a := range postAll() {
		if a.status != http.StatusCreated {
			t.Errorf("comment %d after the lock: status %d (err %v), body %.200s; want 201", i, a.status, a.err, a.body)
			continue
		}
		ids[comments[i].body] = a.id
	}
	stored := sqliteComments(t, dbPath, site)
	for body, id := range ids {
		if got := stored[body]; len(got) != 1 || got[0] != id {
			t.Errorf("%q was answered 201 as %s; stored: %v", body, id, got)
		}
	}
	if len(stored) != len(ids) {
		t.Errorf("%d comments stored, want the %d acknowledged", len(stored), len(ids))
	}
	p.terminate()
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM; stderr:\n%s", code, p.stderr.String())
	}
}
