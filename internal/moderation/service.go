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

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/ratelimit"
)

// Limiter decides whether one more submission under key fits lim.
// ratelimit.Redis and ratelimit.Local satisfy it.
type Limiter interface {
	Allow(ctx context.Context, key string, lim comment.RateLimit) (ratelimit.Decision, error)
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

// Deps are the parts a Service is built from. All are required except
// Events, Logger and Now.
type Deps struct {
	Store    comment.Store
	Limiter  Limiter
	Renderer Renderer
	// Secret keys the HMAC that turns email addresses into rate-limit keys,
	// so that Redis never holds an address in the clear.
	Secret []byte
	Events Bus
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs the submission, reading and moderation use cases.
type Service struct {
	store   comment.Store
	limiter Limiter
	render  Renderer
	secret  []byte
	events  Bus
	rules   rulesCache
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Service using d.
func New(d Deps) *Service {
	s := &Service{store: d.Store, limiter: d.Limiter, render: d.Renderer, secret: d.Secret, events: d.Events, now: d.Now, log: d.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
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
