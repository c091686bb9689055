package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
)

// loginPage is the data of admin_login.html.
type loginPage struct {
	adminBase
	Next    string
	Email   string
	Message string            // about the attempt as a whole
	Errors  map[string]string // per field
}

// handleAdminLoginForm shows the sign-in form, or goes straight on to the
// requested page when the browser is already signed in.
func handleAdminLoginForm(accounts *account.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		next := safeNext(c.QueryParam("next"))
		if _, err := accounts.Session(c.Request().Context(), sessionValue(c)); err == nil {
			return c.Redirect(http.StatusSeeOther, next)
		}
		return pages.render(c, http.StatusOK, "admin_login.html", loginPage{
			adminBase: adminBase{Title: "Sign in", CSRF: csrfToken(c)}, Next: next,
		})
	}
}

// handleAdminLogin checks the password and opens a session. A wrong email
// and a wrong password get the same answer; too many attempts get 429 and
// how long to wait.
func handleAdminLogin(accounts *account.Service, pages *pageRenderer, secureCookies bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		email, password := strings.TrimSpace(c.FormValue("email")), c.FormValue("password")
		page := loginPage{adminBase: adminBase{Title: "Sign in", CSRF: csrfToken(c)}, Next: safeNext(c.FormValue("next")), Email: email, Errors: map[string]string{}}
		if email == "" {
			page.Errors["email"] = "Please enter your email address."
		}
		if password == "" {
			page.Errors["password"] = "Please enter your password."
		}
		if len(page.Errors) > 0 {
			return pages.render(c, http.StatusUnprocessableEntity, "admin_login.html", page)
		}
		token, _, err := accounts.Login(c.Request().Context(), email, password, clientIP(c))
		var rerr *comment.RateLimitError
		switch {
		case errors.As(err, &rerr):
			secs := max(1, int(math.Ceil(rerr.RetryAfter.Seconds())))
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			page.Message = "Too many sign-in attempts. Please wait " + plural(secs, "second") + " and try again."
			return pages.render(c, http.StatusTooManyRequests, "admin_login.html", page)
		case errors.Is(err, comment.ErrUnauthorized):
			page.Message = "The email address or password is not right."
			return pages.render(c, http.StatusUnauthorized, "admin_login.html", page)
		case err != nil:
			return err
		}
		c.SetCookie(sessionCookie(token, int(accounts.SessionTTL()/time.Second), secureRequest(c, secureCookies)))
		return c.Redirect(http.StatusSeeOther, page.Next)
	}
}

// handleAdminLogout ends the session, if any, and shows the sign-in page.
func handleAdminLogout(accounts *account.Service, secureCookies bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := accounts.Logout(c.Request().Context(), sessionValue(c)); err != nil {
			return err
		}
		c.SetCookie(sessionCookie("", -1, secureRequest(c, secureCookies)))
		return c.Redirect(http.StatusSeeOther, adminPrefix+"/login")
	}
}
