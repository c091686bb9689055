package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/commentd/commentd/internal/moderation"
)

// siteCORS lets each site's own origins call its public API from a browser.
// Echo's CORS middleware takes one origin list (or a function of the origin
// alone) for the whole server; here the list depends on the site in the path,
// so the check is written out.
func siteCORS(svc *moderation.Service) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Add("Vary", "Origin")
			origin := c.Request().Header.Get("Origin")
			if origin == "" {
				return next(c)
			}
			site, err := svc.Site(c.Request().Context(), c.Param("site"))
			if err != nil || !site.AllowsOrigin(origin) {
				return next(c) // no CORS headers: the browser keeps the answer from the page
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Retry-After, Idempotent-Replayed")
			if c.Request().Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
				h.Set("Access-Control-Max-Age", "600")
			}
			return next(c)
		}
	}
}

// handlePreflight answers CORS preflight requests; siteCORS sets the headers.
func handlePreflight() echo.HandlerFunc {
	return func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
}

// Content security policies. Every answer gets strictCSP: commentd's pages
// run no script unless they say so. Pages that use embed.js as an article
// page would (the demo) get scriptCSP: scripts from this server only, and
// calls to its API. (On a site's own pages the widget runs under the site's
// policy, which must allow commentd's origin in script-src, connect-src and
// style-src.)
const (
	strictCSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
	scriptCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// securityHeaders keeps browsers from sniffing types or framing commentd's
// pages, and limits what those pages may load.
func securityHeaders() echo.MiddlewareFunc {
	return middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ReferrerPolicy:        "strict-origin-when-cross-origin",
		ContentSecurityPolicy: strictCSP,
	})
}

// allowOwnScripts replaces securityHeaders' policy with scriptCSP, for
// pages that run embed.js.
func allowOwnScripts() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderContentSecurityPolicy, scriptCSP)
			return next(c)
		}
	}
}

// requestLogger logs one line per request with stable keys.
func requestLogger(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogRequestID: true, LogLatency: true, LogRoutePath: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			// The access line only: errors are logged once, by the error handler.
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
				slog.String("method", v.Method), slog.String("route", v.RoutePath), slog.String("path", v.URIPath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID))
			return nil
		},
	})
}

// recoverer turns a panic in a handler into an internal error for the error
// handler, logging the stack through the service's logger.
func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.LogAttrs(c.Request().Context(), slog.LevelError, "handler panicked",
				slog.String("err", err.Error()), slog.String("stack", string(stack)))
			return err
		},
	})
}

// errUnsupportedEncoding refuses a request body sent with a content coding
// (gzip, deflate, br, ...).
var errUnsupportedEncoding = errors.New("unsupported content encoding")

// refuseEncodedBodies answers 415 to a request whose body is compressed.
// Nothing in commentd decodes a compressed body: read as it is, it would be
// parsed as garbage, and decoding it would let a few kilobytes on the wire
// expand into gigabytes behind the body limit's back. The answer names the
// one coding accepted (RFC 7694).
func refuseEncodedBodies() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength == 0 {
				return next(c) // no body to decode
			}
			for _, v := range r.Header.Values(echo.HeaderContentEncoding) {
				for coding := range strings.SplitSeq(v, ",") {
					coding = strings.TrimSpace(coding)
					if coding != "" && !strings.EqualFold(coding, "identity") {
						c.Response().Header().Set(echo.HeaderAcceptEncoding, "identity")
						return errUnsupportedEncoding
					}
				}
			}
			return next(c)
		}
	}
}
