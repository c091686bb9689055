// Package httpapi is commentd's HTTP layer: the Echo server, its routes, the
// request and response types, and the one place where errors become status
// codes. Echo types never leave this package.
package httpapi

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/threadcache"
	"github.com/commentd/commentd/internal/web"
)

// Deps are the use cases the server exposes.
type Deps struct {
	Moderation *moderation.Service
	Accounts   *account.Service
	Events     Subscriber
	// Threads caches public threads and counts; nil: every read goes to
	// the database.
	Threads *threadcache.Cache
	// Privacy answers administrators' requests about a reader's personal
	// data (/api/v1/admin/gdpr); nil: those routes are absent.
	Privacy PrivacyStore
	// Readers keeps the states of readers' addresses for reply
	// notifications, which the links in their emails change
	// (/notify/confirm, /notify/unsubscribe); nil: those routes are absent.
	Readers comment.ReaderStore
	// Secret is the server secret: it keys the audit subjects of readers'
	// data requests (see comment.EmailSubject) and opens the tokens of
	// readers' links (see notify.OpenReaderToken).
	Secret []byte
	// OffersReplies reports whether a site offers readers "notify me of
	// replies"; nil: no site does, the checkbox is not drawn and a
	// submission's notify_replies is ignored.
	OffersReplies func(siteID string) bool
}

// ReadinessCheck reports, per dependency name ("database", "redis"), whether
// that dependency answers.
type ReadinessCheck func(ctx context.Context) map[string]error

// Options configure NewServer.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed. Empty:
	// the connecting peer is the client.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	Ready          ReadinessCheck
	Metrics        http.Handler // served at /metrics; nil: no route
	// Registerer takes the HTTP series (requests, latency, submissions);
	// nil: none are kept.
	Registerer prometheus.Registerer
	// Pending adds each site's moderation backlog to /readyz; nil: none.
	Pending PendingCheck
	// Stop, when closed, ends the live event streams, so that a graceful
	// shutdown does not wait for them. nil: streams end only with their
	// clients.
	Stop <-chan struct{}
	// Heartbeat is how often live event streams ping and re-check their
	// caller's rights; 0 means 15 seconds.
	Heartbeat time.Duration
	// SecureCookies marks the web UI's cookies Secure even on plain HTTP
	// (behind a TLS-terminating proxy); a TLS connection always does.
	SecureCookies bool
	// PublicURL is the base URL readers reach this server at (config
	// public_url), used for the absolute addresses in what other sites
	// embed: the comment section's form action and stylesheet, the script
	// tag of /embed.json. Empty: the scheme and Host of each request.
	PublicURL string
	// SharedMaxAge is how long shared caches (a CDN) may keep thread and
	// count answers (s-maxage); 0: they must revalidate every time.
	SharedMaxAge time.Duration
}

// NewServer returns the HTTP handler for the whole service.
func NewServer(d Deps, opt Options) (http.Handler, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := web.Templates()
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor(opt.TrustedProxies)
	script, err := web.EmbedScript()
	if err != nil {
		return nil, err
	}
	pages := &pageRenderer{tmpl: tmpl, script: script}
	e.HTTPErrorHandler = errorHandler(opt.Logger, pages)
	v := newValidator()
	m, err := newHTTPMetrics(opt.Registerer, e)
	if err != nil {
		return nil, fmt.Errorf("register HTTP metrics: %w", err)
	}
	addRoutes(e, d, v, pages, opt, m)
	return e, nil
}

// ipExtractor believes X-Forwarded-For only from the trusted proxies. Echo's
// own default believes the header from anyone, and its XFF extractor trusts
// loopback and private ranges unless told not to.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// pageRenderer draws the HTML pages of the form flow and the comment
// section, and knows the embed script that pages refer to.
type pageRenderer struct {
	tmpl   *template.Template
	script web.Script
}

func (p *pageRenderer) render(c echo.Context, status int, name string, data any) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(c.Response(), name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return nil
}
