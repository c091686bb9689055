package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
)

// tokensPage is the data of admin_tokens.html.
type tokensPage struct {
	adminBase
	Tokens   []comment.Token
	NewName  string // the name typed into the create form
	NewToken string // a token's value, shown once right after it was made
	Created  string // the new token's name
	Errors   map[string]string
	Notice   string
}

func tokensPageData(c echo.Context, accounts *account.Service) (tokensPage, error) {
	list, err := accounts.Tokens(c.Request().Context(), principal(c))
	if err != nil {
		return tokensPage{}, err
	}
	return tokensPage{adminBase: newAdminBase(c, "API tokens", "tokens"), Tokens: list}, nil
}

// handleAdminTokens lists the user's API tokens (never their values).
func handleAdminTokens(accounts *account.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		data, err := tokensPageData(c, accounts)
		if err != nil {
			return err
		}
		if c.QueryParam("notice") == "revoked" {
			data.Notice = "The token is revoked; requests that use it are refused from now on."
		}
		return pages.render(c, http.StatusOK, "admin_tokens.html", data)
	}
}

// handleAdminCreateToken makes a token and shows its value on the page it
// answers with, this once; the value is never put into a URL.
func handleAdminCreateToken(accounts *account.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		name := c.FormValue("name")
		plain, t, err := accounts.CreateToken(c.Request().Context(), principal(c), name)
		var verr *comment.ValidationError
		if err != nil && !errors.As(err, &verr) {
			return err
		}
		data, lerr := tokensPageData(c, accounts)
		if lerr != nil {
			return lerr
		}
		if verr != nil {
			data.NewName, data.Errors = name, verr.Fields
			return pages.render(c, http.StatusUnprocessableEntity, "admin_tokens.html", data)
		}
		data.NewToken, data.Created = plain, t.Name
		return pages.render(c, http.StatusCreated, "admin_tokens.html", data)
	}
}

// handleAdminRevokeToken deletes one of the user's tokens.
func handleAdminRevokeToken(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := accounts.RevokeToken(c.Request().Context(), principal(c), c.Param("id")); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, adminPrefix+"/tokens?notice=revoked")
	}
}
