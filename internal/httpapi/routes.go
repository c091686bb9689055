package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/commentd/commentd/internal/notify"
	"github.com/commentd/commentd/internal/web"
)

// addRoutes lists every route the service answers.
func addRoutes(e *echo.Echo, d Deps, v *validator.Validate, pages *pageRenderer, opt Options, m *httpMetrics) {
	svc, accounts := d.Moderation, d.Accounts
	reads := newThreads(svc, d.Threads, opt.SharedMaxAge)
	e.Use(m.measure())
	e.Use(middleware.RequestID())
	e.Use(requestIDContext())
	e.Use(requestLogger(opt.Logger))
	e.Use(recoverer(opt.Logger))
	e.Use(securityHeaders())
	e.Use(middleware.BodyLimit(strconv.Itoa(bodyLimit) + "B"))
	e.Use(refuseEncodedBodies())

	// Health.
	getHead(e, "/healthz", handleHealth())
	getHead(e, "/readyz", handleReady(opt.Ready, opt.Pending, opt.Logger))
	if opt.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(opt.Metrics))
	}

	// Public API: no authentication, CORS for each site's own origins.
	public := e.Group("/api/v1/sites/:site", siteCORS(svc))
	offers := replyOffer(d.OffersReplies)
	public.POST("/comments", handleSubmit(svc, v, pages, m, offers))
	getHead(public, "/comments", handleThread(reads, v))
	getHead(public, "/counts", handleCounts(reads, v))
	public.GET("/form-token", handleFormToken(svc, v))
	public.OPTIONS("/form-token", handlePreflight())
	public.OPTIONS("/comments", handlePreflight())
	public.OPTIONS("/counts", handlePreflight())

	// The comment section of article pages: the server-rendered fragment
	// (CORS for the site's origins, like the API) and the script that
	// enhances or fetches it, under a stable and a content-addressed name.
	section := e.Group("/sites/:site", siteCORS(svc))
	getHead(section, "/thread", handleThreadSection(svc, reads, v, pages, opt.PublicURL, offers))
	section.OPTIONS("/thread", handlePreflight())
	getHead(e, "/embed.js", handleEmbedScript(pages.script, false))
	getHead(e, "/embed.:name", handleEmbedScript(pages.script, true))
	getHead(e, "/embed.json", handleEmbedInfo(pages.script, opt.PublicURL))

	// Moderation API: bearer token (a user's API token or a configured one).
	mod := e.Group("/api/v1/moderation", requireToken(accounts))
	mod.GET("/comments", handleQueue(svc, v))
	mod.POST("/comments/bulk", handleBulk(svc, opt.Logger))
	mod.GET("/comments/:id", handleGetComment(svc))
	mod.PATCH("/comments/:id", handleEdit(svc, v))
	mod.POST("/comments/:id/:action", handleAction(svc))
	mod.GET("/events", handleEvents(d.Events, bearerPrincipal(accounts), opt.Stop, opt.Heartbeat))
	mod.GET("/sites/:site/lists", handleSiteLists(svc))
	mod.GET("/sites/:site/members", handleMembers(accounts))
	mod.PUT("/sites/:site/members", handleGrant(accounts))
	mod.DELETE("/sites/:site/members/:user", handleRevokeMember(accounts))

	// A site's spam rules: owners and admins.
	rules := e.Group("/api/v1/sites/:site/rules", requireToken(accounts))
	rules.GET("", handleGetRules(svc))
	rules.PUT("", handlePutRules(svc))
	rules.GET("/hits", handleRuleHits(svc))
	rules.POST("/test", handleTestRules(svc, v))

	// The caller's own API tokens.
	tokens := e.Group("/api/v1/tokens", requireToken(accounts))
	tokens.GET("", handleListTokens(accounts))
	tokens.POST("", handleCreateToken(accounts))
	tokens.DELETE("/:id", handleRevokeToken(accounts))

	// Readers' personal data: administrators only, every call audited.
	if d.Privacy != nil {
		gdpr := e.Group("/api/v1/admin/gdpr", requireToken(accounts), requireAdmin())
		gdpr.POST("/export", handleGDPRExport(d.Privacy, d.Secret, time.Now, opt.Logger))
		gdpr.POST("/erase", handleGDPRErase(d.Privacy, d.Secret, d.Threads, time.Now, opt.Logger))
	}

	// Readers' links from notification emails: confirm an address for
	// reply notifications, stop them (RFC 8058 one-click included). No
	// cookie or CSRF token: the token in the link is the authority.
	if d.Readers != nil {
		readers := e.Group("/notify", readerPageHeaders())
		getHead(readers, "/confirm", handleReaderPage(d.Readers, svc, d.Secret, pages, notify.PurposeConfirm, time.Now, opt.Logger))
		readers.POST("/confirm", handleReaderAction(d.Readers, svc, d.Secret, pages, notify.PurposeConfirm, time.Now, opt.Logger))
		getHead(readers, "/unsubscribe", handleReaderPage(d.Readers, svc, d.Secret, pages, notify.PurposeUnsubscribe, time.Now, opt.Logger))
		readers.POST("/unsubscribe", handleReaderAction(d.Readers, svc, d.Secret, pages, notify.PurposeUnsubscribe, time.Now, opt.Logger))
	}

	// Moderator web UI: server-rendered pages (admin*.go). Every request
	// gets the UI's headers and error pages and, when it changes anything,
	// a CSRF check (sign-in included); all but sign-in/out need a session.
	admin := e.Group(adminPrefix, adminHeaders(), adminErrors(pages, opt.Logger), adminCSRF(opt.SecureCookies, opt.PublicURL))
	getHead(admin, "/login", handleAdminLoginForm(accounts, pages))
	admin.POST("/login", handleAdminLogin(accounts, pages, opt.SecureCookies))
	admin.POST("/logout", handleAdminLogout(accounts, opt.SecureCookies))
	ui := admin.Group("", requireSession(accounts, opt.SecureCookies))
	getHead(ui, "", handleAdminQueue(svc, v, pages))
	getHead(ui, "/", handleAdminQueue(svc, v, pages))
	getHead(ui, "/queue", handleAdminQueue(svc, v, pages))
	ui.GET("/events", handleEvents(d.Events, sessionPrincipal(accounts), opt.Stop, opt.Heartbeat))
	ui.POST("/comments/bulk", handleAdminBulk(svc))
	getHead(ui, "/comments/:id", handleAdminComment(svc, pages))
	getHead(ui, "/comments/:id/card", handleAdminCard(svc, pages))
	ui.POST("/comments/:id/edit", handleAdminEdit(svc, v, pages))
	ui.POST("/comments/:id/:action", handleAdminAction(svc))
	getHead(ui, "/sites", handleAdminSites(svc, pages))
	getHead(ui, "/sites/:site", handleAdminSite(svc, accounts, pages))
	ui.POST("/sites/:site/members", handleAdminGrant(svc, accounts, pages))
	ui.POST("/sites/:site/members/:user/remove", handleAdminRevoke(accounts))
	getHead(ui, "/sites/:site/rules", handleAdminRules(svc, pages))
	ui.POST("/sites/:site/rules", handleAdminSaveRules(svc, pages))
	ui.POST("/sites/:site/rules/test", handleAdminTestRules(svc, v, pages))
	getHead(ui, "/tokens", handleAdminTokens(accounts, pages))
	ui.POST("/tokens", handleAdminCreateToken(accounts, pages))
	ui.POST("/tokens/:id/revoke", handleAdminRevokeToken(accounts))

	// Pages and assets.
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/demo/") })
	demo := e.Group("/demo", allowOwnScripts())
	getHead(demo, "/", handleDemo(svc, reads, pages, offers))
	getHead(demo, "/:article/", handleDemo(svc, reads, pages, offers))
	getHead(e, "/static/*", echo.WrapHandler(staticFiles(24*time.Hour)))
}

// router is what getHead adds routes to: the server or a group.
type router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	HEAD(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// getHead routes both GET and HEAD to h (Echo does not answer HEAD by
// itself; load balancers probe with it). net/http drops the body of a HEAD
// answer.
func getHead(r router, path string, h echo.HandlerFunc) {
	r.GET(path, h)
	r.HEAD(path, h)
}

// staticFiles serves the embedded assets with a cache lifetime. Directories
// are not listed.
func staticFiles(maxAge time.Duration) http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(web.Static()))
	cache := "public, max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", cache)
		files.ServeHTTP(w, r)
	})
}
