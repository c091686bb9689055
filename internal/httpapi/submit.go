package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
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
}

// trim removes surrounding white space, so that a field of only spaces
// counts as missing, and completes a website typed without its scheme.
func (r *submitRequest) trim() {
	for _, f := range []*string{&r.Page, &r.PageURL, &r.PageTitle, &r.ParentID, &r.Name, &r.Email, &r.Website, &r.Body} {
		*f = strings.TrimSpace(*f)
	}
	r.Website = withScheme(r.Website)
}

func (r *submitRequest) values() web.FormValues {
	return web.FormValues{Page: r.Page, PageURL: r.PageURL, PageTitle: r.PageTitle, ParentID: r.ParentID,
		Name: r.Name, Email: r.Email, Website: r.Website, Body: r.Body}
}

// submitResponse is the 201 answer: the public view (never the email) and
// the status.
type submitResponse struct {
	Comment publicComment `json:"comment"`
	Status  string        `json:"status"`
	Message string        `json:"message"`
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
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return req, err // the body limit's 413, or a broken connection
	}
	if mt == echo.MIMEApplicationForm {
		return req, decodeForm(raw, &req)
	}
	if !utf8.Valid(raw) {
		return req, &badRequest{msg: "The request body is not valid UTF-8."}
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		var terr *json.UnmarshalTypeError
		if errors.As(err, &terr) && terr.Field != "" {
			return req, comment.Invalid(terr.Field, "This must be a string.")
		}
		return req, &badRequest{msg: "The request body is not valid JSON."}
	}
	return req, nil
}

// decodeForm fills req from an urlencoded body. Only the first value of each
// field counts.
func decodeForm(raw []byte, req *submitRequest) error {
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return &badRequest{msg: "The form data could not be decoded."}
	}
	rv := reflect.ValueOf(req).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		rv.Field(i).SetString(form.Get(name))
	}
	return nil
}

// handleSubmit takes a reader's comment. JSON clients get JSON; a classic
// form post is redirected back to the article, or shown its errors beside
// the fields.
func handleSubmit(svc *moderation.Service, v *validator.Validate, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, err := decodeSubmit(c)
		if err == nil {
			req.trim()
			err = check(v, &req)
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
				IP:        c.RealIP(),
				UserAgent: c.Request().UserAgent(),
			})
		}
		if isFormPost(c) {
			return respondToForm(c, svc, pages, req, rec, err)
		}
		if err != nil {
			return err
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
// the site's own origins) with the new comment's anchor; the form again with
// each error beside its field; or a plain page for anything else.
func respondToForm(c echo.Context, svc *moderation.Service, pages *pageRenderer, req submitRequest, rec moderation.Receipt, err error) error {
	back := ""
	if site, serr := svc.Site(c.Request().Context(), c.Param("site")); serr == nil {
		back = safeReturnURL(site, req.PageURL)
	}
	var verr *comment.ValidationError
	switch {
	case errors.As(err, &verr):
		return pages.render(c, http.StatusUnprocessableEntity, "form.html", formPage{
			BackURL: back,
			Form:    web.Form{Action: c.Request().URL.Path, Values: req.values(), Errors: verr.Fields},
		})
	case err != nil:
		return err
	case back != "":
		return c.Redirect(http.StatusSeeOther, back+"#comment-"+rec.Comment.ID)
	}
	return pages.render(c, http.StatusCreated, "message.html", messagePage{
		Title:   "Thank you for your comment",
		Message: statusMessage(rec.Status),
	})
}

// formPage is the data of form.html.
type formPage struct {
	BackURL string
	Form    web.Form
}

// safeReturnURL returns pageURL without its fragment when it lies on one of
// the site's origins, and "" otherwise, so that the form cannot be used to
// redirect readers to arbitrary places.
func safeReturnURL(site comment.Site, pageURL string) string {
	if pageURL == "" {
		return ""
	}
	u, err := url.Parse(pageURL)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	if !site.AllowsOrigin(u.Scheme + "://" + u.Host) {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
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
