// Package moderation holds commentd's use cases: a reader submits a comment
// (validated, rate-limited, judged and stored), the public reads a page's
// approved thread, and moderators work the queue.
package moderation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/ratelimit"
)

// Limiter decides whether one more submission fits the limits.
// ratelimit.Redis and ratelimit.Local satisfy it.
type Limiter interface {
	// AllowChain charges several buckets in order, stopping at the first
	// that refuses.
	AllowChain(ctx context.Context, checks []ratelimit.Check) (ratelimit.Refusal, error)
}

// Renderer turns a comment's Markdown source into safe HTML.
type Renderer interface {
	Render(src string) (string, error)
}

// Bus announces changes to moderators (live queue) and rule changes to
// the other instances, and delivers theirs. events.Local and events.Redis
// satisfy it.
type Bus interface {
	Publish(ctx context.Context, e events.Event) error
	Subscribe() (<-chan events.Event, func())
}

// Threads is told about every change that may alter a page's public thread,
// after it is committed. *threadcache.Cache satisfies it.
type Threads interface {
	Changed(ctx context.Context, siteID, pageKey string)
}

// Deps are the parts a Service is built from. All are required except
// Events, Threads, Logger and Now.
type Deps struct {
	Store    comment.Store
	Limiter  Limiter
	Renderer Renderer
	// Secret keys the HMAC that turns email addresses into rate-limit keys,
	// so that Redis never holds an address in the clear.
	Secret  []byte
	Events  Bus
	Threads Threads
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics Metrics
}

// Service runs the submission, reading and moderation use cases.
type Service struct {
	store   comment.Store
	limiter Limiter
	render  Renderer
	secret  []byte
	events  Bus
	threads Threads
	sites   *otter.Cache[string, comment.Site]
	rules   rulesCache
	now     func() time.Time
	log     *slog.Logger
	metrics Metrics
}

// New returns a Service using d.
func New(d Deps) *Service {
	s := &Service{store: d.Store, limiter: d.Limiter, render: d.Renderer, secret: d.Secret, events: d.Events, threads: d.Threads, now: d.Now, log: d.Logger, metrics: d.Metrics}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.sites = otter.Must(&otter.Options[string, comment.Site]{
		MaximumSize:      maxCachedSites,
		ExpiryCalculator: otter.ExpiryWriting[string, comment.Site](siteTTL),
	})
	return s
}

// Sites are read on every public request but change only when an instance
// starts with a new configuration, so each is kept for siteTTL.
const (
	siteTTL        = 10 * time.Second
	maxCachedSites = 4096
)

// site returns the site with id, from memory when read in the last siteTTL.
// Errors: comment.ErrNotFound (never cached, so a site declared by another
// instance is found at once).
func (s *Service) site(ctx context.Context, id string) (comment.Site, error) {
	if site, ok := s.sites.GetIfPresent(id); ok {
		return site, nil
	}
	site, err := s.store.Site(ctx, id)
	if err != nil {
		return comment.Site{}, err
	}
	s.sites.Set(id, site)
	return site, nil
}

// publish announces e; a failure is logged, never returned, since the
// change it announces is already stored.
func (s *Service) publish(ctx context.Context, e events.Event) {
	if s.events == nil {
		return
	}
	if err := s.events.Publish(ctx, e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "publishing event failed",
			slog.String("site", e.SiteID), slog.String("comment_id", e.CommentID), slog.String("err", err.Error()))
	}
}

// pageChanged tells the thread cache that a page's public view may have
// changed.
func (s *Service) pageChanged(ctx context.Context, siteID, pageKey string) {
	if s.threads != nil {
		// The change is committed: tell the cache even if the caller has
		// gone (the cache bounds its own Redis calls).
		s.threads.Changed(context.WithoutCancel(ctx), siteID, pageKey)
	}
}

// clock returns the current time as the stores keep it: UTC, microseconds.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// ipKey returns a client address in one spelling (IPv4-mapped IPv6 as IPv4).
func ipKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return addr.Unmap().String()
}

// netKey returns the network a client address belongs to for the prefix
// limit: its IPv4 /24 or its IPv6 /64 (one subscriber usually holds a whole
// /64 and can change addresses within it at will).
func netKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return addr.String()
	}
	return p.String()
}

// emailKey returns a keyed hash of the normalised address.
func (s *Service) emailKey(email string) string {
	return s.keyed("email:" + strings.ToLower(email))
}

// pageKey returns a keyed hash of a page key (which may be long).
func (s *Service) pageKey(key string) string {
	return s.keyed("page:" + key)
}

func (s *Service) keyed(v string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
