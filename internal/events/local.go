package events

import (
	"context"
	"sync"
	"sync/atomic"
)

// SubscriberBuffer is how many events a subscriber may fall behind before
// further events are dropped for it.
const SubscriberBuffer = 64

// Local fans events out to the subscribers of this process. It is safe for
// concurrent use; create one with NewLocal.
type Local struct {
	mu      sync.RWMutex
	subs    map[chan Event]struct{}
	dropped atomic.Uint64
}

// NewLocal returns a Local with no subscribers.
func NewLocal() *Local {
	return &Local{subs: make(map[chan Event]struct{})}
}

// Publish delivers ev to every current subscriber and returns at once: a
// subscriber whose buffer (SubscriberBuffer events) is full misses ev, and
// the miss is counted (see Dropped). ctx is not used, since nothing waits;
// Publish always returns nil.
func (l *Local) Publish(_ context.Context, ev Event) error {
	l.deliver(ev)
	return nil
}

// deliver sends ev to every subscriber that has room and returns how many
// had none.
func (l *Local) deliver(ev Event) int {
	dropped := 0
	// The read lock keeps unsubscribe from closing a channel mid-send;
	// publishers may send concurrently, channels allow that.
	l.mu.RLock()
	for ch := range l.subs {
		select {
		case ch <- ev:
		default:
			dropped++
		}
	}
	l.mu.RUnlock()
	if dropped > 0 {
		l.dropped.Add(uint64(dropped))
	}
	return dropped
}

// Subscribe returns a channel (buffered, SubscriberBuffer events) that
// receives every event published from now on, and a function that removes
// the subscription and closes the channel. The function may be called more
// than once and from any goroutine.
func (l *Local) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, SubscriberBuffer)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs, ch)
			close(ch)
			l.mu.Unlock()
		})
	}
}

// Dropped returns how many deliveries were skipped so far because a
// subscriber's buffer was full (one per event and subscriber). It only
// grows, so it suits a prometheus.CounterFunc.
func (l *Local) Dropped() uint64 { return l.dropped.Load() }
