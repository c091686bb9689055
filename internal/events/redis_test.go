package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/testenv"
)

// newClient opens a client for the Redis at rawURL, closed when the test ends.
func newClient(t *testing.T, rawURL string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("parse Redis URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func newChannel() string { return testenv.UniqueName("commentd:test:events:") }

func newCounter(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
}

// run runs bus.Run until the test ends (before the client closes, since
// cleanups run last first) and checks that it returned nil.
func run(t *testing.T, bus *Redis) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil after its context ended", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return within %s of its context ending", waitTimeout)
		}
	})
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logBuffer collects log output; slog handlers serialise their writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

const (
	logSubLost     = "redis subscription lost"
	logSubRestored = "redis subscription restored"
	logPubFailed   = "redis publish failed"
)

func TestRedisAcrossInstances(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	channel := newChannel()
	fallbacks := newCounter("fallbacks")
	// Two instances: separate clients and Locals, one channel.
	buses := map[string]*Redis{
		"A": NewRedis(newClient(t, url), channel, NewLocal(), RedisOptions{Fallbacks: fallbacks}),
		"B": NewRedis(newClient(t, url), channel, NewLocal(), RedisOptions{Fallbacks: fallbacks}),
	}
	subs := map[string][]<-chan Event{}
	for name, bus := range buses {
		run(t, bus)
		for range 2 {
			ch, unsubscribe := bus.Subscribe()
			t.Cleanup(unsubscribe)
			subs[name] = append(subs[name], ch)
		}
	}
	for name, bus := range buses {
		waitFor(t, "subscription of "+name, bus.Connected)
	}

	for _, from := range []string{"A", "B"} {
		ev, marker := testEvent("from-"+from), testEvent("marker-"+from)
		for _, e := range []Event{ev, marker} {
			if err := buses[from].Publish(context.Background(), e); err != nil {
				t.Fatalf("Publish on %s: %v", from, err)
			}
		}
		// The marker, published after ev and through the same channel,
		// arrives after any duplicate of ev would have: getting it next
		// proves ev came exactly once.
		for name, chs := range subs {
			for i, ch := range chs {
				who := fmt.Sprintf("published on %s, subscriber %d of %s", from, i, name)
				wantNext(t, who, ch, ev)
				wantNext(t, who+" after the event", ch, marker)
			}
		}
	}
	if got := testutil.ToFloat64(fallbacks); got != 0 {
		t.Errorf("fallbacks = %v, want 0 while Redis works", got)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens
	t.Cleanup(func() { client.Close() })
	logger, logs := newLogger()
	fallbacks := newCounter("fallbacks")
	bus := NewRedis(client, newChannel(), NewLocal(), RedisOptions{Logger: logger, Fallbacks: fallbacks})
	run(t, bus)
	ch, unsubscribe := bus.Subscribe()
	t.Cleanup(unsubscribe)

	evs := []Event{testEvent("c1"), testEvent("c2"), testEvent("c3")}
	for _, ev := range evs {
		if err := bus.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish with Redis down: %v, want nil", err)
		}
	}
	for i, want := range evs {
		wantNext(t, fmt.Sprintf("event %d", i), ch, want)
	}
	if got, want := testutil.ToFloat64(fallbacks), float64(len(evs)); got != want {
		t.Errorf("fallbacks = %v, want %v", got, want)
	}
	if got := logs.count(logPubFailed); got != 1 {
		t.Errorf("%q logged %d times, want once per outage; log:\n%s", logPubFailed, got, logs)
	}
	waitFor(t, "the subscription outage to be logged", func() bool { return logs.count(logSubLost) > 0 })
	if bus.Connected() {
		t.Error("Connected = true with Redis down")
	}
	if err := bus.Run(context.Background()); err == nil {
		t.Error("second concurrent Run returned nil, want an error")
	}
}

func TestRedisReconnects(t *testing.T) {
	t.Parallel()
	server := testenv.PrivateRedisProcess(t)
	channel := newChannel()
	logger, logs := newLogger()
	fallbacks := newCounter("fallbacks")
	a := NewRedis(newClient(t, server.URL()), channel, NewLocal(), RedisOptions{Logger: logger, Fallbacks: fallbacks})
	b := NewRedis(newClient(t, server.URL()), channel, NewLocal(), RedisOptions{})
	run(t, a)
	run(t, b)
	waitFor(t, "subscription of A", a.Connected)
	waitFor(t, "subscription of B", b.Connected)
	ch, unsubscribe := a.Subscribe()
	t.Cleanup(unsubscribe)

	server.Stop()
	down := testEvent("while-down")
	if err := a.Publish(context.Background(), down); err != nil {
		t.Fatalf("Publish with Redis stopped: %v, want nil", err)
	}
	wantNext(t, "event published while Redis is down", ch, down)
	if got := testutil.ToFloat64(fallbacks); got != 1 {
		t.Errorf("fallbacks = %v, want 1", got)
	}
	waitFor(t, "A to notice the outage", func() bool { return !a.Connected() })

	server.Start()
	// The same PubSub reconnects and resubscribes by itself; until it has,
	// probes published on B are lost (pub/sub keeps nothing), so probe
	// until one arrives.
	isProbe := func(ev Event) bool { return strings.HasPrefix(ev.CommentID, "probe-") }
	deadline := time.Now().Add(waitTimeout)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no event from B reached A within %s of Redis restarting; log:\n%s", waitTimeout, logs)
		}
		if err := b.Publish(context.Background(), testEvent(fmt.Sprint("probe-", i))); err != nil {
			t.Fatalf("Publish on B: %v", err)
		}
		select {
		case ev := <-ch:
			if !isProbe(ev) {
				t.Fatalf("got %+v, want a probe (a duplicate of an earlier event?)", ev)
			}
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	if !a.Connected() {
		t.Error("Connected = false after an event arrived through the subscription")
	}

	after, marker := testEvent("after-restart"), testEvent("marker")
	for _, ev := range []Event{after, marker} {
		if err := b.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish on B: %v", err)
		}
	}
	for i, want := range []Event{after, marker} {
		got := next(t, ch)
		for isProbe(got) { // a probe whose wait above timed out
			got = next(t, ch)
		}
		if !sameEvent(got, want) {
			t.Fatalf("event %d after recovery: got %+v, want %+v", i, got, want)
		}
	}
	if got := logs.count(logSubLost); got != 1 {
		t.Errorf("%q logged %d times, want once per outage; log:\n%s", logSubLost, got, logs)
	}
	if got := logs.count(logSubRestored); got != 1 {
		t.Errorf("%q logged %d times, want once; log:\n%s", logSubRestored, got, logs)
	}
}

// TestRedisExactlyOnce walks the orders in which Publish and the
// subscription may settle one event published on this instance, including
// PUBLISH timing out after the server got it, and checks that local
// subscribers see it exactly once whatever the order.
func TestRedisExactlyOnce(t *testing.T) {
	t.Parallel()
	errTimeout := errors.New("test: PUBLISH timed out")
	tests := []struct {
		name       string
		subscribed bool
		publishErr error
		echo       string // "before" or "after" finish, or "" for none
	}{
		{"subscription up, published, echo after Publish returns", true, nil, "after"},
		{"subscription up, published, echo before Publish returns", true, nil, "before"},
		{"subscription up, timed out but published, echo before", true, errTimeout, "before"},
		{"subscription up, timed out but published, echo after", true, errTimeout, "after"},
		{"subscription up, failed", true, errTimeout, ""},
		{"subscription down, published, subscription back for the echo", false, nil, "after"},
		{"subscription down, published, no echo", false, nil, ""},
		{"subscription down, failed", false, errTimeout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No Redis is used: begin, receive and finish are called in
			// the order under test, as Publish and Run would.
			dropped := newCounter("dropped")
			bus := NewRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "unused", NewLocal(), RedisOptions{Dropped: dropped})
			ch, unsubscribe := bus.Subscribe()
			t.Cleanup(unsubscribe)
			bus.subscribed.Store(tt.subscribed)
			ev := testEvent("c1")
			id := bus.instance + "-1"
			payload, err := json.Marshal(wireEvent{ID: id, Event: ev})
			if err != nil {
				t.Fatal(err)
			}

			bus.begin(id, ev)
			if tt.echo == "before" {
				bus.receive(string(payload))
			}
			bus.finish(id, ev, tt.publishErr)
			if tt.echo == "after" {
				bus.receive(string(payload))
			}

			if got := len(ch); got != 1 {
				t.Errorf("delivered %d times, want exactly once", got)
			}
			if got := testutil.ToFloat64(dropped); got != 0 {
				t.Errorf("dropped = %v, want 0", got)
			}
			// Only an ID whose echo may still come is remembered.
			if st, ok := bus.own[id]; ok && (st != ownDirect || tt.echo != "") {
				t.Errorf("own[%s] = %v after settling, want it forgotten", id, st)
			}
		})
	}
}

func TestRedisForgetsDirectIDs(t *testing.T) {
	t.Parallel()
	bus := NewRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "unused", NewLocal(), RedisOptions{})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	bus.now = func() time.Time { return now }
	errDown := errors.New("test: Redis down")
	for i := range 3 {
		id := fmt.Sprint("id-", i)
		bus.begin(id, testEvent(id))
		bus.finish(id, testEvent(id), errDown)
	}
	if got := len(bus.own); got != 3 {
		t.Fatalf("remembered %d IDs, want 3 (an echo may still come)", got)
	}
	now = now.Add(directTTL + time.Second)
	bus.begin("id-3", testEvent("id-3"))
	bus.finish("id-3", testEvent("id-3"), errDown)
	if got := len(bus.own); got != 1 {
		t.Errorf("remembered %d IDs after %s, want 1 (only the newest)", got, directTTL)
	}
	if got := len(bus.directs); got != 1 {
		t.Errorf("expiry queue holds %d IDs, want 1", got)
	}
}

func TestRedisUnansweredPing(t *testing.T) {
	t.Parallel()
	// CLIENT PAUSE leaves the subscription's connection open but silent,
	// like a server that hangs or a network that drops packets: go-redis
	// sees no error, only the unanswered PING tells.
	server := testenv.PrivateRedisProcess(t)
	channel := newChannel()
	logger, logs := newLogger()
	a := NewRedis(newClient(t, server.URL()), channel, NewLocal(), RedisOptions{Logger: logger})
	a.pingInterval = 100 * time.Millisecond
	b := NewRedis(newClient(t, server.URL()), channel, NewLocal(), RedisOptions{})
	run(t, a)
	run(t, b)
	waitFor(t, "subscription of A", a.Connected)
	waitFor(t, "subscription of B", b.Connected)
	ch, unsubscribe := a.Subscribe()
	t.Cleanup(unsubscribe)

	admin := newClient(t, server.URL())
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "1000", "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	waitFor(t, "A to notice the silent connection", func() bool { return !a.Connected() })
	waitFor(t, "A to subscribe again once the pause ends", a.Connected)

	ev := testEvent("after-pause")
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish on B: %v", err)
	}
	wantNext(t, "event after the pause", ch, ev)
	if got := logs.count(logSubLost); got != 1 {
		t.Errorf("%q logged %d times, want once; log:\n%s", logSubLost, got, logs)
	}
	if got := logs.count(logSubRestored); got != 1 {
		t.Errorf("%q logged %d times, want once; log:\n%s", logSubRestored, got, logs)
	}
}
