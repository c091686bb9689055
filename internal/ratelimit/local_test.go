package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func allowed(remaining int) Decision { return Decision{Allowed: true, Remaining: remaining} }
func denied(retryAfter time.Duration) Decision {
	return Decision{RetryAfter: retryAfter}
}

func TestLocalAllow(t *testing.T) {
	every15s := comment.RateLimit{Every: 15 * time.Second, Burst: 3}
	type step struct {
		advance time.Duration // moved on the clock before the call
		key     string
		want    Decision
	}
	tests := []struct {
		name  string
		lim   comment.RateLimit
		steps []step
	}{
		{
			name: "burst then denied with RetryAfter of one interval",
			lim:  every15s,
			steps: []step{
				{key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{key: "a", want: denied(15 * time.Second)},
			},
		},
		{
			name: "one more allowed after one interval",
			lim:  every15s,
			steps: []step{
				{key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{advance: 15 * time.Second, key: "a", want: allowed(0)},
				{key: "a", want: denied(15 * time.Second)},
			},
		},
		{
			name: "partial wait shortens RetryAfter",
			lim:  every15s,
			steps: []step{
				{key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{advance: 5 * time.Second, key: "a", want: denied(10 * time.Second)},
			},
		},
		{
			name: "denied calls do not consume",
			lim:  every15s,
			steps: []step{
				{key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{key: "a", want: denied(15 * time.Second)},
				{key: "a", want: denied(15 * time.Second)},
				{key: "a", want: denied(15 * time.Second)},
				{advance: 15 * time.Second, key: "a", want: allowed(0)},
			},
		},
		{
			name: "keys are independent",
			lim:  every15s,
			steps: []step{
				{key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{key: "a", want: denied(15 * time.Second)},
				{key: "b", want: allowed(2)},
				{key: "b", want: allowed(1)},
				{key: "b", want: allowed(0)},
				{key: "b", want: denied(15 * time.Second)},
			},
		},
		{
			name: "full burst again after burst times interval",
			lim:  every15s,
			steps: []step{
				{key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{advance: 45 * time.Second, key: "a", want: allowed(2)},
				{key: "a", want: allowed(1)},
				{key: "a", want: allowed(0)},
				{key: "a", want: denied(15 * time.Second)},
			},
		},
		{
			name: "burst of one",
			lim:  comment.RateLimit{Every: time.Minute, Burst: 1},
			steps: []step{
				{key: "a", want: allowed(0)},
				{advance: 20 * time.Second, key: "a", want: denied(40 * time.Second)},
				{advance: 40 * time.Second, key: "a", want: allowed(0)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			l := NewLocal(clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				got, err := l.Allow(context.Background(), s.key, tt.lim)
				if err != nil {
					t.Fatalf("step %d: Allow(%q) error: %v", i, s.key, err)
				}
				if got != s.want {
					t.Errorf("step %d: Allow(%q) = %+v, want %+v", i, s.key, got, s.want)
				}
			}
		})
	}
}

func TestLocalLimitChange(t *testing.T) {
	burst2 := comment.RateLimit{Every: time.Minute, Burst: 2}
	burst3 := comment.RateLimit{Every: time.Minute, Burst: 3}
	burst1 := comment.RateLimit{Every: time.Minute, Burst: 1}
	type step struct {
		advance time.Duration
		lim     comment.RateLimit
		want    Decision
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "raised burst fills at the rate, not at once",
			steps: []step{
				{lim: burst2, want: allowed(1)},
				{lim: burst2, want: allowed(0)},
				{lim: burst3, want: denied(time.Minute)},
				{advance: time.Minute, lim: burst3, want: allowed(0)},
				{advance: 3 * time.Minute, lim: burst3, want: allowed(2)},
			},
		},
		{
			name: "lowered burst applies at once",
			steps: []step{
				{lim: burst3, want: allowed(2)},
				{lim: burst1, want: allowed(0)},
				{lim: burst1, want: denied(time.Minute)},
			},
		},
		{
			name: "changed interval applies from now on",
			steps: []step{
				{lim: burst1, want: allowed(0)},
				{lim: comment.RateLimit{Every: 10 * time.Second, Burst: 1}, want: denied(10 * time.Second)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			l := NewLocal(clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				got, err := l.Allow(context.Background(), "a", s.lim)
				if err != nil {
					t.Fatalf("step %d: Allow: %v", i, err)
				}
				if got != s.want {
					t.Errorf("step %d: Allow under %+v = %+v, want %+v", i, s.lim, got, s.want)
				}
			}
		})
	}
}

func TestInvalidLimit(t *testing.T) {
	tests := []struct {
		name string
		lim  comment.RateLimit
	}{
		{"zero", comment.RateLimit{}},
		{"zero interval", comment.RateLimit{Every: 0, Burst: 3}},
		{"negative interval", comment.RateLimit{Every: -time.Second, Burst: 3}},
		{"zero burst", comment.RateLimit{Every: time.Second, Burst: 0}},
		{"negative burst", comment.RateLimit{Every: time.Second, Burst: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLocal(newFakeClock().Now)
			got, err := l.Allow(context.Background(), "a", tt.lim)
			if !errors.Is(err, ErrInvalidLimit) {
				t.Errorf("Local.Allow(%+v) error = %v, want ErrInvalidLimit", tt.lim, err)
			}
			if got != (Decision{}) {
				t.Errorf("Local.Allow(%+v) = %+v, want zero Decision", tt.lim, got)
			}
			if l.size() != 0 {
				t.Errorf("size after invalid limit = %d, want 0", l.size())
			}
		})
	}
}

func TestLocalEviction(t *testing.T) {
	fast := comment.RateLimit{Every: time.Second, Burst: 3}
	slow := comment.RateLimit{Every: time.Hour, Burst: 3}
	type step struct {
		advance time.Duration
		key     string
		lim     comment.RateLimit
	}
	tests := []struct {
		name     string
		steps    []step
		wantSize int
	}{
		{
			name: "idle key whose bucket is full again is evicted",
			steps: []step{
				{key: "a", lim: fast},
				{advance: 2 * time.Minute, key: "b", lim: fast},
			},
			wantSize: 1,
		},
		{
			name: "key still refilling is kept",
			steps: []step{
				{key: "a", lim: slow},
				{advance: 2 * time.Minute, key: "b", lim: fast},
			},
			wantSize: 2,
		},
		{
			name: "no sweep within a minute of the last",
			steps: []step{
				{key: "a", lim: fast},
				{advance: 30 * time.Second, key: "b", lim: fast},
			},
			wantSize: 2,
		},
		{
			name: "sweep once a minute has passed",
			steps: []step{
				{key: "a", lim: fast},
				{advance: 30 * time.Second, key: "b", lim: fast},
				{advance: 31 * time.Second, key: "c", lim: fast},
			},
			wantSize: 1,
		},
		{
			name: "key used again is not evicted",
			steps: []step{
				{key: "a", lim: fast},
				{key: "b", lim: fast},
				{advance: 2 * time.Minute, key: "a", lim: fast},
			},
			wantSize: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			l := NewLocal(clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				if _, err := l.Allow(context.Background(), s.key, s.lim); err != nil {
					t.Fatalf("step %d: Allow(%q): %v", i, s.key, err)
				}
			}
			if got := l.size(); got != tt.wantSize {
				t.Errorf("size = %d, want %d", got, tt.wantSize)
			}
		})
	}
}

func TestLocalEvictionBoundsMemory(t *testing.T) {
	clock := newFakeClock()
	l := NewLocal(clock.Now)
	lim := comment.RateLimit{Every: time.Second, Burst: 3}
	const keys = 10000
	for i := range keys {
		if _, err := l.Allow(context.Background(), fmt.Sprintf("ip-%d", i), lim); err != nil {
			t.Fatalf("Allow: %v", err)
		}
	}
	if got := l.size(); got != keys {
		t.Fatalf("size after %d keys = %d, want %d", keys, got, keys)
	}
	clock.Advance(time.Minute)
	if _, err := l.Allow(context.Background(), "late", lim); err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if got, want := l.size(), 1; got != want {
		t.Errorf("size after a minute idle = %d, want %d", got, want)
	}
}

func TestLocalConcurrent(t *testing.T) {
	clock := newFakeClock()
	l := NewLocal(clock.Now)
	lim := comment.RateLimit{Every: time.Minute, Burst: 10}
	var wg sync.WaitGroup
	var allowedN, deniedN atomic.Int64
	for range 64 {
		wg.Go(func() {
			d, err := l.Allow(context.Background(), "shared", lim)
			if err != nil {
				t.Errorf("Allow: %v", err)
				return
			}
			if d.Allowed {
				allowedN.Add(1)
			} else {
				deniedN.Add(1)
			}
		})
	}
	wg.Wait()
	if got, want := allowedN.Load(), int64(10); got != want {
		t.Errorf("allowed = %d, want %d", got, want)
	}
	if got, want := deniedN.Load(), int64(54); got != want {
		t.Errorf("denied = %d, want %d", got, want)
	}
}

func BenchmarkLocalAllow(b *testing.B) {
	lim := comment.RateLimit{Every: time.Millisecond, Burst: 10}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("site:ip:10.0.%d.%d", i/256, i%256)
	}
	b.Run("one key", func(b *testing.B) {
		l := NewLocal(time.Now)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Allow(ctx, keys[0], lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("1024 keys parallel", func(b *testing.B) {
		l := NewLocal(time.Now)
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := l.Allow(ctx, keys[i%len(keys)], lim); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
