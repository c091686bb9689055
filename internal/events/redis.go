package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults for RedisOptions fields left zero.
const (
	// DefaultTimeout bounds one PUBLISH.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultCooldown is how long PUBLISH is not tried after one failed.
	DefaultCooldown = 2 * time.Second
)

const (
	// pingInterval: a subscription that received nothing for this long
	// sends PING; one that then receives nothing for another interval is
	// taken as dead (a server gone without closing the socket).
	pingInterval = 3 * time.Second
	// Reconnect attempts back off from minBackoff, doubling to maxBackoff.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
	// directTTL is how long the ID of an event delivered directly is kept
	// to recognise (and skip) its late echo from Redis. An echo can only
	// come from a PUBLISH that was still under way, so seconds would do.
	directTTL = time.Minute
)

// RedisOptions tunes a Redis bus. The zero value is usable.
type RedisOptions struct {
	// Timeout bounds one PUBLISH; past it the event is delivered on this
	// instance only. Zero means DefaultTimeout.
	Timeout time.Duration
	// Cooldown is how long Publish leaves Redis alone after a PUBLISH
	// failed or timed out: events published in that window are delivered
	// on this instance only, at once, so that a stalled Redis costs one
	// publisher the timeout per cooldown rather than every publisher.
	// The cooldown ends early when the subscription is confirmed again.
	// Zero means DefaultCooldown.
	Cooldown time.Duration
	// Logger receives one warning when the subscription or publishing
	// fails and one info line when it works again (per outage, not per
	// attempt), plus a warning per undecodable message. Nil discards.
	Logger *slog.Logger
	// Dropped, if not nil, counts deliveries made by this bus that were
	// skipped because a subscriber's buffer was full (one per event and
	// subscriber). Local.Dropped counts the same across all publishers.
	Dropped prometheus.Counter
	// Fallbacks, if not nil, counts events whose PUBLISH failed or timed
	// out, and which therefore reached this instance's subscribers only.
	Fallbacks prometheus.Counter
}

// Redis is a Bus that spans instances through one Redis pub/sub channel.
// Publish sends each event to Redis; Run keeps one subscription per instance
// and hands every received event to the Local, whose subscribers therefore
// see events from all instances. Each event reaches each subscriber at most
// once, and exactly once on the publishing instance (see Publish). It is
// safe for concurrent use; create one with NewRedis and call Run.
type Redis struct {
	client    redis.UniversalClient
	channel   string
	local     *Local
	timeout   time.Duration
	cooldown  time.Duration
	log       *slog.Logger
	dropped   prometheus.Counter
	fallbacks prometheus.Counter
	now       func() time.Time
	// pingInterval is the const of that name; tests shorten it.
	pingInterval time.Duration

	instance string        // prefix of the IDs of events published here
	seq      atomic.Uint64 // last ID suffix used
	running  atomic.Bool   // Run is active
	// subscribed: Redis confirmed the subscription and no error came
	// since, so an event published now should come back through it.
	subscribed atomic.Bool
	subDown    bool // an outage of the subscription was logged; Run's goroutine only

	mu          sync.Mutex
	own         map[string]ownState // events published here, by ID, see Publish
	directs     []directEntry       // IDs in own as ownDirect, oldest first
	publishDown bool                // an outage of PUBLISH was logged
	// While publishDown, no PUBLISH is tried before publishRetryAt.
	publishRetryAt time.Time
}

// ownState tracks an event published by this instance until it is known
// that it was delivered locally exactly once.
type ownState int

const (
	// ownPending: PUBLISH under way, nothing delivered yet.
	ownPending ownState = iota + 1
	// ownEchoed: the subscription delivered it while PUBLISH was under way.
	ownEchoed
	// ownDirect: delivered by Publish itself; an echo must be skipped.
	ownDirect
)

type directEntry struct {
	id      string
	expires time.Time
}

// wireEvent is the JSON published to Redis: the event plus an ID, unique
// across instances, by which the publisher recognises its own event.
type wireEvent struct {
	ID string `json:"id"`
	Event
}

// NewRedis returns a bus that publishes to channel through client and
// delivers to local's subscribers. local must not be nil (NewRedis panics
// otherwise). Nothing is received from other instances until Run is
// called; events published here reach local's subscribers either way.
//
// Setting ContextTimeoutEnabled on the client is recommended: Publish never
// waits longer than opt.Timeout either way, but without it a stalled
// PUBLISH keeps its goroutine and connection until the client's own read
// timeout. Give the bus a client whose pool has room for one extra
// connection: the subscription holds one for as long as Run runs.
func NewRedis(client redis.UniversalClient, channel string, local *Local, opt RedisOptions) *Redis {
	if local == nil {
		panic("events.NewRedis: nil local")
	}
	r := &Redis{
		client:       client,
		channel:      channel,
		local:        local,
		timeout:      opt.Timeout,
		cooldown:     opt.Cooldown,
		log:          opt.Logger,
		dropped:      opt.Dropped,
		fallbacks:    opt.Fallbacks,
		now:          time.Now,
		pingInterval: pingInterval,
		instance:     newInstanceID(),
		own:          make(map[string]ownState),
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.cooldown <= 0 {
		r.cooldown = DefaultCooldown
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

func newInstanceID() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// Subscribe subscribes to the Local given to NewRedis; see Bus.
func (r *Redis) Subscribe() (<-chan Event, func()) { return r.local.Subscribe() }

// Connected reports whether the subscription is currently confirmed by
// Redis, that is whether events from other instances arrive. It suits a
// health or readiness report.
func (r *Redis) Connected() bool { return r.subscribed.Load() }

// Publish sends ev to every instance through Redis, waiting at most the
// configured timeout, and returns nil whatever Redis does: if PUBLISH fails
// or times out, ev is delivered to this instance's subscribers only, and
// the failure is counted and logged (once per outage). For the cooldown
// after such a failure, Publish does not try Redis at all (one call after
// it does, as a probe): ev is delivered here at once and counted the same
// way. Cancelling ctx does not stop the PUBLISH, since the change it
// reports has happened anyway.
//
// Local subscribers get ev exactly once: through the subscription when it
// is up and PUBLISH works, otherwise directly, and an echo of an event
// delivered directly is skipped. Publish returns an error only if ev cannot
// be encoded (a time outside years 0-9999), and then delivers nothing.
func (r *Redis) Publish(ctx context.Context, ev Event) error {
	id := r.instance + "-" + strconv.FormatUint(r.seq.Add(1), 36)
	payload, err := json.Marshal(wireEvent{ID: id, Event: ev})
	if err != nil {
		return fmt.Errorf("encode event %s for comment %s: %w", ev.Type, ev.CommentID, err)
	}
	r.begin(id, ev)
	if r.shouldPublish() {
		err = r.publish(ctx, payload)
	} else {
		err = errCoolingDown
	}
	r.finish(id, ev, err)
	return nil
}

// errCoolingDown stands for a PUBLISH not tried because an earlier one
// failed less than the cooldown ago.
var errCoolingDown = errors.New("redis publish not tried: cooling down after a failure")

// shouldPublish reports whether this Publish may try Redis: always, unless
// a PUBLISH failed; then only the first call after the cooldown does, and
// the others keep delivering directly until it has answered.
func (r *Redis) shouldPublish() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.publishDown {
		return true
	}
	now := r.now()
	if now.Before(r.publishRetryAt) {
		return false
	}
	r.publishRetryAt = now.Add(r.cooldown)
	return true
}

// begin records id before it is published. Without a confirmed
// subscription the echo may never come, so ev is delivered now.
func (r *Redis) begin(id string, ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireDirects()
	if r.subscribed.Load() {
		r.own[id] = ownPending
		return
	}
	r.deliverDirect(id, ev)
}

// finish settles id once PUBLISH returned err. The subscription goroutine
// may have delivered the echo meanwhile (ownEchoed), even if err says the
// PUBLISH failed (a timeout after the server got it).
func (r *Redis) finish(id string, ev Event, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := r.own[id]
	if err == nil {
		if r.publishDown {
			r.publishDown = false
			r.log.Info("events: redis publish works again")
		}
		if state != ownDirect {
			// Echoed already, or the echo is yet to come and, with no
			// entry, will be delivered.
			delete(r.own, id)
		}
		return
	}

	if r.fallbacks != nil {
		r.fallbacks.Inc()
	}
	if !errors.Is(err, errCoolingDown) {
		r.publishRetryAt = r.now().Add(r.cooldown)
	}
	if !r.publishDown {
		r.publishDown = true
		r.log.Warn("events: redis publish failed; delivering events on this instance only",
			slog.Any("err", err), slog.String("channel", r.channel))
	}
	switch state {
	case ownPending:
		r.deliverDirect(id, ev)
	case ownEchoed:
		delete(r.own, id)
	}
}

// deliverDirect delivers ev and remembers id for a while so that its echo
// is skipped. r.mu must be held.
func (r *Redis) deliverDirect(id string, ev Event) {
	r.own[id] = ownDirect
	r.directs = append(r.directs, directEntry{id: id, expires: r.now().Add(directTTL)})
	r.deliver(ev)
}

// expireDirects forgets directly delivered IDs whose echo can no longer
// come. r.mu must be held.
func (r *Redis) expireDirects() {
	now := r.now()
	n := 0
	for n < len(r.directs) && now.After(r.directs[n].expires) {
		if r.own[r.directs[n].id] == ownDirect {
			delete(r.own, r.directs[n].id)
		}
		n++
	}
	if n > 0 {
		r.directs = append(r.directs[:0], r.directs[n:]...)
	}
}

func (r *Redis) deliver(ev Event) {
	if n := r.local.deliver(ev); n > 0 && r.dropped != nil {
		r.dropped.Add(float64(n))
	}
}

// publish runs one PUBLISH, giving up after r.timeout. The command runs in
// its own goroutine because a go-redis client without ContextTimeoutEnabled
// ignores the deadline for socket reads.
func (r *Redis) publish(ctx context.Context, payload []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned send must not block
	go func() { done <- r.client.Publish(ctx, r.channel, payload).Err() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("redis publish to %s: %w", r.channel, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redis publish to %s: %w", r.channel, ctx.Err())
	}
}

// receive delivers one message from the subscription, unless it is the
// echo of an event that Publish delivered directly.
func (r *Redis) receive(payload string) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		r.log.Warn("events: undecodable message on redis channel; ignored",
			slog.Any("err", err), slog.String("channel", r.channel))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.own[w.ID] {
	case ownDirect:
		delete(r.own, w.ID)
		return
	case ownPending:
		r.own[w.ID] = ownEchoed
	}
	r.deliver(w.Event)
}

// Run keeps this instance subscribed to the channel until ctx ends, then
// returns nil. It delivers every event received to the Local given to
// NewRedis. When Redis goes away go-redis reconnects and resubscribes on
// the next read; Run retries with backoff (up to 2s apart), logs one
// warning per outage and one info line on recovery, and meanwhile Publish
// delivers this instance's events directly. Events published elsewhere
// during an outage are not received (pub/sub keeps nothing). Run returns an
// error only if it is already running.
func (r *Redis) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("events: Redis.Run is already running")
	}
	defer r.running.Store(false)
	defer r.subscribed.Store(false)
	for ctx.Err() == nil {
		r.session(ctx)
	}
	return nil
}

// session runs one PubSub until ctx ends or the connection is found dead
// without an error from go-redis (an unanswered PING), which go-redis does
// not notice; a fresh PubSub then makes a fresh connection.
func (r *Redis) session(ctx context.Context) {
	// No channel given: the PubSub does no I/O until Subscribe below.
	ps := r.client.Subscribe(ctx)
	defer ps.Close()
	// A blocked read ignores ctx; closing the PubSub ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()

	// A failed Subscribe still records the channel, so every later
	// (re)connect subscribes to it.
	if err := ps.Subscribe(ctx, r.channel); err != nil {
		r.subscriptionFailed(ctx, err)
	}
	backoff := time.Duration(0)
	pinged := false // a PING went out and nothing came since
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, r.pingInterval)
		if ctx.Err() != nil {
			return
		}
		if isTimeout(err) {
			if pinged {
				r.subscriptionFailed(ctx, errors.New("no answer to PING"))
				return
			}
			pinged = true
			if err := ps.Ping(ctx); err != nil {
				r.subscriptionFailed(ctx, err)
			}
			continue
		}
		if err != nil {
			// go-redis has dropped the connection and will dial again on
			// the next read; back off so a dead Redis is not hammered.
			r.subscriptionFailed(ctx, err)
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			sleep(ctx, backoff)
			continue
		}
		backoff, pinged = 0, false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.channel {
				r.subscriptionUp()
			}
		case *redis.Message:
			r.receive(m.Payload)
		}
	}
}

func (r *Redis) subscriptionFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // shutting down, not an outage
	}
	r.subscribed.Store(false)
	if !r.subDown {
		r.subDown = true
		r.log.Warn("events: redis subscription lost; reconnecting, events from other instances are not received meanwhile",
			slog.Any("err", err), slog.String("channel", r.channel))
	}
}

func (r *Redis) subscriptionUp() {
	r.subscribed.Store(true)
	if r.subDown {
		r.subDown = false
		r.log.Info("events: redis subscription restored", slog.String("channel", r.channel))
	}
	// Redis answers again: the next Publish may try it without waiting
	// for the rest of the cooldown.
	r.mu.Lock()
	r.publishRetryAt = time.Time{}
	r.mu.Unlock()
}

// isTimeout reports whether err is a read deadline passing, which leaves a
// PubSub connection usable.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	// A dial that timed out means no connection at all.
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
