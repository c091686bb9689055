package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

type principalKey struct{}

// requireToken authenticates "Authorization: Bearer TOKEN" and puts the
// principal into the request's context.
func requireToken(auth Authenticator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			if !strings.EqualFold(scheme, "Bearer") {
				return comment.ErrUnauthorized
			}
			p, err := auth.Authenticate(c.Request().Context(), strings.TrimSpace(token))
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
	Cursor string `json:"cursor" validate:"omitempty,line,maxbytes=200"`
	Limit  string `json:"limit" validate:"omitempty,number"`
}

type queueResponse struct {
	Comments   []modComment `json:"comments"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// handleQueue lists comments by status (pending by default), oldest first,
// a page at a time.
func handleQueue(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := queueQuery{Site: c.QueryParam("site"), Status: c.QueryParam("status"), Page: c.QueryParam("page"),
			Cursor: c.QueryParam("cursor"), Limit: c.QueryParam("limit")}
		if err := check(v, &q); err != nil {
			return err
		}
		limit := 0
		if q.Limit != "" {
			n, err := strconv.Atoi(q.Limit)
			if err != nil || n < 1 || n > moderation.MaxQueuePage {
				return comment.Invalid("limit", "Must be a number from 1 to "+strconv.Itoa(moderation.MaxQueuePage)+".")
			}
			limit = n
		}
		page, err := svc.Queue(c.Request().Context(), principal(c), moderation.QueueFilter{
			SiteID: q.Site, Status: comment.Status(q.Status), PageKey: q.Page, Cursor: q.Cursor, Limit: limit,
		})
		if err != nil {
			return err
		}
		out := queueResponse{Comments: make([]modComment, 0, len(page.Comments)), NextCursor: page.Next}
		for _, cm := range page.Comments {
			out.Comments = append(out.Comments, toModComment(cm))
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}
}

type commentResponse struct {
	Comment modComment `json:"comment"`
	History []modEvent `json:"history,omitempty"`
}

// handleGetComment answers one comment with its history.
func handleGetComment(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		cm, events, err := svc.Get(c.Request().Context(), principal(c), c.Param("id"))
		if err != nil {
			return err
		}
		out := commentResponse{Comment: toModComment(cm), History: make([]modEvent, 0, len(events))}
		for _, e := range events {
			out.History = append(out.History, modEvent{Actor: e.Actor, Action: e.Action, FromStatus: string(e.FromStatus), ToStatus: string(e.ToStatus), At: e.At})
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}
}

// handleAction applies one moderation action and answers the updated comment.
func handleAction(svc *moderation.Service, a moderation.Action) echo.HandlerFunc {
	return func(c echo.Context) error {
		cm, err := svc.Act(c.Request().Context(), principal(c), c.Param("id"), a)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, commentResponse{Comment: toModComment(cm)})
	}
}
