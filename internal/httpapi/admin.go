package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
)

// The moderator web UI lives under /admin. Its pages are rendered on the
// server; admin.js only adds keyboard use, in-place actions and live updates,
// so that every action also works as a plain form post.

const (
	// adminPrefix is the path of the web UI and of both its cookies.
	adminPrefix = "/admin"
	// sessionCookieName holds the session value account.Service.Login made.
	sessionCookieName = "commentd_session"
	// csrfCookieName holds the token Echo's CSRF middleware compares with the
	// _csrf form field or the X-CSRF-Token header.
	csrfCookieName = "commentd_csrf"
	// csrfContextKey is where the CSRF middleware leaves the token for pages.
	csrfContextKey = "csrf"
	// csrfMaxAge is the lifetime of the CSRF cookie; a form older than that
	// gets the "page has expired" answer.
	csrfMaxAge = 24 * time.Hour
)

// adminCSP extends the service's policy for the UI: its own script and
// event stream, forms that post only to itself.
const adminCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// errCSRF is what the CSRF check fails with: the form's token is missing or
// is not the one of this browser's cookie (usually a page left open too long).
var errCSRF = errors.New("csrf token missing or stale")

// adminHeaders sets what every /admin answer carries: the UI's content
// policy, no caching, no indexing, and no referrer leaving the site (queue
// URLs can hold an author's email).
func adminHeaders() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", adminCSP)
			h.Set("Cache-Control", "no-store")
			h.Set("X-Robots-Tag", "noindex, nofollow")
			h.Set("Referrer-Policy", "same-origin")
			return next(c)
		}
	}
}

// secureRequest reports whether cookies set in answer to c must be Secure.
func secureRequest(c echo.Context, secureCookies bool) bool {
	return secureCookies || c.Request().TLS != nil
}

// errCrossSite is what a state-changing /admin request fails with when the
// browser says it was sent by a page of another site or origin.
var errCrossSite = errors.New("cross-site request to the moderator UI")

// adminCSRF checks every state-changing /admin request, the sign-in form
// included. First, a request that a browser marks as coming from another
// origin (Sec-Fetch-Site cross-site or same-site, or an Origin that is
// neither this server's nor publicURL's) is refused whatever it carries:
// no page elsewhere has a reason to post to the moderator UI. Then Echo's
// CSRF middleware checks the token, which travels in an HttpOnly,
// SameSite=Strict cookie and in the form (or, from admin.js, in a header);
// browsers that say the request is same-origin pass without one.
func adminCSRF(secureCookies bool, publicURL string) echo.MiddlewareFunc {
	build := func(secure bool) echo.MiddlewareFunc {
		return middleware.CSRFWithConfig(middleware.CSRFConfig{
			TokenLookup:           "header:" + echo.HeaderXCSRFToken + ",form:_csrf",
			ContextKey:            csrfContextKey,
			CookieName:            csrfCookieName,
			CookiePath:            adminPrefix,
			CookieHTTPOnly:        true,
			CookieSameSite:        http.SameSiteStrictMode,
			CookieSecure:          secure,
			CookieMaxAge:          int(csrfMaxAge / time.Second),
			AllowSecFetchSiteFunc: func(echo.Context) (bool, error) { return false, errCrossSite },
			ErrorHandler:          func(error, echo.Context) error { return errCSRF },
		})
	}
	plain, secure := build(false), build(true)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		plainNext, secureNext := plain(next), secure(next)
		return func(c echo.Context) error {
			if crossOrigin(c.Request(), publicURL) {
				return errCrossSite
			}
			if secureRequest(c, secureCookies) {
				return secureNext(c)
			}
			return plainNext(c)
		}
	}
}

// crossOrigin reports whether r changes state and a browser sent it from a
// page that is not on this server: Sec-Fetch-Site says so, or the Origin is
// neither the request's host (over http or https: behind a proxy that ends
// TLS the browser's origin is https while the request here is plain) nor
// that of publicURL. Requests without these headers (not from a browser,
// or from a very old one) are left to the token check.
func crossOrigin(r *http.Request, publicURL string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	switch r.Header.Get(echo.HeaderSecFetchSite) {
	case "cross-site", "same-site":
		return true
	}
	origin := r.Header.Get(echo.HeaderOrigin)
	if origin == "" {
		return false
	}
	if strings.EqualFold(origin, "http://"+r.Host) || strings.EqualFold(origin, "https://"+r.Host) {
		return false
	}
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		// A browser leaves the scheme's default port out of Origin.
		host := strings.TrimSuffix(u.Host, map[string]string{"http": ":80", "https": ":443"}[u.Scheme])
		if strings.EqualFold(origin, u.Scheme+"://"+host) {
			return false
		}
	}
	return true
}

// csrfToken is the token a page puts into its forms.
func csrfToken(c echo.Context) string {
	s, _ := c.Get(csrfContextKey).(string)
	return s
}

// sessionCookie makes the session cookie; maxAge < 0 deletes it.
func sessionCookie(value string, maxAge int, secure bool) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookieName, Value: value, Path: adminPrefix, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// sessionValue is the session cookie's value, or "".
func sessionValue(c echo.Context) string {
	ck, err := c.Cookie(sessionCookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}

// withPrincipal puts the caller into the request's context, where principal
// finds it.
func withPrincipal(c echo.Context, p comment.Principal) {
	r := c.Request()
	c.SetRequest(r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

// requireSession lets a request through only with a live session. Without
// one, a page request is sent to the sign-in page, which comes back to the
// page afterwards; a script's request (JSON, event stream) gets 401.
func requireSession(accounts *account.Service, secureCookies bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token := sessionValue(c)
			p, err := accounts.Session(c.Request().Context(), token)
			if errors.Is(err, comment.ErrUnauthorized) {
				if token != "" {
					c.SetCookie(sessionCookie("", -1, secureRequest(c, secureCookies)))
				}
				if wantsJSON(c) || wantsEventStream(c) {
					return err
				}
				return c.Redirect(http.StatusSeeOther, loginURL(returnPath(c)))
			}
			if err != nil {
				return err
			}
			withPrincipal(c, p)
			return next(c)
		}
	}
}

// sessionPrincipal reads the principal of the request's session cookie.
func sessionPrincipal(accounts *account.Service) func(echo.Context) (comment.Principal, error) {
	return func(c echo.Context) (comment.Principal, error) {
		return accounts.Session(c.Request().Context(), sessionValue(c))
	}
}

// loginURL is the sign-in page that goes on to next afterwards.
func loginURL(next string) string {
	if next == "" || next == adminPrefix {
		return adminPrefix + "/login"
	}
	return adminPrefix + "/login?next=" + url.QueryEscape(next)
}

// returnPath is where a user who had to sign in first wants to be: the
// requested page, or for a form post, the page the form was on.
func returnPath(c echo.Context) string {
	r := c.Request()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if p, ok := localAdminPath(r.URL.RequestURI()); ok {
			return p
		}
		return adminPrefix
	}
	if p, ok := sameHostReferer(c); ok {
		return p
	}
	return adminPrefix
}

// sameHostReferer is the path of the page a request came from, when that
// page is one of this server's /admin pages.
func sameHostReferer(c echo.Context) (string, bool) {
	ref, err := url.Parse(c.Request().Referer())
	if err != nil || ref.Host != c.Request().Host {
		return "", false
	}
	return localAdminPath(ref.RequestURI())
}

// localAdminPath accepts raw only when it is a path (with query) under
// /admin on this server, and returns it in canonical form. Absolute and
// scheme-relative URLs, backslashes and paths that leave /admin through dot
// segments are refused, so a crafted ?next= cannot send a user elsewhere.
func localAdminPath(raw string) (string, bool) {
	if !strings.HasPrefix(raw, adminPrefix) || strings.ContainsAny(raw, "\\\x00\r\n\t") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	clean := path.Clean(u.Path)
	if clean != adminPrefix && !strings.HasPrefix(clean, adminPrefix+"/") {
		return "", false
	}
	u.Path, u.RawPath, u.Fragment, u.RawFragment = clean, "", "", ""
	return u.RequestURI(), true
}

// safeNext is where to go after signing in: next if it is a local /admin
// page other than the sign-in page, else the queue.
func safeNext(next string) string {
	p, ok := localAdminPath(next)
	if !ok || strings.HasPrefix(p, adminPrefix+"/login") {
		return adminPrefix
	}
	return p
}

// wantsJSON reports whether the caller is admin.js asking for JSON.
func wantsJSON(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON)
}

func wantsEventStream(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/event-stream")
}

// adminErrorText words an error for a moderator. The status comes from the
// service's one mapping (errorResponse); only the wording differs from the
// API's.
func adminErrorText(err error) (status int, title, message string, fields map[string]string, retry time.Duration) {
	if errors.Is(err, errCrossSite) {
		return http.StatusForbidden, "Refused",
			"This request was sent from a page of another site, so it was refused. Use the moderation pages on this server.", nil, 0
	}
	if errors.Is(err, errCSRF) {
		return http.StatusForbidden, "This page has expired",
			"This page has expired: its security token is missing or out of date. Reload the page and try again.", nil, 0
	}
	status, body, retry := errorResponse(err)
	switch status {
	case http.StatusNotFound:
		return status, "Not found", "There is nothing here: the comment, site or page does not exist, or it was removed.", nil, 0
	case http.StatusForbidden:
		return status, "No access", "You do not have access to this site. Ask one of its owners or an administrator for a role on it.", nil, 0
	case http.StatusUnauthorized:
		return status, "Signed out", "Your session has ended. Reload the page to sign in again.", nil, 0
	case http.StatusUnprocessableEntity:
		return status, "Please check your input", body.Error, body.Fields, 0
	}
	return status, http.StatusText(status), body.Error, nil, retry
}

// adminErrorMessage words err in one sentence: a field's own message
// rather than "check your input".
func adminErrorMessage(err error) string {
	_, _, msg, fields, _ := adminErrorText(err)
	for _, m := range fields {
		return m
	}
	return msg
}

// adminErrorPage is the data of admin_error.html.
type adminErrorPage struct {
	adminBase
	Status  int
	Message string
	Fields  map[string]string
}

// adminErrors answers the errors of /admin handlers as a page (or, to
// admin.js, as JSON) in the UI's words. Internal errors are logged once,
// here, like the service's error handler does for the API.
func adminErrors(pages *pageRenderer, log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if err == nil || c.Response().Committed {
				return err
			}
			status, title, msg, fields, retry := adminErrorText(err)
			noteFailure(c, log, status, retry, err)
			switch {
			case c.Request().Method == http.MethodHead:
				return c.NoContent(status)
			case wantsJSON(c) || wantsEventStream(c):
				return c.JSON(status, errorBody{Error: msg, Fields: fields})
			}
			base := newAdminBase(c, title, "")
			return pages.render(c, status, "admin_error.html", adminErrorPage{adminBase: base, Status: status, Message: msg, Fields: fields})
		}
	}
}

// adminBase is what every page's layout needs.
type adminBase struct {
	Title   string
	Section string // the navigation entry to mark current: "queue", "sites", "tokens"
	User    string // who is signed in; empty on the sign-in page
	Admin   bool
	CSRF    string
}

func newAdminBase(c echo.Context, title, section string) adminBase {
	p := principal(c)
	return adminBase{Title: title, Section: section, User: p.Name, Admin: p.Admin, CSRF: csrfToken(c)}
}
