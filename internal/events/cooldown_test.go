package events

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/testenv"
)

// After a failed PUBLISH, Publish leaves Redis alone for the cooldown
// (delivering here, counted as fallbacks), probes once after it, and tries
// at once again when the subscription is confirmed.
func TestPublishCooldown(t *testing.T) {
	t.Parallel()
	var dials atomic.Int64
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, // nothing listens
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	t.Cleanup(func() { client.Close() })
	fallbacks := newCounter("fallbacks")
	bus := NewRedis(client, newChannel(), NewLocal(), RedisOptions{Cooldown: time.Second, Fallbacks: fallbacks})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bus.now = func() time.Time { return now }
	ch, unsubscribe := bus.Subscribe()
	t.Cleanup(unsubscribe)

	steps := []struct {
		name      string
		advance   time.Duration
		resub     bool // the subscription is confirmed before this step
		wantTried bool
	}{
		{name: "first failure", wantTried: true},
		{name: "in cooldown", advance: 500 * time.Millisecond},
		{name: "still in cooldown", advance: 400 * time.Millisecond},
		{name: "probe after cooldown", advance: 200 * time.Millisecond, wantTried: true},
		{name: "in the new cooldown", advance: 100 * time.Millisecond},
		{name: "subscription confirmed ends the cooldown", resub: true, wantTried: true},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if s.resub {
			bus.subscriptionUp()
			bus.subscribed.Store(false) // nothing delivers the echo here
		}
		before := dials.Load()
		ev := testEvent(fmt.Sprint("c", i))
		if err := bus.Publish(context.Background(), ev); err != nil {
			t.Fatalf("step %d (%s): %v", i, s.name, err)
		}
		if tried := dials.Load() > before; tried != s.wantTried {
			t.Errorf("step %d (%s): Redis tried = %v, want %v", i, s.name, tried, s.wantTried)
		}
		wantNext(t, s.name, ch, ev)
		if got, want := testutil.ToFloat64(fallbacks), float64(i+1); got != want {
			t.Errorf("step %d (%s): fallbacks = %v, want %v", i, s.name, got, want)
		}
	}
}

// A stalled Redis (CLIENT PAUSE) costs one Publish the timeout and the
// others of the cooldown nothing, every event still reaches this instance's
// subscribers once, and PUBLISH is used again after the pause.
func TestPublishStalled(t *testing.T) {
	t.Parallel()
	const (
		timeout = 200 * time.Millisecond
		pause   = 2 * time.Second
		n       = 20
	)
	server := testenv.PrivateRedisProcess(t)
	opt, err := redis.ParseURL(server.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt) // ContextTimeoutEnabled off: the worst case
	t.Cleanup(func() { client.Close() })
	logger, logs := newLogger()
	fallbacks := newCounter("fallbacks")
	bus := NewRedis(client, newChannel(), NewLocal(), RedisOptions{Timeout: timeout, Cooldown: 300 * time.Millisecond, Logger: logger, Fallbacks: fallbacks})
	run(t, bus)
	waitFor(t, "the subscription", bus.Connected)
	ch, unsubscribe := bus.Subscribe()
	t.Cleanup(unsubscribe)
	warm := testEvent("warm")
	if err := bus.Publish(context.Background(), warm); err != nil {
		t.Fatal(err)
	}
	wantNext(t, "warm-up", ch, warm)

	admin := redis.NewClient(opt)
	t.Cleanup(func() { admin.Close() })
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	start := time.Now()
	for i := range n {
		if err := bus.Publish(context.Background(), testEvent(fmt.Sprint("stalled-", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Had each Publish waited the timeout, n of them would take n×timeout
	// (4s); with the cooldown only the first (and at most a probe or two)
	// does.
	if took := time.Since(start); took >= pause {
		t.Errorf("%d publishes during the pause took %v, want well under %v", n, took, pause)
	}
	for i := range n {
		wantNext(t, fmt.Sprint("stalled event ", i), ch, testEvent(fmt.Sprint("stalled-", i)))
	}
	if got := testutil.ToFloat64(fallbacks); got != n {
		t.Errorf("fallbacks = %v, want %d", got, n)
	}

	// After the pause, PUBLISH works again without a restart. Events may
	// still be delivered directly until the probe succeeds; each arrives
	// once either way.
	time.Sleep(time.Until(start.Add(pause)))
	waitFor(t, "PUBLISH to work again", func() bool {
		ev := testEvent(fmt.Sprint("after-", time.Now().UnixNano()))
		if err := bus.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		wantNext(t, "event after the pause", ch, ev)
		return logs.count("redis publish works again") == 1
	})
	select {
	case ev := <-ch:
		t.Errorf("an event arrived twice: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}
