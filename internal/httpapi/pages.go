package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/web"
)

// demoSite is the site whose sample articles make run shows.
const demoSite = "demo"

// demoArticle is one sample article of the demo site; its text is in
// demo.html.
type demoArticle struct {
	Path, Title, Kicker, Date string
}

// demoArticles are the demo site's articles, the first at /demo/.
func demoArticles() []demoArticle {
	return []demoArticle{
		{Path: "/demo/", Title: "Volunteers reopen the old towpath along the Mere canal", Kicker: "Local news · 3 min read", Date: "November 2, 2026"},
		{Path: "/demo/heronry/", Title: "A record spring for the herons below the lock", Kicker: "Nature · 2 min read", Date: "October 19, 2026"},
		{Path: "/demo/orchard/", Title: "Forty-two kinds of apple at the wharf orchard's first apple day", Kicker: "Community · 2 min read", Date: "October 5, 2026"},
	}
}

type demoData struct {
	Site     string
	Article  demoArticle
	Articles []demoArticle
	Thread   web.Thread
	Script   web.Script
}

// handleDemo serves a sample article of the demo site as a site would: the
// comment section rendered on the server inside <div id="commentd"> (so
// it works without JavaScript and is indexed with the article), the one
// script tag that enhances it, and a list of articles with their comment
// counts.
func handleDemo(svc *moderation.Service, reads *threads, pages *pageRenderer, offers replyOffer) echo.HandlerFunc {
	return func(c echo.Context) error {
		articles := demoArticles()
		i := slices.IndexFunc(articles, func(a demoArticle) bool { return a.Path == c.Request().URL.Path })
		if i < 0 {
			return comment.ErrNotFound
		}
		a := articles[i]
		q := sectionQuery{
			Page:      a.Path,
			PageURL:   requestScheme(c) + "://" + c.Request().Host + a.Path,
			PageTitle: a.Title,
			ReplyTo:   c.QueryParam("replytocom"),
		}
		section, err := threadSection(c.Request().Context(), svc, reads, demoSite, q, "", offers)
		if err != nil {
			return err
		}
		return pages.render(c, http.StatusOK, "demo.html", demoData{
			Site: demoSite, Article: a, Articles: articles, Thread: section, Script: pages.script,
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
	Status  string                 `json:"status"`
	Checks  map[string]string      `json:"checks,omitempty"`
	Pending map[string]PendingSite `json:"pending,omitempty"`
}

func handleHealth() echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, healthResponse{Status: "ok"})
	}
}

// handleReady answers 200 when every dependency answers and 503 otherwise,
// naming which one failed but not how (details go to the log). When the
// dependencies answer it adds each site's moderation backlog (pending); a
// comment waiting past the warning age turns the status to "warn", still
// with 200: a backlog needs moderators, not another instance, so a load
// balancer must keep sending traffic. A backlog that cannot be read is
// left out and logged.
func handleReady(ready ReadinessCheck, pending PendingCheck, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		out := healthResponse{Status: "ok", Checks: map[string]string{}}
		status := http.StatusOK
		var errs []error
		var checks map[string]error
		if ready != nil {
			checks = ready(ctx)
		}
		for name, err := range checks {
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
		if pending != nil && len(errs) == 0 {
			backlog, err := pending(ctx)
			if err != nil {
				log.LogAttrs(c.Request().Context(), slog.LevelWarn, "moderation backlog unknown", slog.String("err", err.Error()))
			}
			for _, p := range backlog {
				if p.Overdue > 0 {
					out.Status = "warn"
				}
			}
			out.Pending = backlog
		}
		return c.JSON(status, out)
	}
}
