package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/web"
)

// addRoutes lists every route the service answers.
func addRoutes(e *echo.Echo, svc *moderation.Service, auth Authenticator, v *validator.Validate, pages *pageRenderer, opt Options) {
	e.Use(middleware.RequestID())
	e.Use(requestLogger(opt.Logger))
	e.Use(middleware.Recover())
	e.Use(securityHeaders())
	e.Use(middleware.BodyLimit(strconv.Itoa(bodyLimit) + "B"))

	// Health.
	e.GET("/healthz", handleHealth())
	e.GET("/readyz", handleReady(opt.Ready))
	if opt.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(opt.Metrics))
	}

	// Public API: no authentication, CORS for each site's own origins.
	public := e.Group("/api/v1/sites/:site", siteCORS(svc))
	public.POST("/comments", handleSubmit(svc, v, pages))
	public.GET("/comments", handleThread(svc, v))
	public.GET("/counts", handleCounts(svc, v))
	public.OPTIONS("/comments", handlePreflight())
	public.OPTIONS("/counts", handlePreflight())

	// Moderation API: bearer token.
	mod := e.Group("/api/v1/moderation", requireToken(auth))
	mod.GET("/comments", handleQueue(svc, v))
	mod.GET("/comments/:id", handleGetComment(svc))
	mod.POST("/comments/:id/approve", handleAction(svc, moderation.ActionApprove))
	mod.POST("/comments/:id/reject", handleAction(svc, moderation.ActionReject))
	mod.POST("/comments/:id/spam", handleAction(svc, moderation.ActionSpam))

	// Pages and assets.
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/demo/") })
	e.GET("/demo/", handleDemo(svc, pages))
	e.GET("/static/*", echo.WrapHandler(staticFiles(24*time.Hour)))
}

// staticFiles serves the embedded assets with a cache lifetime.
func staticFiles(maxAge time.Duration) http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(web.Static()))
	cache := "public, max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cache)
		files.ServeHTTP(w, r)
	})
}
