package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// errorBody is every JSON error response.
type errorBody struct {
	Error      string            `json:"error"`
	Fields     map[string]string `json:"fields,omitempty"`
	RetryAfter int               `json:"retry_after,omitempty"`
}

// badRequest is a request the server cannot even decode.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// unsupportedMedia is a submission in a format other than JSON or a form.
var errUnsupportedMedia = errors.New("unsupported media type")

// retryAfterUnavailable is what a client is told to wait when the database
// is busy.
const retryAfterUnavailable = 2 * time.Second

// errorResponse maps an error to a status and a body that is safe to show.
// Anything it does not recognise is an internal error whose details stay in
// the log.
func errorResponse(err error) (int, errorBody, time.Duration) {
	var (
		verr *comment.ValidationError
		rerr *comment.RateLimitError
		berr *badRequest
		herr *echo.HTTPError
	)
	switch {
	case errors.As(err, &verr):
		return http.StatusUnprocessableEntity, errorBody{Error: "Some fields need attention.", Fields: verr.Fields}, 0
	case errors.As(err, &rerr):
		secs := int(math.Ceil(rerr.RetryAfter.Seconds()))
		if secs < 1 {
			secs = 1
		}
		return http.StatusTooManyRequests, errorBody{
			Error:      "You are posting comments too quickly. Please wait " + plural(secs, "second") + " and try again.",
			RetryAfter: secs,
		}, time.Duration(secs) * time.Second
	case errors.As(err, &berr):
		return http.StatusBadRequest, errorBody{Error: berr.msg}, 0
	case errors.Is(err, errForeignOrigin):
		return http.StatusForbidden, errorBody{Error: "This site does not take comments from that page."}, 0
	case errors.Is(err, errUnsupportedEncoding):
		return http.StatusUnsupportedMediaType, errorBody{Error: "Send the request body uncompressed: no Content-Encoding (such as gzip) is accepted."}, 0
	case errors.Is(err, errUnsupportedMedia):
		return http.StatusUnsupportedMediaType, errorBody{Error: "Send the comment as JSON (application/json) or as a form (application/x-www-form-urlencoded)."}, 0
	case errors.Is(err, comment.ErrNotFound):
		return http.StatusNotFound, errorBody{Error: "Not found."}, 0
	case errors.Is(err, comment.ErrUnauthorized):
		return http.StatusUnauthorized, errorBody{Error: "Authentication required: send an API token as 'Authorization: Bearer TOKEN'."}, 0
	case errors.Is(err, comment.ErrForbidden):
		return http.StatusForbidden, errorBody{Error: "These credentials do not allow this (on this site)."}, 0
	case errors.Is(err, comment.ErrDuplicate):
		return http.StatusConflict, errorBody{Error: "You have already posted this comment on this page."}, 0
	case errors.Is(err, comment.ErrRejected):
		return http.StatusForbidden, errorBody{Error: "This comment cannot be accepted."}, 0
	case errors.Is(err, moderation.ErrRulesChanged):
		return http.StatusConflict, errorBody{Error: "The rules were changed by someone else since you read them; read them again and reapply your change."}, 0
	case errors.Is(err, comment.ErrConflict):
		return http.StatusConflict, errorBody{Error: "This conflicts with data already stored."}, 0
	case errors.Is(err, comment.ErrUnavailable):
		return http.StatusServiceUnavailable, errorBody{Error: "The server is busy. Please try again in a moment."}, retryAfterUnavailable
	case errors.As(err, &herr):
		return herr.Code, errorBody{Error: httpErrorMessage(herr.Code)}, 0
	}
	return http.StatusInternalServerError, errorBody{Error: "Internal server error."}, 0
}

// httpErrorMessage words the errors Echo itself raises (routing, body limit).
func httpErrorMessage(code int) string {
	switch code {
	case http.StatusNotFound:
		return "Not found."
	case http.StatusMethodNotAllowed:
		return "Method not allowed."
	case http.StatusRequestEntityTooLarge:
		return "The request is too large. A comment may be at most 65525 bytes."
	case http.StatusBadRequest:
		return "Bad request."
	}
	return http.StatusText(code)
}

// noteFailure logs err once, with the request's id, method and route, when
// status says the server itself failed (a 5xx other than 503, which
// overload and outages answer by design), and sets Retry-After when retry
// is set. Every path that turns an error into an answer calls it.
func noteFailure(c echo.Context, log *slog.Logger, status int, retry time.Duration, err error) {
	if status >= 500 && status != http.StatusServiceUnavailable {
		log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.String("err", err.Error()))
	}
	setRetryAfter(c, retry)
}

// setRetryAfter sets Retry-After, in whole seconds, when retry is set.
func setRetryAfter(c echo.Context, retry time.Duration) {
	if retry > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
	}
}

// errorHandler is the server's only error handler: it logs internal errors
// once, with the request id, and answers in JSON, or in HTML when the
// request was a classic form post.
func errorHandler(log *slog.Logger, pages *pageRenderer) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
			// The client went away, or shutdown cut its connection: nobody
			// reads this answer and nothing on the server failed.
			err = fmt.Errorf("%w: %w", comment.ErrUnavailable, err)
		}
		status, body, retry := errorResponse(err)
		noteFailure(c, log, status, retry, err)
		h := c.Response().Header()
		if status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", `Bearer realm="commentd"`)
		}
		var werr error
		switch {
		case c.Request().Method == http.MethodHead:
			werr = c.NoContent(status)
		case isFormPost(c):
			werr = pages.render(c, status, "message.html", messagePage{Title: "Your comment was not posted", Message: body.Error, Error: true})
		default:
			werr = c.JSON(status, body)
		}
		if werr != nil {
			log.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing error response failed", slog.String("err", werr.Error()))
		}
	}
}

// messagePage is the data of message.html.
type messagePage struct {
	Title   string
	Message string
	Error   bool
	BackURL string
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
