package threadcache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/testenv"
)

// version reads a site's thread version straight from Redis (0 if unset).
func version(t *testing.T, admin *redis.Client, site string) int64 {
	t.Helper()
	v, err := admin.Get(context.Background(), "commentd:{"+site+"}:thread-version").Int64()
	if errors.Is(err, redis.Nil) {
		return 0
	}
	if err != nil {
		t.Fatalf("read version: %v", err)
	}
	return v
}

// While Redis is stalled (CLIENT PAUSE), Changed drops the page here at
// once and does not keep its caller waiting on Redis beyond one timeout;
// the increments it could not make are made by the first poll after the
// pause, and Changed increments directly again from then on.
func TestChangedWhileRedisStalled(t *testing.T) {
	const (
		poll  = 100 * time.Millisecond
		pause = 2 * time.Second
		n     = 20
		// bound is far below the pause; one Changed that waited for Redis
		// would take the whole pause.
		bound = 600 * time.Millisecond
	)
	server := testenv.PrivateRedisProcess(t)
	admin := newRedis(t, server.URL()).(*redis.Client)
	site := testenv.UniqueName("site")
	c := instance(t, server.URL(), testenv.UniqueName("threads"), false, poll)
	warm(t, c, site)
	c.Changed(context.Background(), site, "/a")
	if got := version(t, admin, site); got != 1 {
		t.Fatalf("version after one change with Redis up = %d, want 1", got)
	}

	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	paused := time.Now()
	var total time.Duration
	for i := range n {
		fill(c, site, "/a", "old")
		start := time.Now()
		c.Changed(context.Background(), site, "/a")
		took := time.Since(start)
		total += took
		if took > bound {
			t.Errorf("Changed %d during the pause took %v, want at most %v", i, took, bound)
		}
		if got := body(t, c, site, "/a"); got != "" {
			t.Fatalf("Changed %d during the pause: the page is still served (%q)", i, got)
		}
	}
	if total >= pause {
		t.Errorf("%d calls of Changed during the pause took %v in all, want well under the %v pause", n, total, pause)
	}
	if time.Since(paused) >= pause {
		t.Fatal("the calls outlasted the pause; the test proves nothing on this machine")
	}

	// The owed increments are made once Redis answers again: one increment
	// for all of them, enough for the other instances to notice. The one
	// increment tried during the pause may be applied too when the server
	// wakes up (it timed out here, so it is owed all the same), but no
	// more: the polls during the pause do not pile up increments.
	eventually(t, pause+5*time.Second, "the increments owed from the pause were never made", func() bool {
		return version(t, admin, site) >= 2
	})
	time.Sleep(5 * poll) // the poll that paid has finished, and late commands have run
	after := version(t, admin, site)
	if after > 3 {
		t.Errorf("version after the pause = %d, want 2 or 3 (one payment, plus perhaps the increment tried during the pause)", after)
	}
	c.Changed(context.Background(), site, "/a")
	if got := version(t, admin, site); got != after+1 {
		t.Errorf("version right after a change once Redis is back = %d, want %d (Changed increments directly again)", got, after+1)
	}
}
