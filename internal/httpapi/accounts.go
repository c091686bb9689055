package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
)

type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func toTokenJSON(t comment.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
	if !t.LastUsedAt.IsZero() {
		lu := t.LastUsedAt
		out.LastUsedAt = &lu
	}
	return out
}

// handleListTokens answers the caller's API tokens (never their values).
func handleListTokens(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		list, err := accounts.Tokens(c.Request().Context(), principal(c))
		if err != nil {
			return err
		}
		out := struct {
			Tokens []tokenJSON `json:"tokens"`
		}{Tokens: make([]tokenJSON, 0, len(list))}
		for _, t := range list {
			out.Tokens = append(out.Tokens, toTokenJSON(t))
		}
		return c.JSON(http.StatusOK, out)
	}
}

// handleCreateToken makes an API token for the caller and shows its value
// this once.
func handleCreateToken(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req struct {
			Name string `json:"name"`
		}
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		plain, t, err := accounts.CreateToken(c.Request().Context(), principal(c), req.Name)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusCreated, struct {
			Token tokenJSON `json:"token"`
			Value string    `json:"value"`
		}{toTokenJSON(t), plain})
	}
}

// handleRevokeToken deletes one of the caller's tokens.
func handleRevokeToken(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := accounts.RevokeToken(c.Request().Context(), principal(c), c.Param("id")); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

type memberJSON struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
}

// handleMembers lists who has a role on a site (owners and admins only).
func handleMembers(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		list, err := accounts.Members(c.Request().Context(), principal(c), c.Param("site"))
		if err != nil {
			return err
		}
		out := struct {
			Members []memberJSON `json:"members"`
		}{Members: make([]memberJSON, 0, len(list))}
		for _, m := range list {
			out.Members = append(out.Members, memberJSON{UserID: m.UserID, Email: m.Email, Role: string(m.Role)})
		}
		return c.JSON(http.StatusOK, out)
	}
}

// handleGrant gives a user (by email) a role on a site.
func handleGrant(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req struct {
			Email string `json:"email"`
			Role  string `json:"role"`
		}
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		err := accounts.Grant(c.Request().Context(), principal(c), strings.TrimSpace(req.Email), c.Param("site"), comment.Role(req.Role))
		if err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// handleRevokeMember removes a user's role on a site.
func handleRevokeMember(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := accounts.Revoke(c.Request().Context(), principal(c), c.Param("user"), c.Param("site")); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}
