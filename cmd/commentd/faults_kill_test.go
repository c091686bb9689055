//go:build faults

package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// TestFaultKill9: commentd on a SQLite file is killed with SIGKILL again
// and again while eight clients post; each client repeats an attempt whose
// answer it did not get, with the same Idempotency-Key, once the server is
// back. In the end every comment answered 201 is stored exactly once under
// the id it was given, no comment is stored twice, a retry of a comment
// that was committed before the kill is answered 201 with the id it was
// committed under, and the file passes SQLite's integrity check.
func TestFaultKill9(t *testing.T) {
	const (
		kills   = 9
		clients = 8
	)
	commentdBinary(t) // built before the clock starts
	site := testenv.UniqueName("s")
	dbPath := filepath.Join(t.TempDir(), "c.db")
	config := writeFaultConfig(t, site, faultOptions{})
	env := map[string]string{
		"COMMENTD_LISTEN":       fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)),
		"COMMENTD_DATABASE_URL": dbPath,
		"COMMENTD_REDIS_URL":    "",
	}

	var (
		mu   sync.Mutex
		base string
	)
	addr := func() string {
		mu.Lock()
		defer mu.Unlock()
		return base
	}
	c := newCrowd(t, site, "kill9", addr)
	// committedUnanswered: comments found stored after a kill while their
	// client still waited for an answer, with the id they were stored under.
	committedUnanswered := map[*logical]string{}
	began := time.Now()
	var starting time.Duration // spent waiting for the server to listen
	// A kill catches a comment committed but not yet answered only now
	// and then; up to as many rounds again are run until one has.
	round := 1
	for ; round <= kills || (len(committedUnanswered) == 0 && round <= 2*kills); round++ {
		startAt := time.Now()
		p := startProcess(t, config, env)
		starting += time.Since(startAt)
		mu.Lock()
		base = p.base
		mu.Unlock()
		if round == 1 {
			c.start(clients)
		}
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		p.kill()
		// Nothing writes to the file until the next start: what is stored
		// now is what the killed process committed.
		stored := sqliteComments(t, dbPath, site)
		for _, lc := range c.unsettled() {
			if ids := stored[lc.body]; len(ids) == 1 {
				committedUnanswered[lc] = ids[0]
			}
		}
	}
	p := startProcess(t, config, env)
	mu.Lock()
	base = p.base
	mu.Unlock()
	if !c.finish(60 * time.Second) {
		t.Errorf("clients did not settle their comments within 60s of the last start")
	}
	p.terminate()
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("clean stop after the kills: exit code %d; stderr:\n%s", code, p.stderr.String())
	}

	stats := c.stats()
	t.Logf("%d kills in %s (%s of it starting the server); %s; %d comments were committed but not yet answered when killed",
		round-1, time.Since(began).Round(time.Millisecond), starting.Round(time.Millisecond), stats, len(committedUnanswered))
	if stats.created < 50 {
		t.Errorf("only %d submissions were answered 201 in %d rounds; the clients hardly ran", stats.created, round-1)
	}
	if stats.unknown == 0 {
		t.Errorf("no attempt had an unknown outcome: the kills never caught a request")
	}
	if len(committedUnanswered) == 0 {
		t.Errorf("in %d kills, none caught a comment committed but not yet answered: the retry of one was never tried", round-1)
	}
	c.checkStored(t, sqliteComments(t, dbPath, site))
	for lc, id := range committedUnanswered {
		switch {
		case lc.conflict:
			// Reported by checkStored.
		case lc.id != id:
			t.Errorf("%q was committed as %s before a kill; its retry was answered with id %q", lc.body, id, lc.id)
		}
	}
	checkSQLiteFile(t, dbPath)
}
