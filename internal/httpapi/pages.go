package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/web"
)

// demoSite and demoPage identify the sample article that make run shows.
const (
	demoSite  = "demo"
	demoPage  = "/demo/"
	demoTitle = "Volunteers reopen the old towpath along the Mere canal"
)

type demoData struct {
	Title  string
	Thread comment.Thread
	Form   web.Form
}

// handleDemo serves a sample article of the demo site with its approved
// comments and the reply form, rendered on the server (no JavaScript).
func handleDemo(svc *moderation.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := svc.Thread(c.Request().Context(), demoSite, demoPage)
		if err != nil {
			return err
		}
		token, err := svc.FormToken(c.Request().Context(), demoSite, demoPage)
		if err != nil {
			return err
		}
		return pages.render(c, http.StatusOK, "demo.html", demoData{
			Title:  demoTitle,
			Thread: t,
			Form: web.Form{
				Action: "/api/v1/sites/" + demoSite + "/comments",
				Values: web.FormValues{Page: demoPage, PageURL: requestScheme(c) + "://" + c.Request().Host + demoPage, PageTitle: demoTitle, FormToken: token},
			},
		})
	}
}

// requestScheme is the scheme of this connection. Unlike Echo's Scheme, it
// does not believe X-Forwarded-Proto, which anyone can send.
func requestScheme(c echo.Context) string {
	if c.Request().TLS != nil {
		return "https"
	}
	return "http"
}

type healthResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func handleHealth() echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, healthResponse{Status: "ok"})
	}
}

// handleReady answers 200 when every dependency answers and 503 otherwise,
// naming which one failed but not how (details go to the log).
func handleReady(ready ReadinessCheck, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ready == nil {
			return c.JSON(http.StatusOK, healthResponse{Status: "ok"})
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		out := healthResponse{Status: "ok", Checks: map[string]string{}}
		status := http.StatusOK
		var errs []error
		for name, err := range ready(ctx) {
			if err != nil {
				out.Checks[name] = "unavailable"
				out.Status = "unavailable"
				status = http.StatusServiceUnavailable
				errs = append(errs, err)
				continue
			}
			out.Checks[name] = "ok"
		}
		if len(errs) > 0 {
			log.LogAttrs(c.Request().Context(), slog.LevelWarn, "not ready", slog.String("err", errors.Join(errs...).Error()))
		}
		return c.JSON(status, out)
	}
}
