package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/threadcache"
)

// maxCountPages is how many pages one counts request may ask about.
const maxCountPages = 100

type threadQuery struct {
	Page string `json:"page" validate:"required,line,maxbytes=512"`
}

type threadResponse struct {
	Page     string          `json:"page"`
	Total    int             `json:"total"`
	Comments []publicComment `json:"comments"`
}

// threads answers threads and counts from the cache when it holds them,
// and from the use cases (filling the cache) when it does not.
type threads struct {
	svc   *moderation.Service
	cache *threadcache.Cache // nil: no caching
	// control is the Cache-Control of thread and count answers.
	control string
}

func newThreads(svc *moderation.Service, cache *threadcache.Cache, sharedMaxAge time.Duration) *threads {
	control := "no-cache"
	if sharedMaxAge > 0 {
		// Browsers revalidate every time (a 304 is cheap); shared caches
		// such as a CDN may hold the answer for the configured time.
		control = "public, max-age=0, s-maxage=" + strconv.Itoa(int(sharedMaxAge/time.Second))
	}
	return &threads{svc: svc, cache: cache, control: control}
}

// thread returns a page's thread with its JSON encoding and entity tag.
// Errors: comment.ErrNotFound for an unknown site.
func (r *threads) thread(ctx context.Context, siteID, pageKey string) (*threadcache.Entry, error) {
	if r.cache != nil {
		if e, ok := r.cache.Get(siteID, pageKey, true); ok {
			return e, nil
		}
	}
	var fill threadcache.Fill
	if r.cache != nil {
		fill = r.cache.Begin(siteID, pageKey)
	}
	t, err := r.svc.Thread(ctx, siteID, pageKey)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(threadResponse{Page: t.PageKey, Total: t.Total, Comments: toPublicList(t.Comments)})
	if err != nil {
		return nil, fmt.Errorf("encode thread of page %q: %w", pageKey, err)
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	e := threadcache.Entry{
		Thread: t, Total: t.Total, Complete: true,
		JSON: body, ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
	}
	if r.cache != nil {
		r.cache.Put(fill, e)
	}
	return &e, nil
}

// counts returns the approved count of each page. Errors:
// comment.ErrNotFound for an unknown site (when any page had to be counted).
func (r *threads) counts(ctx context.Context, siteID string, pageKeys []string) (map[string]int, error) {
	out := make(map[string]int, len(pageKeys))
	missing := pageKeys
	if r.cache != nil {
		missing = missing[:0:0]
		for _, k := range pageKeys {
			if e, ok := r.cache.Get(siteID, k, false); ok {
				out[k] = e.Total
				continue
			}
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	fills := make([]threadcache.Fill, len(missing))
	if r.cache != nil {
		for i, k := range missing {
			fills[i] = r.cache.Begin(siteID, k)
		}
	}
	counted, err := r.svc.Counts(ctx, siteID, missing)
	if err != nil {
		return nil, err
	}
	for i, k := range missing {
		out[k] = counted[k]
		if r.cache != nil {
			r.cache.Put(fills[i], threadcache.Entry{Total: counted[k]})
		}
	}
	return out, nil
}

// handleThread answers a page's approved comments as a tree, with a strong
// ETag; a request whose If-None-Match names it gets 304.
func handleThread(r *threads, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := threadQuery{Page: strings.TrimSpace(c.QueryParam("page"))}
		if err := check(v, &q); err != nil {
			return err
		}
		e, err := r.thread(c.Request().Context(), c.Param("site"), q.Page)
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("Cache-Control", r.control)
		h.Set("ETag", e.ETag)
		if etagMatches(c.Request().Header.Get("If-None-Match"), e.ETag) {
			return c.NoContent(http.StatusNotModified)
		}
		// With its length known, the answer goes out whole rather than
		// in chunks.
		h.Set(echo.HeaderContentLength, strconv.Itoa(len(e.JSON)))
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, e.JSON)
	}
}

// etagMatches reports whether an If-None-Match header names tag. The
// comparison is the weak one RFC 9110 prescribes for If-None-Match.
func etagMatches(header, tag string) bool {
	if header == "" {
		return false
	}
	tag = strings.TrimPrefix(tag, "W/")
	for candidate := range strings.SplitSeq(header, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == tag {
			return true
		}
	}
	return false
}

func toPublicList(list []*comment.Public) []publicComment {
	out := make([]publicComment, 0, len(list))
	for _, p := range list {
		out = append(out, toPublic(p))
	}
	return out
}

type countsQuery struct {
	Page string `json:"page" validate:"required,line,maxbytes=512"`
}

type countsResponse struct {
	Counts map[string]int `json:"counts"`
}

// handleCounts answers the approved count of each page asked for
// (?page=A&page=B, at most maxCountPages).
func handleCounts(r *threads, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		pages := c.QueryParams()["page"]
		switch {
		case len(pages) == 0:
			return comment.Invalid("page", "Name at least one page: ?page=KEY&page=KEY2.")
		case len(pages) > maxCountPages:
			return comment.Invalid("page", "At most 100 pages can be counted in one request.")
		}
		for i, p := range pages {
			pages[i] = strings.TrimSpace(p)
			if err := check(v, &countsQuery{Page: pages[i]}); err != nil {
				return err
			}
		}
		counts, err := r.counts(c.Request().Context(), c.Param("site"), pages)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", r.control)
		return c.JSON(http.StatusOK, countsResponse{Counts: counts})
	}
}
