package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait for something that should happen, so that
// a broken test fails instead of hanging; passing runs never wait that long.
const waitTimeout = 10 * time.Second

func testEvent(commentID string) Event {
	return Event{
		Type:      TypeHeld,
		SiteID:    "site-a",
		CommentID: commentID,
		Status:    "pending",
		At:        time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
	}
}

// next returns the next event on ch, failing the test if ch is closed or
// nothing arrives within waitTimeout.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("subscription channel closed, want an event")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatalf("no event within %s", waitTimeout)
		return Event{}
	}
}

// wantNext fails the test unless the next event on ch equals want.
func wantNext(t *testing.T, name string, ch <-chan Event, want Event) {
	t.Helper()
	if got := next(t, ch); !sameEvent(got, want) {
		t.Fatalf("%s: got %+v, want %+v", name, got, want)
	}
}

func sameEvent(a, b Event) bool {
	return a.Type == b.Type && a.SiteID == b.SiteID && a.CommentID == b.CommentID &&
		a.Status == b.Status && a.At.Equal(b.At)
}

func TestLocalFanOut(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	subs := make([]<-chan Event, 3)
	for i := range subs {
		ch, unsubscribe := l.Subscribe()
		t.Cleanup(unsubscribe)
		subs[i] = ch
	}
	evs := []Event{testEvent("c1"), testEvent("c2")}
	for _, ev := range evs {
		if err := l.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for i, ch := range subs {
		for _, want := range evs {
			wantNext(t, fmt.Sprintf("subscriber %d", i), ch, want)
		}
	}
	if got := l.Dropped(); got != 0 {
		t.Errorf("Dropped = %d, want 0", got)
	}
}

func TestLocalUnsubscribe(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	gone, unsubscribe := l.Subscribe()
	stays, unsubscribeStays := l.Subscribe()
	t.Cleanup(unsubscribeStays)

	unsubscribe()
	unsubscribe() // idempotent
	if _, ok := <-gone; ok {
		t.Fatal("channel delivered an event after unsubscribe, want it closed")
	}
	if err := l.Publish(context.Background(), testEvent("c1")); err != nil {
		t.Fatalf("Publish after unsubscribe: %v", err)
	}
	wantNext(t, "remaining subscriber", stays, testEvent("c1"))
	if got := l.Dropped(); got != 0 {
		t.Errorf("Dropped = %d, want 0 (an unsubscribed channel is not a drop)", got)
	}
}

func TestLocalUnsubscribeWhilePublishing(t *testing.T) {
	t.Parallel()
	// Under -race this shows that unsubscribing never closes a channel a
	// publisher is sending on.
	l := NewLocal()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 500 {
				l.Publish(context.Background(), testEvent(fmt.Sprintf("p%d-%d", p, i)))
			}
		})
	}
	for range 200 {
		_, unsubscribe := l.Subscribe()
		wg.Go(unsubscribe)
	}
	wg.Wait()
}

func TestLocalSlowSubscriber(t *testing.T) {
	t.Parallel()
	const n = 1000
	l := NewLocal()
	slow, unsubscribe := l.Subscribe() // never read while publishing
	t.Cleanup(unsubscribe)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			l.Publish(context.Background(), testEvent(fmt.Sprint(i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("publisher still blocked after %s by a subscriber that does not read", waitTimeout)
	}

	if got, want := l.Dropped(), uint64(n-SubscriberBuffer); got != want {
		t.Errorf("Dropped = %d, want %d", got, want)
	}
	if got := len(slow); got != SubscriberBuffer {
		t.Fatalf("slow subscriber holds %d events, want %d (a full buffer)", got, SubscriberBuffer)
	}
	// It keeps the oldest events and missed the rest.
	for i := range SubscriberBuffer {
		wantNext(t, fmt.Sprintf("buffered event %d", i), slow, testEvent(fmt.Sprint(i)))
	}
}
