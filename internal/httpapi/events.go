package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
)

// Subscriber gives each live stream its own feed of moderation events.
type Subscriber interface {
	Subscribe() (<-chan events.Event, func())
}

// defaultHeartbeat is how often an idle event stream sends a comment to keep
// proxies from closing it, and checks that its caller may still moderate: a
// session that signed out, a revoked token or a removed role ends the stream
// within this time.
const defaultHeartbeat = 15 * time.Second

// handleEvents streams the moderation events of the sites the caller may
// moderate as Server-Sent Events, until the client goes away or stop is
// closed (the server is shutting down: a graceful shutdown waits for every
// open request, and a stream would otherwise never end).
//
// reauth reads the caller's principal again from the request's credentials.
func handleEvents(sub Subscriber, reauth func(echo.Context) (comment.Principal, error), stop <-chan struct{}, heartbeat time.Duration) echo.HandlerFunc {
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	return func(c echo.Context) error {
		p := principal(c)
		feed, cancel := sub.Subscribe()
		defer cancel()
		w := c.Response()
		// The server's write timeout would cut a long-lived stream.
		if err := http.NewResponseController(w.Writer).SetWriteDeadline(time.Time{}); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		h := w.Header()
		h.Set(echo.HeaderContentType, "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 3000\n: connected\n\n")
		w.Flush()
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-c.Request().Context().Done():
				return nil
			case <-stop:
				return nil
			case <-tick.C:
				again, err := reauth(c)
				if err != nil {
					return nil // signed out or revoked: end the stream
				}
				p = again
				fmt.Fprint(w, ": ping\n\n")
				w.Flush()
			case e, ok := <-feed:
				if !ok {
					return nil
				}
				if !strings.HasPrefix(e.Type, "comment.") || !p.CanModerate(e.SiteID) {
					continue
				}
				data, err := json.Marshal(e)
				if err != nil {
					return fmt.Errorf("encode event: %w", err)
				}
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, data)
				w.Flush()
			}
		}
	}
}
