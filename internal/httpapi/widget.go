package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/web"
)

// The comment section of article pages: the server-rendered fragment that a
// site includes in its pages (or that embed.js fetches), and the script.

// sectionQuery describes the page a comment section is drawn for.
type sectionQuery struct {
	Page      string `json:"page" validate:"required,line,maxbytes=512"`
	PageURL   string `json:"page_url" validate:"omitempty,line,maxbytes=2000,weburl"`
	PageTitle string `json:"page_title" validate:"omitempty,line,maxbytes=500"`
	// ReplyTo is the comment the reader chose to reply to by following a
	// "Reply" link without JavaScript (?replytocom=ID, as in WordPress).
	ReplyTo string `json:"replytocom" validate:"omitempty,line,maxbytes=64"`
}

// respondAnchor is the id of the element around the reply form.
const respondAnchor = "commentd-respond"

// handleThreadSection answers a page's comment section as an HTML fragment:
// the count heading, the approved comments with replies nested and the
// reply form with a fresh form token, posting to this server's classic form
// endpoint, so that it works without JavaScript. base is this server's
// public URL, or "" to derive it from each request.
func handleThreadSection(svc *moderation.Service, reads *threads, v *validator.Validate, pages *pageRenderer, base string, offers replyOffer) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := sectionQuery{
			Page:      strings.TrimSpace(c.QueryParam("page")),
			PageURL:   strings.TrimSpace(c.QueryParam("page_url")),
			PageTitle: strings.TrimSpace(c.QueryParam("page_title")),
			ReplyTo:   strings.TrimSpace(c.QueryParam("replytocom")),
		}
		if err := check(v, &q); err != nil {
			return err
		}
		section, err := threadSection(c.Request().Context(), svc, reads, c.Param("site"), q, baseURL(c, base), offers)
		if err != nil {
			return err
		}
		// The fragment carries a form token made for this request: no cache
		// may hand it to someone else (pages.render says no-store).
		return pages.render(c, http.StatusOK, "thread", section)
	}
}

// threadSection gathers what the thread template draws. base prefixes the
// form's action and the stylesheet: "" on commentd's own pages, the public
// URL of commentd in a fragment for other sites. The form has the "notify
// me of replies" box where offers says the site offers it. Errors:
// comment.ErrNotFound for an unknown site.
func threadSection(ctx context.Context, svc *moderation.Service, reads *threads, siteID string, q sectionQuery, base string, offers replyOffer) (web.Thread, error) {
	site, err := svc.Site(ctx, siteID)
	if err != nil {
		return web.Thread{}, fmt.Errorf("site %q: %w", siteID, err)
	}
	e, err := reads.thread(ctx, siteID, q.Page)
	if err != nil {
		return web.Thread{}, err
	}
	t := e.Thread
	token, err := svc.FormToken(ctx, siteID, q.Page)
	if err != nil {
		return web.Thread{}, err
	}
	// Links back to the article are absolute only when the page's address
	// is on one of the site's origins; otherwise they are relative to
	// whatever page the section is shown on.
	article := site.ReturnURL(q.PageURL)
	comments := threadComments(t.Comments, 1, article)
	form := web.Form{
		Action:    base + "/api/v1/sites/" + url.PathEscape(siteID) + "/comments",
		Values:    web.FormValues{Page: q.Page, PageURL: q.PageURL, PageTitle: q.PageTitle, FormToken: token},
		Embedded:  true,
		CancelURL: withReplyTo(article, ""),

		OffersReplies: offers.by(siteID),
	}
	if parent, ok := findComment(comments, q.ReplyTo); ok && parent.ReplyURL != "" {
		form.Values.ParentID, form.ReplyTo = parent.ID, parent.Name
	}
	return web.Thread{
		Base:     base,
		Site:     siteID,
		Page:     q.Page,
		Total:    t.Total,
		Comments: comments,
		Form:     form,
		Pending:  web.Comment{Pending: true},
	}, nil
}

// threadComments converts public views at the given depth (1: top level)
// for the thread template. A website becomes a link only if it is an
// absolute http(s) URL; a comment at the deepest level gets no Reply link,
// since a reply to it would be refused.
func threadComments(list []*comment.Public, depth int, article string) []web.Comment {
	out := make([]web.Comment, 0, len(list))
	for _, p := range list {
		wc := web.Comment{
			ID:        p.ID,
			Name:      p.Author.Name,
			Website:   webLink(p.Author.Website),
			BodyHTML:  p.BodyHTML,
			CreatedAt: p.CreatedAt,
			Replies:   threadComments(p.Replies, depth+1, article),
		}
		if depth < comment.MaxDepth {
			wc.ReplyURL = withReplyTo(article, p.ID)
		}
		out = append(out, wc)
	}
	return out
}

// findComment looks for the comment id in a thread.
func findComment(list []web.Comment, id string) (web.Comment, bool) {
	if id == "" {
		return web.Comment{}, false
	}
	for _, c := range list {
		if c.ID == id {
			return c, true
		}
		if found, ok := findComment(c.Replies, id); ok {
			return found, true
		}
	}
	return web.Comment{}, false
}

// baseURL is the configured public URL of this server or, without one, the
// scheme and host this request came to.
func baseURL(c echo.Context, configured string) string {
	if configured != "" {
		return strings.TrimSuffix(configured, "/")
	}
	return requestScheme(c) + "://" + c.Request().Host
}

// webLink returns s if it is an absolute http(s) URL with a host, and ""
// otherwise: an author's website never becomes a javascript: or data: link,
// whatever was stored.
func webLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// withReplyTo is the article's address with ?replytocom=id (or without
// it, for id "") pointing at the reply form. With no known article address
// it is relative, so it stays on the page that shows the section.
func withReplyTo(article, id string) string {
	if article == "" {
		if id == "" {
			return "?#" + respondAnchor
		}
		return "?replytocom=" + url.QueryEscape(id) + "#" + respondAnchor
	}
	u, err := url.Parse(article)
	if err != nil {
		return withReplyTo("", id)
	}
	q := u.Query()
	q.Del("replytocom")
	if id != "" {
		q.Set("replytocom", id)
	}
	u.RawQuery = q.Encode()
	u.Fragment = respondAnchor
	return u.String()
}

// Cache lifetimes of the embed script: its content-addressed name never
// changes meaning; the stable /embed.js is checked again after a few
// minutes, so that a release reaches article pages soon.
const (
	immutableCache = "public, max-age=31536000, immutable"
	stableCache    = "public, max-age=300, stale-while-revalidate=3600"
)

// handleEmbedScript serves embed.js. With hashed set, it answers only under
// the script's content-addressed name (/embed.<hash>.js, the route's
// "name" parameter holding "<hash>.js") and may be cached for good; a name
// from another release is not found. Any site may load the script, with
// Subresource Integrity too (which needs CORS), so it is shared with every
// origin; it carries no data.
func handleEmbedScript(s web.Script, hashed bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		cache := stableCache
		if hashed {
			if "embed."+c.Param("name") != s.File {
				return comment.ErrNotFound
			}
			cache = immutableCache
		}
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, "text/javascript; charset=utf-8")
		h.Set("Cache-Control", cache)
		h.Set("ETag", s.ETag)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(s.Body))
		return nil
	}
}

// embedInfo tells a site owner what to paste into their pages.
type embedInfo struct {
	Src       string `json:"src"`        // content-addressed; pair it with integrity
	Integrity string `json:"integrity"`  // Subresource Integrity of src
	StableSrc string `json:"stable_src"` // always the current release, no integrity
	HTML      string `json:"html"`       // the tags for ?site=S
}

// handleEmbedInfo answers the script's addresses and integrity value, and
// the tags to paste for the site named by ?site= (a placeholder without).
func handleEmbedInfo(s web.Script, base string) echo.HandlerFunc {
	return func(c echo.Context) error {
		site := strings.TrimSpace(c.QueryParam("site"))
		if site == "" {
			site = "SITE"
		}
		b := baseURL(c, base)
		src := b + "/" + s.File
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.JSON(http.StatusOK, embedInfo{
			Src:       src,
			Integrity: s.Integrity,
			StableSrc: b + "/embed.js",
			HTML: `<div id="commentd"></div>` + "\n" +
				`<script src="` + html.EscapeString(src) + `" integrity="` + s.Integrity + `" crossorigin="anonymous" data-site="` + html.EscapeString(site) + `" async></script>`,
		})
	}
}
