package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

type principalKey struct{}

// bearerPrincipal authenticates the request's "Authorization: Bearer TOKEN".
func bearerPrincipal(auth *account.Service) func(echo.Context) (comment.Principal, error) {
	return func(c echo.Context) (comment.Principal, error) {
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return comment.Principal{}, comment.ErrUnauthorized
		}
		return auth.Authenticate(c.Request().Context(), strings.TrimSpace(token))
	}
}

// requireToken authenticates "Authorization: Bearer TOKEN" and puts the
// principal into the request's context.
func requireToken(auth *account.Service) echo.MiddlewareFunc {
	authenticate := bearerPrincipal(auth)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := authenticate(c)
			if err != nil {
				return err
			}
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
			return next(c)
		}
	}
}

// principal returns the caller requireToken authenticated.
func principal(c echo.Context) comment.Principal {
	p, _ := c.Request().Context().Value(principalKey{}).(comment.Principal)
	return p
}

// modComment is the moderator's full view of a comment, private fields
// included. It is only ever served behind requireToken.
type modComment struct {
	ID        string           `json:"id"`
	Site      string           `json:"site"`
	Page      string           `json:"page"`
	ParentID  *string          `json:"parent_id"`
	Depth     int              `json:"depth"`
	Status    string           `json:"status"`
	Author    modAuthor        `json:"author"`
	Body      string           `json:"body"`
	BodyHTML  string           `json:"body_html"`
	IP        string           `json:"ip"`
	UserAgent string           `json:"user_agent"`
	Reasons   []comment.Reason `json:"reasons"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

type modAuthor struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	Website string `json:"website"`
}

type modEvent struct {
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	FromStatus string    `json:"from_status,omitempty"`
	ToStatus   string    `json:"to_status"`
	At         time.Time `json:"at"`
}

func toModComment(c comment.Comment) modComment {
	out := modComment{
		ID: c.ID, Site: c.SiteID, Page: c.PageKey, Depth: c.Depth, Status: string(c.Status),
		Author:   modAuthor{Name: c.AuthorName, Email: c.AuthorEmail, Website: c.AuthorWebsite},
		Body:     c.Body,
		BodyHTML: c.BodyHTML, IP: c.IP, UserAgent: c.UserAgent, Reasons: c.Reasons,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if out.Reasons == nil {
		out.Reasons = []comment.Reason{}
	}
	if c.ParentID != "" {
		id := c.ParentID
		out.ParentID = &id
	}
	return out
}

type queueQuery struct {
	Site   string `json:"site" validate:"omitempty,line,maxbytes=64"`
	Status string `json:"status" validate:"omitempty,oneof=pending approved rejected spam deleted"`
	Page   string `json:"page" validate:"omitempty,line,maxbytes=512"`
	Email  string `json:"email" validate:"omitempty,line,maxbytes=100"`
	IP     string `json:"ip" validate:"omitempty,ip|cidr"`
	Query  string `json:"q" validate:"omitempty,line,maxbytes=200"`
	Cursor string `json:"cursor" validate:"omitempty,line,maxbytes=200"`
	Limit  string `json:"limit" validate:"omitempty,number"`
}

// queueFilter reads and checks the queue's query parameters.
func queueFilter(c echo.Context, v *validator.Validate) (moderation.QueueFilter, error) {
	q := queueQuery{
		Site: c.QueryParam("site"), Status: c.QueryParam("status"), Page: strings.TrimSpace(c.QueryParam("page")),
		Email: strings.TrimSpace(c.QueryParam("email")), IP: strings.TrimSpace(c.QueryParam("ip")),
		Query: strings.TrimSpace(c.QueryParam("q")), Cursor: c.QueryParam("cursor"), Limit: c.QueryParam("limit"),
	}
	if err := check(v, &q); err != nil {
		return moderation.QueueFilter{}, err
	}
	limit := 0
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > moderation.MaxQueuePage {
			return moderation.QueueFilter{}, comment.Invalid("limit", "Must be a number from 1 to "+strconv.Itoa(moderation.MaxQueuePage)+".")
		}
		limit = n
	}
	if a, err := netip.ParseAddr(q.IP); err == nil {
		q.IP = a.Unmap().String() // stored addresses are in this spelling
	} else if p, err := netip.ParsePrefix(q.IP); err == nil {
		q.IP = p.Masked().String() // expired client data keeps a network (comment.TruncateIP)
	}
	return moderation.QueueFilter{SiteID: q.Site, Status: comment.Status(q.Status), PageKey: q.Page, Email: q.Email,
		IP: q.IP, Query: q.Query, Cursor: q.Cursor, Limit: limit}, nil
}

// modItem is a comment in the queue with what a moderator needs beside it.
type modItem struct {
	modComment
	PageURL   string         `json:"page_url,omitempty"`
	PageTitle string         `json:"page_title,omitempty"`
	Parent    *modParent     `json:"parent,omitempty"`
	History   map[string]int `json:"author_history"`
}

// modParent is the comment a reply answers, in brief.
type modParent struct {
	ID       string `json:"id"`
	Author   string `json:"author"`
	Status   string `json:"status"`
	BodyHTML string `json:"body_html"`
}

func toModItem(it moderation.Item) modItem {
	out := modItem{modComment: toModComment(it.Comment), PageURL: it.Page.URL, PageTitle: it.Page.Title, History: map[string]int{}}
	for st, n := range it.Author {
		out.History[string(st)] = n
	}
	if it.Parent != nil {
		out.Parent = &modParent{ID: it.Parent.ID, Author: it.Parent.AuthorName, Status: string(it.Parent.Status), BodyHTML: it.Parent.BodyHTML}
	}
	return out
}

type queueResponse struct {
	Comments   []modItem `json:"comments"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// handleQueue lists comments by status (pending by default), oldest first,
// a page at a time, filtered by site, page, author email, IP or words.
func handleQueue(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, err := queueFilter(c, v)
		if err != nil {
			return err
		}
		page, err := svc.Queue(c.Request().Context(), principal(c), f)
		if err != nil {
			return err
		}
		out := queueResponse{Comments: make([]modItem, 0, len(page.Items)), NextCursor: page.Next}
		for _, it := range page.Items {
			out.Comments = append(out.Comments, toModItem(it))
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}
}

type modRevision struct {
	AuthorName    string    `json:"author_name"`
	AuthorWebsite string    `json:"author_website"`
	Body          string    `json:"body"`
	EditedBy      string    `json:"edited_by"`
	EditedAt      time.Time `json:"edited_at"`
}

type commentResponse struct {
	Comment   modItem       `json:"comment"`
	History   []modEvent    `json:"history"`
	Revisions []modRevision `json:"revisions"`
}

// handleGetComment answers one comment with its reasons, history and earlier
// versions.
func handleGetComment(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		d, err := svc.Get(c.Request().Context(), principal(c), c.Param("id"))
		if err != nil {
			return err
		}
		out := commentResponse{Comment: toModItem(d.Item), History: make([]modEvent, 0, len(d.History)), Revisions: make([]modRevision, 0, len(d.Revisions))}
		for _, e := range d.History {
			out.History = append(out.History, modEvent{Actor: e.Actor, Action: e.Action, FromStatus: string(e.FromStatus), ToStatus: string(e.ToStatus), At: e.At})
		}
		for _, r := range d.Revisions {
			out.Revisions = append(out.Revisions, modRevision{AuthorName: r.AuthorName, AuthorWebsite: r.AuthorWebsite, Body: r.Body, EditedBy: r.EditedBy, EditedAt: r.EditedAt})
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}
}

type actionResponse struct {
	Comment modComment `json:"comment"`
}

// handleAction applies the action named in the path and answers the updated
// comment.
func handleAction(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, err := actionParam(c.Param("action"))
		if err != nil {
			return err
		}
		cm, err := svc.Act(c.Request().Context(), principal(c), c.Param("id"), a)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, actionResponse{Comment: toModComment(cm)})
	}
}

// actionParam turns an action name into an Action; an unknown one is 404,
// like any path that names nothing.
func actionParam(name string) (moderation.Action, error) {
	for _, a := range moderation.Actions() {
		if string(a) == name {
			return a, nil
		}
	}
	return "", comment.ErrNotFound
}

// editRequest is a moderator's change to a comment; each field is checked
// as a reader's would be.
type editRequest struct {
	Name    string `json:"name" validate:"required,line,maxbytes=245"`
	Website string `json:"website" validate:"omitempty,line,maxbytes=200,url,weburl"`
	Body    string `json:"body" validate:"required,text,maxbytes=65525"`
}

// editPatch is the body of PATCH: a field left out stays as it is.
type editPatch struct {
	Name    *string `json:"name"`
	Website *string `json:"website"`
	Body    *string `json:"body"`
}

// handleEdit changes a comment's body, author name and/or website; the
// previous version is kept.
func handleEdit(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		var patch editPatch
		if err := decodeJSON(c, &patch); err != nil {
			return err
		}
		// Check the fields sent; the others get stand-ins that pass, and
		// their (impossible) errors are dropped.
		req := editRequest{Name: "-", Body: "-"}
		if patch.Name != nil {
			req.Name = strings.TrimSpace(*patch.Name)
			patch.Name = &req.Name
		}
		if patch.Website != nil {
			req.Website = withScheme(strings.TrimSpace(*patch.Website))
			patch.Website = &req.Website
		}
		if patch.Body != nil {
			req.Body = strings.TrimSpace(*patch.Body)
			patch.Body = &req.Body
		}
		if err := check(v, &req); err != nil {
			return err
		}
		cm, err := svc.Edit(c.Request().Context(), principal(c), c.Param("id"), moderation.EditInput{Name: patch.Name, Website: patch.Website, Body: patch.Body})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, actionResponse{Comment: toModComment(cm)})
	}
}

type bulkRequest struct {
	IDs    []string `json:"ids"`
	Action string   `json:"action"`
}

type bulkResult struct {
	ID      string      `json:"id"`
	OK      bool        `json:"ok"`
	Status  string      `json:"status,omitempty"`
	Error   string      `json:"error,omitempty"`
	Code    int         `json:"code,omitempty"`
	Comment *modComment `json:"comment,omitempty"`
}

type bulkResponse struct {
	Results []bulkResult `json:"results"`
}

// handleBulk applies one action to many comments and answers per id.
// Internal errors of single ids are logged here, since they do not reach the
// error handler.
func handleBulk(svc *moderation.Service, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req bulkRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		a, err := actionParam(req.Action)
		if err != nil {
			return comment.Invalid("action", "Unknown action.")
		}
		results, err := svc.Bulk(c.Request().Context(), principal(c), req.IDs, a)
		if err != nil {
			return err
		}
		out := bulkResponse{Results: make([]bulkResult, 0, len(results))}
		for _, r := range results {
			br := bulkResult{ID: r.ID, OK: r.Err == nil}
			if r.Err != nil {
				status, body, _ := errorResponse(r.Err)
				br.Code, br.Error = status, body.Error
				if status >= 500 {
					log.LogAttrs(c.Request().Context(), slog.LevelError, "bulk action failed",
						slog.String("comment_id", r.ID), slog.String("err", r.Err.Error()))
				}
				if len(body.Fields) > 0 {
					for _, msg := range body.Fields {
						br.Error = msg
					}
				}
			} else {
				mc := toModComment(r.Comment)
				br.Status, br.Comment = mc.Status, &mc
			}
			out.Results = append(out.Results, br)
		}
		return c.JSON(http.StatusOK, out)
	}
}

type listEntryJSON struct {
	Value     string    `json:"value"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// handleSiteLists answers a site's trusted and blocked lists.
func handleSiteLists(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		lists, err := svc.SiteLists(c.Request().Context(), principal(c), c.Param("site"))
		if err != nil {
			return err
		}
		out := map[string][]listEntryJSON{}
		for name, entries := range lists {
			out[name] = make([]listEntryJSON, 0, len(entries))
			for _, e := range entries {
				out[name] = append(out[name], listEntryJSON{Value: e.Value, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt})
			}
		}
		return c.JSON(http.StatusOK, out)
	}
}

// readJSONBody reads a JSON request body (within the server's body limit).
func readJSONBody(c echo.Context) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON {
		return nil, errUnsupportedMedia
	}
	return readBody(c)
}

// readBody reads the request body within the server's body limit. Going over
// the limit keeps Echo's 413; a body cut short is a *badRequest.
func readBody(c echo.Context) ([]byte, error) {
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var herr *echo.HTTPError
		if errors.As(err, &herr) {
			return nil, err
		}
		return nil, &badRequest{msg: "The request body could not be read completely."}
	}
	return raw, nil
}

// decodeJSON reads a small JSON request body into v.
func decodeJSON(c echo.Context, v any) error {
	raw, err := readJSONBody(c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var terr *json.UnmarshalTypeError
		if errors.As(err, &terr) && terr.Field != "" {
			return comment.Invalid(terr.Field, "This value has the wrong type.")
		}
		return &badRequest{msg: "The request body is not valid JSON."}
	}
	return nil
}
