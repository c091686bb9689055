//go:build faults

package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// TestFaultRedisDown: commentd's Redis (rate limits, live events, thread
// cache versions) is killed while four clients post, and started again
// empty two seconds later. Redis is not needed to take a comment, so
// submissions keep being answered 201 throughout, nothing is answered 500,
// and every comment answered 201 is stored exactly once.
func TestFaultRedisDown(t *testing.T) {
	const clients = 4
	redis := testenv.PrivateRedisProcess(t)
	site := testenv.UniqueName("s")
	dbPath := filepath.Join(t.TempDir(), "c.db")
	config := writeFaultConfig(t, site, faultOptions{})
	p := startProcess(t, config, map[string]string{
		"COMMENTD_LISTEN":       "127.0.0.1:0",
		"COMMENTD_DATABASE_URL": dbPath,
		"COMMENTD_REDIS_URL":    redis.URL(),
	})
	c := newCrowd(t, site, "redisdown", func() string { return p.base })
	c.start(clients)
	time.Sleep(time.Second)

	redis.Stop()
	downAt := time.Now()
	time.Sleep(2 * time.Second)
	redis.Start()
	upAt := time.Now()
	time.Sleep(time.Second)
	if !c.finish(30 * time.Second) {
		t.Errorf("clients did not settle their comments within 30s")
	}
	p.terminate()
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM; stderr:\n%s", code, p.stderr.String())
	}

	created := 0
	c.mu.Lock()
	for _, a := range c.attempts {
		if a.status == http.StatusCreated && a.at.After(downAt.Add(500*time.Millisecond)) && a.at.Before(upAt) {
			created++
		}
	}
	c.mu.Unlock()
	t.Logf("Redis down %s; %d submissions answered 201 meanwhile; %s", upAt.Sub(downAt).Round(time.Millisecond), created, c.stats())
	if created == 0 {
		t.Errorf("no submission was answered 201 while Redis was down")
	}
	if s := c.stats(); s.unknown != 0 {
		t.Errorf("%d attempts got no answer or a 5xx while only Redis was down", s.unknown)
	}
	c.checkStored(t, sqliteComments(t, dbPath, site))
}
