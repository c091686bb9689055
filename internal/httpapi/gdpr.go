package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/threadcache"
)

// PrivacyStore is what the readers' data routes need (see
// comment.PrivacyStore).
type PrivacyStore interface {
	comment.PrivacyStore
}

// requireAdmin lets only administrators through; it runs after
// requireToken.
func requireAdmin() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principal(c).Admin {
				return comment.ErrForbidden
			}
			return next(c)
		}
	}
}

// auditActor names the caller in the audit log: the user's id, or the name
// of a token from the configuration.
func auditActor(p comment.Principal) string {
	if p.UserID != "" {
		return p.UserID
	}
	return "token:" + p.Name
}

// gdprExportRequest is the body of POST /api/v1/admin/gdpr/export. The
// address travels in the body, not the URL, so that it stays out of proxies'
// access logs.
type gdprExportRequest struct {
	Email string `json:"email"`
}

// handleGDPRExport answers POST /api/v1/admin/gdpr/export with everything
// stored about the email (see comment.PersonalData), and audits it.
func handleGDPRExport(store PrivacyStore, key []byte, now func() time.Time, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req gdprExportRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		ctx := c.Request().Context()
		d, err := comment.ExportPersonalData(ctx, store, key, auditActor(principal(c)), now().UTC(), req.Email)
		if err != nil {
			return err
		}
		log.LogAttrs(ctx, slog.LevelInfo, "personal data exported", slog.String("actor", auditActor(principal(c))),
			slog.String("subject", comment.EmailSubject(key, req.Email)), slog.Int("comments", len(d.Comments)))
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, d)
	}
}

// gdprEraseRequest is the body of POST /api/v1/admin/gdpr/erase.
type gdprEraseRequest struct {
	Email    string `json:"email"`
	Comments string `json:"comments"` // "keep" (the default) or "delete"
}

// handleGDPRErase answers POST /api/v1/admin/gdpr/erase: it erases the
// email's personal data (see comment.PrivacyStore.ErasePersonalData) and
// returns what changed. Cached threads of the pages whose comments were
// deleted are dropped here and, through the cache, on the other instances.
func handleGDPRErase(store PrivacyStore, key []byte, threads *threadcache.Cache, now func() time.Time, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req gdprEraseRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if req.Comments == "" {
			req.Comments = "keep"
		}
		if req.Comments != "keep" && req.Comments != "delete" {
			return comment.Invalid("comments", `Choose "keep" or "delete".`)
		}
		ctx := c.Request().Context()
		actor := auditActor(principal(c))
		sum, err := comment.ErasePersonalData(ctx, store, key, actor, now().UTC(), req.Email, req.Comments == "delete")
		if err != nil {
			return err
		}
		for _, p := range sum.Pages {
			threads.Changed(ctx, p.SiteID, p.Key)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "personal data erased", slog.String("actor", actor),
			slog.String("subject", comment.EmailSubject(key, req.Email)), slog.Int("scrubbed", sum.Scrubbed),
			slog.Int("deleted", sum.Deleted), slog.Int("tombstoned", sum.Tombstoned), slog.Int("list_entries", sum.ListEntries))
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, sum)
	}
}
