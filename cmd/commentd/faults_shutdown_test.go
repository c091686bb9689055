//go:build faults

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// TestFaultSIGTERM: fifty submissions are in flight, held up by another
// process's write lock on the SQLite file, when commentd gets SIGTERM.
// Every request either completes with 201 and is then stored, or gets no
// 201 at all; no request is answered 500. New connections are refused
// once the shutdown has begun.
//
// In "drained" the lock is released well within shutdown_timeout: every
// request in flight completes with 201 and the process exits 0. In "lock
// outlives shutdown_timeout" it is held past it: the requests must end
// with a 503 or a broken connection, never with a 201 for a comment that
// is not stored.
func TestFaultSIGTERM(t *testing.T) {
	tests := []struct {
		name            string
		shutdownTimeout time.Duration
		holdAfterTerm   time.Duration // how long the lock stays held after SIGTERM
		drained         bool          // every request in flight must end in 201
	}{
		{name: "drained", shutdownTimeout: 15 * time.Second, holdAfterTerm: 500 * time.Millisecond, drained: true},
		{name: "lock outlives shutdown_timeout", shutdownTimeout: 2 * time.Second, holdAfterTerm: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testSIGTERM(t, tt.shutdownTimeout, tt.holdAfterTerm, tt.drained)
		})
	}
}

func testSIGTERM(t *testing.T, shutdownTimeout, holdAfterTerm time.Duration, drained bool) {
	const n = 50
	site := testenv.UniqueName("s")
	dbPath := filepath.Join(t.TempDir(), "c.db")
	config := writeFaultConfig(t, site, faultOptions{busyTimeout: 60 * time.Second, shutdownTimeout: shutdownTimeout})
	p := startProcess(t, config, map[string]string{
		"COMMENTD_LISTEN":       "127.0.0.1:0",
		"COMMENTD_DATABASE_URL": dbPath,
		"COMMENTD_REDIS_URL":    "",
	})
	c := newCrowd(t, site, "sigterm", func() string { return p.base })
	// One connection per request, so that all fifty are in flight at once.
	c.client.Transport = &http.Transport{DisableKeepAlives: true}
	conn := holdWriteLock(t, dbPath)

	comments := make([]*logical, n)
	results := make([]attempt, n)
	var (
		wg   sync.WaitGroup
		sent atomic.Int32
	)
	for i := range comments {
		comments[i] = &logical{key: testenv.UniqueName("idem-"), page: "/term", email: fmt.Sprintf("t%d@example.org", i),
			body: fmt.Sprintf("sigterm: comment %d", i)}
		wg.Go(func() {
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { sent.Add(1) },
			})
			results[i] = postComment(ctx, c.client, p.base+"/api/v1/sites/"+site+"/comments", comments[i])
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for sent.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if sent.Load() < n {
		t.Fatalf("only %d of %d requests were sent within 20s", sent.Load(), n)
	}
	// Give the server time to read them all and reach the database.
	time.Sleep(time.Second)
	termAt := time.Now()
	p.terminate()

	// Once shutdown has begun, new connections are refused.
	host := strings.TrimPrefix(p.base, "http://")
	for time.Since(termAt) < 10*time.Second {
		probe, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break
		}
		probe.Close()
		time.Sleep(20 * time.Millisecond)
	}
	late := &logical{key: testenv.UniqueName("idem-"), page: "/term", email: "late@example.org", body: "sigterm: late comment"}
	if a := c.post(late); !isRefused(a.err) {
		t.Errorf("a submission %s after SIGTERM: status %d, err %v; want a refused connection",
			time.Since(termAt).Round(time.Millisecond), a.status, a.err)
	}

	time.Sleep(time.Until(termAt.Add(holdAfterTerm)))
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	wg.Wait()
	code := p.wait(90 * time.Second)
	t.Logf("SIGTERM; lock released %s later; process exited %s after SIGTERM with code %d",
		released.Sub(termAt).Round(time.Millisecond), time.Since(termAt).Round(time.Millisecond), code)

	stored := sqliteComments(t, dbPath, site)
	byStatus := map[string]int{}
	for i, a := range results {
		lc := comments[i]
		ids := stored[lc.body]
		switch {
		case a.status == http.StatusCreated:
			byStatus["201"]++
			if len(ids) != 1 || ids[0] != a.id {
				t.Errorf("%q was answered 201 as %s, but the database holds %v", lc.body, a.id, ids)
			}
		case a.status == http.StatusServiceUnavailable:
			byStatus["503"]++
			if a.retryAfter == "" {
				t.Errorf("%q: 503 without Retry-After", lc.body)
			}
			if len(ids) != 0 {
				t.Errorf("%q was answered 503 but is stored as %v", lc.body, ids)
			}
		case a.status == 0 && isRefused(a.err):
			byStatus["refused"]++
			if len(ids) != 0 {
				t.Errorf("%q was refused but is stored as %v", lc.body, ids)
			}
		case a.status == 0:
			byStatus["connection broken"]++ // outcome unknown to the client; either is right
			if len(ids) > 1 {
				t.Errorf("%q is stored %d times", lc.body, len(ids))
			}
		default:
			byStatus[fmt.Sprint(a.status)]++
			t.Errorf("%q: status %d, body %.200s; want 201, 503 or no answer", lc.body, a.status, a.body)
		}
	}
	stats := fmt.Sprint(byStatus)
	t.Logf("outcomes of %d submissions in flight: %s; %d of them stored", n, stats, len(stored))
	if len(stored) > n {
		t.Errorf("%d comments stored, but only %d were in flight", len(stored), n)
	}
	if drained {
		if byStatus["201"] != n {
			t.Errorf("shutdown with time to spare: %s; want all %d requests in flight answered 201", stats, n)
		}
		if code != 0 {
			t.Errorf("exit code %d after a graceful shutdown; stderr:\n%s", code, p.stderr.String())
		}
		if log := p.stderr.String(); strings.Contains(log, "level=ERROR") {
			t.Errorf("the shutdown logged errors:\n%s", log)
		}
	}
}
