package threadcache_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/testenv"
	"github.com/commentd/commentd/internal/threadcache"
)

func entry(body string) threadcache.Entry {
	return threadcache.Entry{Total: 1, Complete: true, JSON: []byte(body), ETag: `"` + body + `"`}
}

// fill stores body as the page's entry the way a reader does.
func fill(c *threadcache.Cache, site, page, body string) {
	c.Put(c.Begin(site, page), entry(body))
}

func body(t *testing.T, c *threadcache.Cache, site, page string) string {
	t.Helper()
	e, ok := c.Get(site, page, true)
	if !ok {
		return ""
	}
	return string(e.JSON)
}

func TestChangedDropsOnlyThatPage(t *testing.T) {
	c := threadcache.New(threadcache.Options{})
	fill(c, "s", "/a", "A1")
	fill(c, "s", "/b", "B1")
	fill(c, "t", "/a", "TA1")
	c.Changed(context.Background(), "s", "/a")
	if got := body(t, c, "s", "/a"); got != "" {
		t.Errorf("changed page still cached: %q", got)
	}
	if got := body(t, c, "s", "/b"); got != "B1" {
		t.Errorf("other page: got %q, want B1", got)
	}
	if got := body(t, c, "t", "/a"); got != "TA1" {
		t.Errorf("same page key on another site: got %q, want TA1", got)
	}
}

// A reader that began before a change must not store what it read: it may
// predate the change.
func TestFillThatRacedAChangeIsDropped(t *testing.T) {
	c := threadcache.New(threadcache.Options{})
	f := c.Begin("s", "/a")
	c.Changed(context.Background(), "s", "/a")
	c.Put(f, entry("stale"))
	if got := body(t, c, "s", "/a"); got != "" {
		t.Fatalf("fill begun before the change was stored: %q", got)
	}
	fill(c, "s", "/a", "fresh")
	if got := body(t, c, "s", "/a"); got != "fresh" {
		t.Fatalf("fill after the change: got %q, want fresh", got)
	}
}

func TestCountEntries(t *testing.T) {
	c := threadcache.New(threadcache.Options{})
	c.Put(c.Begin("s", "/a"), threadcache.Entry{Total: 7})
	if _, ok := c.Get("s", "/a", true); ok {
		t.Error("a count-only entry answered a thread lookup")
	}
	e, ok := c.Get("s", "/a", false)
	if !ok || e.Total != 7 {
		t.Fatalf("count lookup: got %+v, %v; want total 7", e, ok)
	}
	fill(c, "s", "/b", "B")
	c.Put(c.Begin("s", "/b"), threadcache.Entry{Total: 99})
	if e, ok := c.Get("s", "/b", false); !ok || e.Total != 1 || !e.Complete {
		t.Errorf("a count replaced a complete entry: %+v, %v", e, ok)
	}
}

func TestMaxAge(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := threadcache.New(threadcache.Options{MaxAge: time.Minute, Now: clock})
	fill(c, "s", "/a", "A")
	mu.Lock()
	now = now.Add(59 * time.Second)
	mu.Unlock()
	if got := body(t, c, "s", "/a"); got != "A" {
		t.Errorf("at 59s: got %q, want A", got)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if got := body(t, c, "s", "/a"); got != "" {
		t.Errorf("at 60s: still served %q", got)
	}
}

func TestMemoryBound(t *testing.T) {
	const limit = 1 << 20
	c := threadcache.New(threadcache.Options{MaxBytes: limit})
	big := strings.Repeat("x", 20<<10)
	for i := range 500 { // 500 × ~40 KB weighed = 20 MB offered
		fill(c, "s", "/p"+strings.Repeat("0", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), big)
	}
	c.Settle()
	if got := c.Bytes(); got > limit {
		t.Fatalf("weighed size %d bytes, bound %d", got, limit)
	}
	if c.Bytes() == 0 {
		t.Fatal("nothing kept at all")
	}
}

func newRedis(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// instance is one commentd process's cache: its own Redis connection and,
// if bus is set, its own subscription to the shared channel.
func instance(t *testing.T, url, channel string, withBus bool, poll time.Duration) *threadcache.Cache {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opt := threadcache.Options{Redis: newRedis(t, url), PollInterval: poll}
	var wg sync.WaitGroup
	if withBus {
		bus := events.NewRedis(newRedis(t, url), channel, events.NewLocal(), events.RedisOptions{})
		wg.Go(func() { _ = bus.Run(ctx) })
		opt.Bus = bus
	}
	c := threadcache.New(opt)
	wg.Go(func() { c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

// warm makes the site known to c and waits for its first poll since, which
// drops what was filled before it (a change could have been missed before
// the site's version was known): the warm-up entry going away is the sign.
func warm(t *testing.T, c *threadcache.Cache, site string) {
	t.Helper()
	fill(c, site, "/warm-up", "W")
	eventually(t, 5*time.Second, "the first poll after the site was seen never came", func() bool {
		return body(t, c, site, "/warm-up") == ""
	})
}

// eventually waits up to limit for cond, checking every 10 ms.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOtherInstancesDropAChangedPage(t *testing.T) {
	url := testenv.RedisURL(t)
	channel := testenv.UniqueName("threads")
	site := testenv.UniqueName("site")
	a := instance(t, url, channel, true, 200*time.Millisecond)
	b := instance(t, url, channel, true, 200*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // subscriptions up
	warm(t, b, site)
	fill(b, site, "/a", "old")
	fill(b, site, "/b", "B")
	a.Changed(context.Background(), site, "/a")
	eventually(t, 2*time.Second, "instance B still serves the changed page", func() bool {
		return body(t, b, site, "/a") == ""
	})
	// Delivered messages keep B in step: no site-wide flush follows, so
	// the unchanged page stays cached across later polls.
	time.Sleep(500 * time.Millisecond)
	if got := body(t, b, site, "/b"); got != "B" {
		t.Errorf("unchanged page after polls: got %q, want B", got)
	}
}

// An instance that never hears the message (no subscription at all here)
// finds the change through the version counter within two polls.
func TestMissedMessageIsCaughtByTheVersion(t *testing.T) {
	url := testenv.RedisURL(t)
	site := testenv.UniqueName("site")
	const poll = 100 * time.Millisecond
	a := instance(t, url, testenv.UniqueName("threads"), false, poll)
	b := instance(t, url, testenv.UniqueName("threads"), false, poll)
	warm(t, b, site)
	fill(b, site, "/a", "old")
	if got := body(t, b, site, "/a"); got != "old" {
		t.Fatalf("before the change: got %q", got)
	}
	a.Changed(context.Background(), site, "/a")
	eventually(t, 2*time.Second, "instance B never noticed the change it was not told about", func() bool {
		return body(t, b, site, "/a") == ""
	})
}

// While Redis is unreachable an entry is served only briefly after its
// fill; when Redis is back, caching works again without a restart.
func TestRedisDownServesOnlyFreshEntries(t *testing.T) {
	redisProc := testenv.PrivateRedisProcess(t)
	site := testenv.UniqueName("site")
	const poll = 100 * time.Millisecond
	c := instance(t, redisProc.URL(), testenv.UniqueName("threads"), false, poll)
	warm(t, c, site)
	fill(c, site, "/a", "A")
	time.Sleep(2 * poll)
	if got := body(t, c, site, "/a"); got != "A" {
		t.Fatalf("with Redis up: got %q, want A", got)
	}
	redisProc.Stop()
	eventually(t, 3*time.Second, "an entry filled before the outage is still served", func() bool {
		return body(t, c, site, "/a") == ""
	})
	// Changes made during the outage still drop this instance's own entry.
	fill(c, site, "/b", "B")
	c.Changed(context.Background(), site, "/b")
	if got := body(t, c, site, "/b"); got != "" {
		t.Errorf("own change during the outage: still served %q", got)
	}
	redisProc.Start()
	eventually(t, 5*time.Second, "caching did not resume after Redis came back", func() bool {
		fill(c, site, "/c", "C")
		time.Sleep(2 * poll)
		return body(t, c, site, "/c") == "C"
	})
}
