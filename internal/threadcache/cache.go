// Package threadcache keeps the public answers about pages (a page's
// encoded thread, its approved count) in memory, so that the read that runs
// on every article view costs no database query.
//
// Correctness rests on three mechanisms, from fast to slow:
//
//   - The instance that changes a page (Changed) drops its own entry at once
//     and, through the event bus (Redis pub/sub across instances), tells the
//     others, which drop theirs when the message arrives.
//   - Each change also increments the site's version counter in Redis and the
//     message carries the new number. Every PollInterval an instance reads the
//     counters; when a version that existed one poll earlier has still not
//     reached it (a message lost: a subscriber that fell behind, a dropped
//     connection), it drops every entry of that site. A missed message thus
//     costs at most about two poll intervals of staleness.
//   - While the counters cannot be read (Redis down or stalled), an entry is
//     served only within PollInterval of being filled, and every entry is
//     dropped once, so nothing filled before the outage is trusted after it.
//     MaxAge bounds the age of any entry whatever happens (for a writer that
//     dies between its commit and its increment, or instances sharing a
//     database with no Redis at all).
//
// Without Redis (one instance) invalidation is local and exact.
package threadcache

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
)

// Defaults for the zero fields of Options.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultMaxAge       = time.Minute
	DefaultPollInterval = time.Second
	// DefaultRedisTimeout bounds one INCR or one poll.
	DefaultRedisTimeout = 100 * time.Millisecond
)

// Entry is what is kept about one page.
type Entry struct {
	// Thread is the page's approved comments as a tree; Total is their
	// number. An entry made from a count alone has Complete false, and only
	// Total is meaningful.
	Thread   comment.Thread
	Total    int
	Complete bool
	// JSON is the thread as the public API encodes it, and ETag its
	// strong entity tag (quoted), set by whoever fills a complete entry.
	JSON []byte
	ETag string

	epoch  uint64
	filled time.Time
}

// Bus is the part of the event bus the cache uses.
type Bus interface {
	Publish(ctx context.Context, e events.Event) error
	Subscribe() (<-chan events.Event, func())
}

// Options configure a Cache. Every field is optional.
type Options struct {
	// MaxBytes bounds the memory taken by entries (approximately: their
	// encoded size plus a fixed overhead each).
	MaxBytes int64
	// MaxAge is the longest any entry is served.
	MaxAge time.Duration
	// PollInterval is how often the site versions are read from Redis.
	PollInterval time.Duration
	// Redis holds the site version counters; nil means a single instance
	// whose own invalidations are all there is.
	Redis redis.UniversalClient
	// RedisTimeout bounds each Redis call.
	RedisTimeout time.Duration
	// Bus carries invalidations between instances (events.TypeThreadChanged).
	Bus Bus
	// Hits and Misses, if set, count lookups.
	Hits, Misses prometheus.Counter
	Logger       *slog.Logger
	Now          func() time.Time
}

type key struct{ site, page string }

// Cache holds entries per site and page. Its methods are safe for concurrent
// use.
type Cache struct {
	opt     Options
	entries *otter.Cache[key, *Entry]

	mu    sync.RWMutex
	sites map[string]*siteState
	// pollOK is true while the last poll of Redis succeeded; trusted is
	// the unix-nano time until which entries older than a poll interval
	// may be served.
	trusted atomic.Int64
	// redisDown is set when a Redis call failed and cleared by the next
	// poll that reads the versions; while it is set, Changed does not
	// wait on Redis but leaves its increment owed to that poll.
	redisDown atomic.Bool
}

// siteState tracks invalidations of one site.
type siteState struct {
	// gen grows on every invalidation in the site; a fill that saw another
	// value before it read the database is thrown away.
	gen atomic.Uint64
	// epoch grows when every entry of the site is dropped at once.
	epoch atomic.Uint64

	mu sync.Mutex
	// synced is the highest version such that every version up to it has
	// been applied here; ahead holds applied versions above it.
	synced int64
	ahead  map[int64]struct{}
	// polled is the version Redis held at the previous poll, known says
	// whether synced and polled have been set by a poll yet.
	polled int64
	known  bool
	// owed counts increments this instance could not make (Redis down);
	// they are made at the next successful poll.
	owed int
}

// New returns a Cache; call Run to receive invalidations and poll versions.
func New(opt Options) *Cache {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = DefaultMaxAge
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = DefaultPollInterval
	}
	if opt.RedisTimeout <= 0 {
		opt.RedisTimeout = DefaultRedisTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	c := &Cache{opt: opt, sites: map[string]*siteState{}}
	c.entries = otter.Must(&otter.Options[key, *Entry]{
		MaximumWeight:    uint64(opt.MaxBytes),
		ExpiryCalculator: otter.ExpiryWriting[key, *Entry](opt.MaxAge),
		Weigher: func(k key, e *Entry) uint32 {
			// The encoded thread is the bulk; the decoded tree holds the
			// same text again, plus a fixed overhead per entry.
			n := 512 + len(k.site) + len(k.page) + 2*len(e.JSON)
			return uint32(min(n, 1<<31))
		},
	})
	return c
}

func (c *Cache) site(id string) *siteState {
	c.mu.RLock()
	st, ok := c.sites[id]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok = c.sites[id]
	if !ok {
		st = &siteState{ahead: map[int64]struct{}{}}
		c.sites[id] = st
	}
	return st
}

// Get returns the entry of a page if one may be served. complete asks for a
// complete entry (the thread itself) rather than a count.
func (c *Cache) Get(siteID, pageKey string, complete bool) (*Entry, bool) {
	e, ok := c.entries.GetIfPresent(key{siteID, pageKey})
	if ok && (!c.fresh(siteID, e) || (complete && !e.Complete)) {
		ok = false
	}
	c.count(ok)
	if !ok {
		return nil, false
	}
	return e, true
}

func (c *Cache) count(hit bool) {
	m := c.opt.Misses
	if hit {
		m = c.opt.Hits
	}
	if m != nil {
		m.Inc()
	}
}

// fresh reports whether e may still be served.
func (c *Cache) fresh(siteID string, e *Entry) bool {
	if e.epoch != c.site(siteID).epoch.Load() {
		return false
	}
	age := c.opt.Now().Sub(e.filled)
	if age >= c.opt.MaxAge {
		return false
	}
	if c.opt.Redis == nil || age < c.opt.PollInterval {
		return true
	}
	return c.opt.Now().UnixNano() < c.trusted.Load()
}

// Bytes returns the weighed size of the entries held.
func (c *Cache) Bytes() uint64 { return c.entries.WeightedSize() }

// Settle finishes pending evictions (for tests and size reports).
func (c *Cache) Settle() { c.entries.CleanUp() }

// Fill is a pending fill of one page: Begin it before reading the database
// and Put what was read.
type Fill struct {
	site, page string
	gen, epoch uint64
}

// Begin starts a fill of the page. It records nothing about the site: a
// request for a site that does not exist must leave no trace here (Put
// comes only after the site was found).
func (c *Cache) Begin(siteID, pageKey string) Fill {
	f := Fill{site: siteID, page: pageKey}
	c.mu.RLock()
	st, ok := c.sites[siteID]
	c.mu.RUnlock()
	if ok {
		f.gen, f.epoch = st.gen.Load(), st.epoch.Load()
	}
	return f
}

// Put stores e for the page of f, unless the site changed since Begin (then
// what was read may already be out of date, and the next reader fills it
// again). A count-only entry never replaces a complete one that may still
// be served.
func (c *Cache) Put(f Fill, e Entry) {
	st := c.site(f.site)
	if st.gen.Load() != f.gen {
		return
	}
	e.epoch, e.filled = f.epoch, c.opt.Now()
	k := key{f.site, f.page}
	c.entries.Compute(k, func(old *Entry, found bool) (*Entry, otter.ComputeOp) {
		if !e.Complete && found && old.Complete && c.fresh(f.site, old) {
			return old, otter.CancelOp
		}
		return &e, otter.WriteOp
	})
	// An invalidation first moves gen, then drops the entry: either it
	// dropped what was just stored, or the change is seen here.
	if st.gen.Load() != f.gen {
		c.entries.Invalidate(k)
	}
}

// Changed records that the public view of a page changed (a comment on it
// was approved, edited, or left the approved status): this instance drops
// its entry now, and the others through the bus and the version counter.
// It never fails; what could not reach Redis is retried at the next poll.
// It waits on Redis at most RedisTimeout for the increment (nothing at all
// after a Redis call failed, until a poll succeeds) plus what the Bus takes
// to publish. A nil Cache does nothing.
func (c *Cache) Changed(ctx context.Context, siteID, pageKey string) {
	if c == nil {
		return
	}
	c.invalidate(siteID, pageKey)
	var version int64
	if c.opt.Redis != nil {
		st := c.site(siteID)
		var v int64
		err := errRedisDown
		// Once a call has failed, changes are owed to the next poll
		// without trying, so that a stalled Redis keeps no later caller
		// waiting.
		if !c.redisDown.Load() {
			v, err = c.bump(ctx, siteID)
		}
		if err != nil {
			st.mu.Lock()
			st.owed++
			st.mu.Unlock()
			if !errors.Is(err, errRedisDown) && !c.redisDown.Swap(true) {
				c.opt.Logger.LogAttrs(ctx, slog.LevelWarn, "thread cache: version increment failed; increments are left to the next poll",
					slog.String("site", siteID), slog.String("err", err.Error()))
			}
		} else {
			version = v
			c.applied(st, v)
		}
	}
	if c.opt.Bus != nil {
		e := events.Event{Type: events.TypeThreadChanged, SiteID: siteID, Page: pageKey, Version: version, At: c.opt.Now()}
		if err := c.opt.Bus.Publish(ctx, e); err != nil {
			c.opt.Logger.LogAttrs(ctx, slog.LevelWarn, "thread cache: publishing invalidation failed",
				slog.String("site", siteID), slog.String("err", err.Error()))
		}
	}
}

func (c *Cache) invalidate(siteID, pageKey string) {
	c.site(siteID).gen.Add(1)
	c.entries.Invalidate(key{siteID, pageKey})
}

// flush drops every entry of a site.
func (c *Cache) flush(st *siteState) {
	st.gen.Add(1)
	st.epoch.Add(1)
}

// applied records that version v of the site has been seen here.
func (c *Cache) applied(st *siteState, v int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.known || v <= st.synced {
		return
	}
	st.ahead[v] = struct{}{}
	for {
		if _, ok := st.ahead[st.synced+1]; !ok {
			break
		}
		delete(st.ahead, st.synced+1)
		st.synced++
	}
}

// Run applies invalidations from other instances and, with Redis, polls the
// site versions, until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	var in <-chan events.Event
	if c.opt.Bus != nil {
		ch, stop := c.opt.Bus.Subscribe()
		defer stop()
		in = ch
	}
	var tick <-chan time.Time
	if c.opt.Redis != nil {
		t := time.NewTicker(c.opt.PollInterval)
		defer t.Stop()
		tick = t.C
		c.poll(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if e.Type != events.TypeThreadChanged {
				continue
			}
			c.invalidate(e.SiteID, e.Page)
			if e.Version > 0 {
				c.applied(c.site(e.SiteID), e.Version)
			}
		case <-tick:
			c.poll(ctx)
		}
	}
}

// poll makes owed increments, reads every known site's version, and drops
// the entries of a site whose versions this instance has not all seen one
// poll after they existed.
func (c *Cache) poll(ctx context.Context) {
	c.mu.RLock()
	ids := make([]string, 0, len(c.sites))
	states := make([]*siteState, 0, len(c.sites))
	for id, st := range c.sites {
		ids = append(ids, id)
		states = append(states, st)
	}
	c.mu.RUnlock()
	if len(ids) == 0 {
		c.trusted.Store(c.opt.Now().Add(2 * c.opt.PollInterval).UnixNano())
		return
	}
	// While Redis is failing, a read goes first: an increment sent to a
	// stalled server is still applied when it wakes up, so one per poll
	// would pile up, while reads cost nothing.
	var err error
	if c.redisDown.Load() {
		_, err = c.versions(ctx, ids)
	}
	var versions []int64
	if err == nil {
		for i, st := range states {
			if err = c.payOwed(ctx, ids[i], st); err != nil {
				break // Redis is failing: spare the other sites the wait
			}
		}
	}
	if err == nil {
		versions, err = c.versions(ctx, ids)
	}
	if err != nil {
		c.redisDown.Store(true)
		if c.trusted.Swap(0) != 0 {
			c.opt.Logger.LogAttrs(ctx, slog.LevelWarn, "thread cache: reading versions failed; entries are served for one poll interval only",
				slog.String("err", err.Error()))
		}
		for _, st := range states {
			c.flush(st)
		}
		return
	}
	for i, st := range states {
		c.reconcile(st, versions[i])
	}
	c.trusted.Store(c.opt.Now().Add(2 * c.opt.PollInterval).UnixNano())
	c.redisDown.Store(false)
}

// reconcile compares what this instance has seen of a site with the version
// Redis holds now.
func (c *Cache) reconcile(st *siteState, now int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.known || st.polled > st.synced || now < st.polled {
		// First poll, a version that existed a poll ago never arrived, or
		// the counter went back (Redis lost its data): what is cached may
		// predate a change nobody told us about.
		c.flush(st)
		st.synced, st.known = now, true
		clear(st.ahead)
	}
	for v := range st.ahead {
		if v <= st.synced {
			delete(st.ahead, v)
		}
	}
	st.polled = now
}

// payOwed makes one increment for the changes of a site that Changed could
// not count, and returns the error of that increment.
func (c *Cache) payOwed(ctx context.Context, siteID string, st *siteState) error {
	st.mu.Lock()
	owed := st.owed
	st.mu.Unlock()
	if owed == 0 {
		return nil
	}
	v, err := c.bump(ctx, siteID)
	if err != nil {
		return err
	}
	st.mu.Lock()
	st.owed -= owed
	st.mu.Unlock()
	c.applied(st, v)
	return nil
}
