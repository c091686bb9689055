package httpapi

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"
)

// requestIDKey is the context key under which requestIDContext keeps the
// request id.
type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "" outside a
// request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDContext puts the request id that Echo's RequestID middleware
// chose (and set on the response) into the request's context, so that
// whatever the handler calls logs it too (see LogHandler). It must run
// after that middleware.
func requestIDContext() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
				r := c.Request()
				c.SetRequest(r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
			}
			return next(c)
		}
	}
}

// LogHandler wraps h so that every record logged with a request's context
// carries that request's id as request_id, unless the record already has
// one.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ next slog.Handler }

func (h logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	id := RequestID(ctx)
	if id == "" {
		return h.next.Handle(ctx, r)
	}
	has := false
	r.Attrs(func(a slog.Attr) bool {
		has = a.Key == "request_id"
		return !has
	})
	if !has {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.next.WithAttrs(as)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.next.WithGroup(name)}
}
