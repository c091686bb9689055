package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
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

// handleThread answers a page's approved comments as a tree.
func handleThread(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := threadQuery{Page: strings.TrimSpace(c.QueryParam("page"))}
		if err := check(v, &q); err != nil {
			return err
		}
		t, err := svc.Thread(c.Request().Context(), c.Param("site"), q.Page)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.JSON(http.StatusOK, threadResponse{Page: t.PageKey, Total: t.Total, Comments: toPublicList(t.Comments)})
	}
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
func handleCounts(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
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
		counts, err := svc.Counts(c.Request().Context(), c.Param("site"), pages)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.JSON(http.StatusOK, countsResponse{Counts: counts})
	}
}
