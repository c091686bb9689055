package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/web"
)

// submitRequest is what a reader may send. Fields a client may not set
// (status, id, ip, ...) have no place here, so they are ignored.
type submitRequest struct {
	Page      string `json:"page" validate:"required,line,maxbytes=512"`
	PageURL   string `json:"page_url" validate:"omitempty,line,maxbytes=2000,weburl"`
	PageTitle string `json:"page_title" validate:"omitempty,line,maxbytes=500"`
	ParentID  string `json:"parent_id" validate:"omitempty,line,maxbytes=64"`
	Name      string `json:"name" validate:"required,line,maxbytes=245"`
	Email     string `json:"email" validate:"required,line,maxbytes=100,email,mailbox"`
	Website   string `json:"website" validate:"omitempty,line,maxbytes=200,url,weburl"`
	Body      string `json:"body" validate:"required,text,maxbytes=65525"`
	FormToken string `json:"form_token" validate:"omitempty,line,maxbytes=200"`
	// Honeypot is a field the form hides from people; bots fill it in.
	Honeypot string `json:"url" validate:"maxbytes=2000"`
	// NotifyReplies asks for email when a reply is approved (JSON true, or
	// the form's ticked checkbox). Ignored where the site does not offer
	// reply notifications.
	NotifyReplies bool `json:"notify_replies"`
}

// trim removes surrounding white space, so that a field of only spaces
// counts as missing, and completes a website typed without its scheme.
func (r *submitRequest) trim() {
	for _, f := range []*string{&r.Page, &r.PageURL, &r.PageTitle, &r.ParentID, &r.Name, &r.Email, &r.Website, &r.Body, &r.FormToken, &r.Honeypot} {
		*f = strings.TrimSpace(*f)
	}
	r.Website = withScheme(r.Website)
}

func (r *submitRequest) values() web.FormValues {
	return web.FormValues{Page: r.Page, PageURL: r.PageURL, PageTitle: r.PageTitle, ParentID: r.ParentID,
		Name: r.Name, Email: r.Email, Website: r.Website, Body: r.Body, FormToken: r.FormToken,
		NotifyReplies: r.NotifyReplies}
}

// errForeignOrigin refuses a submission that a browser sent from a page on
// neither the site's origins nor this server.
var errForeignOrigin = errors.New("submission from a foreign origin")

// checkOrigin refuses a browser's submission from a page the site does not
// own. CORS keeps foreign pages from reading answers, but a plain form post
// or a simple request still arrives; without this check any web page could
// make its visitors' browsers post comments. Requests without an Origin
// (servers, command-line clients) are not browsers' and pass.
func checkOrigin(c echo.Context, svc *moderation.Service) error {
	origin := c.Request().Header.Get("Origin")
	host := c.Request().Host
	// This server's own pages (the form shown again with its errors); behind
	// a proxy that ends TLS the browser's origin is https while the request
	// here is plain http.
	if origin == "" || origin == "http://"+host || origin == "https://"+host {
		return nil
	}
	site, err := svc.Site(c.Request().Context(), c.Param("site"))
	if err != nil {
		return err
	}
	if !site.AllowsOrigin(origin) {
		return errForeignOrigin
	}
	return nil
}

// handleFormToken answers a signed token for a page's reply form; sent back
// with the submission, it shows how long the form was open.
func handleFormToken(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := threadQuery{Page: strings.TrimSpace(c.QueryParam("page"))}
		if err := check(v, &q); err != nil {
			return err
		}
		token, err := svc.FormToken(c.Request().Context(), c.Param("site"), q.Page)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]string{"token": token})
	}
}

// submitResponse is the 201 answer: the public view (never the email) and
// the status.
type submitResponse struct {
	Comment publicComment `json:"comment"`
	Status  string        `json:"status"`
	Message string        `json:"message"`
}

// maxUserAgentBytes is as much of a User-Agent header as is kept.
const maxUserAgentBytes = 512

// clientIP is the client's address as the IP extractor sees it (the peer,
// or the rightmost untrusted X-Forwarded-For hop), normalised. Anything that
// does not parse as an address falls back to the peer.
func clientIP(c echo.Context) string {
	if a, err := netip.ParseAddr(c.RealIP()); err == nil {
		return a.Unmap().String()
	}
	if ap, err := netip.ParseAddrPort(c.Request().RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return c.Request().RemoteAddr
}

// cleanHeader makes a header value safe to store: valid UTF-8, no control
// characters, at most max bytes (cut on a character boundary).
func cleanHeader(v string, max int) string {
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(v, "\uFFFD"))
	if len(v) <= max {
		return v
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}

// isFormPost reports whether the request is a classic HTML form post.
func isFormPost(c echo.Context) bool {
	if c.Request().Method != http.MethodPost {
		return false
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	return mt == echo.MIMEApplicationForm
}

// decodeSubmit reads a JSON or form submission. A value of the wrong JSON
// type is a field error; undecodable input is a *badRequest.
func decodeSubmit(c echo.Context) (submitRequest, error) {
	var req submitRequest
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON && mt != echo.MIMEApplicationForm {
		return req, errUnsupportedMedia
	}
	raw, err := readBody(c)
	if err != nil {
		return req, err
	}
	if mt == echo.MIMEApplicationForm {
		return req, decodeForm(raw, &req)
	}
	if !utf8.Valid(raw) {
		return req, &badRequest{msg: "The request body is not valid UTF-8."}
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		// Unmarshal fills every other field before reporting a value of the
		// wrong type, so the caller can still check the rest.
		var terr *json.UnmarshalTypeError
		if errors.As(err, &terr) && terr.Field != "" {
			if terr.Field == "notify_replies" {
				return req, comment.Invalid(terr.Field, "This must be true or false.")
			}
			return req, comment.Invalid(terr.Field, "This must be a string.")
		}
		return req, &badRequest{msg: "The request body is not valid JSON."}
	}
	return req, nil
}

// mergeFieldErrors joins two errors that may each be a *comment.ValidationError;
// a message in first wins over one for the same field in second. Any other
// error in first is returned as it is.
func mergeFieldErrors(first, second error) error {
	if first == nil {
		return second
	}
	var a, b *comment.ValidationError
	if !errors.As(first, &a) {
		return first
	}
	if !errors.As(second, &b) {
		return first
	}
	for k, v := range b.Fields {
		if _, ok := a.Fields[k]; !ok {
			a.Fields[k] = v
		}
	}
	return a
}

// decodeForm fills req from an urlencoded body. Only the first value of each
// field counts. A checkbox (a bool field) is unticked when its field is
// absent or "", "0", "false" or "off", and ticked when it is "1", "on" or
// "true" (in any case); any other value is a field error on it, reported
// after every field is filled, as for JSON of the wrong type.
func decodeForm(raw []byte, req *submitRequest) error {
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return &badRequest{msg: "The form data could not be decoded."}
	}
	var bad error
	rv := reflect.ValueOf(req).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if rv.Field(i).Kind() == reflect.Bool {
			switch strings.ToLower(strings.TrimSpace(form.Get(name))) {
			case "", "0", "false", "off":
			case "1", "on", "true":
				rv.Field(i).SetBool(true)
			default:
				if bad == nil {
					bad = comment.Invalid(name, "This must be true or false.")
				}
			}
			continue
		}
		rv.Field(i).SetString(form.Get(name))
	}
	return bad
}

// Idempotency-Key: a client may send one with a submission, so that a retry
// of it (after a lost answer) gets the first answer instead of posting the
// comment twice. The request header names the key; the response header is
// set on such a repeated answer.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	fieldIdempotencyKey  = "idempotency_key"
)

// idempotencyKey returns the request's Idempotency-Key ("" if it has none),
// or a *comment.ValidationError on "idempotency_key" if the header is
// repeated or its value is not a valid key.
func idempotencyKey(h http.Header) (string, error) {
	vs := h.Values(headerIdempotencyKey)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		if err := comment.CheckIdempotencyKey(vs[0]); err != nil {
			return "", err
		}
		return vs[0], nil
	}
	return "", comment.Invalid(fieldIdempotencyKey, "Send one Idempotency-Key header, not several.")
}

// handleSubmit takes a reader's comment. JSON clients get JSON; a classic
// form post is redirected back to the article, or shown its errors beside
// the fields. A request for reply notifications is kept only where offers
// says the site offers them.
func handleSubmit(svc *moderation.Service, v *validator.Validate, pages *pageRenderer, m *httpMetrics, offers replyOffer) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkOrigin(c, svc); err != nil {
			m.countSubmission(c, svc, moderation.Receipt{}, err)
			return err
		}
		req, err := decodeSubmit(c)
		var verr *comment.ValidationError
		key, keyErr := idempotencyKey(c.Request().Header)
		if err == nil || errors.As(err, &verr) {
			req.trim()
			err = mergeFieldErrors(mergeFieldErrors(err, check(v, &req)), keyErr)
		}
		var rec moderation.Receipt
		if err == nil {
			rec, err = svc.Submit(c.Request().Context(), moderation.Submission{
				SiteID:    c.Param("site"),
				PageKey:   req.Page,
				PageURL:   req.PageURL,
				PageTitle: req.PageTitle,
				ParentID:  req.ParentID,
				Name:      req.Name,
				Email:     req.Email,
				Website:   req.Website,
				Body:      req.Body,
				IP:        clientIP(c),
				UserAgent: cleanHeader(c.Request().UserAgent(), maxUserAgentBytes),
				FormToken: req.FormToken,
				Honeypot:  req.Honeypot,

				NotifyReplies:  req.NotifyReplies && offers.by(c.Param("site")),
				IdempotencyKey: key,
			})
		}
		m.countSubmission(c, svc, rec, err)
		if isFormPost(c) {
			return respondToForm(c, svc, pages, req, rec, err, offers)
		}
		if err != nil {
			return err
		}
		if rec.Replayed {
			c.Response().Header().Set(headerReplayed, "true")
		}
		return c.JSON(http.StatusCreated, submitResponse{
			Comment: toPublic(rec.Comment),
			Status:  string(rec.Status),
			Message: statusMessage(rec.Status),
		})
	}
}

func statusMessage(s comment.Status) string {
	if s == comment.StatusApproved {
		return "Your comment is published."
	}
	return "Your comment is awaiting moderation."
}

// respondToForm answers a form post: 303 back to the article (only to one of
// the site's own origins) with the new comment's anchor; or the form again,
// with what the reader typed, and each error beside its field or, for a
// refusal that concerns no field (too fast, server busy), above the form.
func respondToForm(c echo.Context, svc *moderation.Service, pages *pageRenderer, req submitRequest, rec moderation.Receipt, err error, offers replyOffer) error {
	back := ""
	if site, serr := svc.Site(c.Request().Context(), c.Param("site")); serr == nil {
		back = site.ReturnURL(req.PageURL)
	}
	if err == nil {
		if back != "" {
			return c.Redirect(http.StatusSeeOther, back+"#comment-"+rec.Comment.ID)
		}
		return pages.render(c, http.StatusCreated, "message.html", messagePage{
			Title:   "Thank you for your comment",
			Message: statusMessage(rec.Status),
		})
	}
	status, body, retry := errorResponse(err)
	if status >= 500 && status != http.StatusServiceUnavailable {
		return err // the error handler logs it and answers with a plain page
	}
	setRetryAfter(c, retry)
	page := formPage{BackURL: back, Form: web.Form{Action: c.Request().URL.Path, Values: req.values(), Errors: body.Fields,
		OffersReplies: offers.by(c.Param("site"))}}
	if len(body.Fields) == 0 {
		page.Message = body.Error
	} else if msg, ok := body.Fields[fieldIdempotencyKey]; ok {
		page.Message = msg // the form has no field to show it beside
	}
	return pages.render(c, status, "form.html", page)
}

// formPage is the data of form.html.
type formPage struct {
	BackURL string
	Message string // a refusal that concerns no single field
	Form    web.Form
}

// publicComment is the JSON of a comment anyone may see. It has no email,
// IP or user-agent field.
type publicComment struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parent_id"`
	Author    publicAuthor    `json:"author"`
	BodyHTML  string          `json:"body_html"`
	CreatedAt time.Time       `json:"created_at"`
	Replies   []publicComment `json:"replies"`
}

type publicAuthor struct {
	Name    string `json:"name"`
	Website string `json:"website,omitempty"`
}

func toPublic(p *comment.Public) publicComment {
	out := publicComment{
		ID:        p.ID,
		Author:    publicAuthor{Name: p.Author.Name, Website: p.Author.Website},
		BodyHTML:  p.BodyHTML,
		CreatedAt: p.CreatedAt,
		Replies:   make([]publicComment, 0, len(p.Replies)),
	}
	if p.ParentID != "" {
		id := p.ParentID
		out.ParentID = &id
	}
	for _, r := range p.Replies {
		out.Replies = append(out.Replies, toPublic(r))
	}
	return out
}
