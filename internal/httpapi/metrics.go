package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// routeUnmatched is the route label of requests no route answered (404 and
// 405 from the router), so that scanners' made-up paths do not each add a
// series.
const routeUnmatched = "unmatched"

// httpMetrics counts and times requests and submissions. A nil
// *httpMetrics records nothing.
type httpMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	submissions *prometheus.CounterVec

	e      *echo.Echo
	once   sync.Once
	routes map[string]bool // "METHOD path" of every registered route
}

// newHTTPMetrics registers the HTTP series with reg; nil reg: nil, no
// metrics.
func newHTTPMetrics(reg prometheus.Registerer, e *echo.Echo) (*httpMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" when no route matched), method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "commentd_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_submissions_total",
			Help: "Comment submissions by site (empty for an unknown site) and verdict: approved, pending, spam, rejected, rate_limited, invalid, duplicate (also a replayed idempotent retry) or error.",
		}, []string{"site", "verdict"}),
		e: e,
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.submissions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// measure counts and times every request. It runs outside the request
// logger, whose HandleError has the error handler write the answer, so the
// status seen here is the one the client got.
func (m *httpMetrics) measure() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if m == nil {
			return next
		}
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			status := c.Response().Status
			if err != nil && !c.Response().Committed {
				// Not answered yet: Echo's error handler will answer.
				status, _, _ = errorResponse(err)
			}
			route, method := m.route(c), methodLabel(c.Request().Method)
			m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// route is the route pattern that answered c, or routeUnmatched. Echo sets
// c.Path() to the nearest pattern even when nothing matched, so the pattern
// is checked against the registered routes (read once, after all were
// added).
func (m *httpMetrics) route(c echo.Context) string {
	m.once.Do(func() {
		m.routes = make(map[string]bool)
		for _, r := range m.e.Routes() {
			m.routes[r.Method+" "+r.Path] = true
		}
	})
	if p := c.Path(); m.routes[c.Request().Method+" "+p] {
		return p
	}
	return routeUnmatched
}

// methodLabel bounds the method label: any token is a valid method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// countSubmission counts one submission's outcome: rec and err are what
// Submit (or the checks before it) returned. The site label is set only
// for a site that exists.
func (m *httpMetrics) countSubmission(c echo.Context, svc *moderation.Service, rec moderation.Receipt, err error) {
	if m == nil {
		return
	}
	site := c.Param("site")
	if errors.Is(err, comment.ErrNotFound) {
		site = ""
	} else if err != nil {
		if _, serr := svc.Site(c.Request().Context(), site); serr != nil {
			site = ""
		}
	}
	m.submissions.WithLabelValues(site, submissionVerdict(rec, err)).Inc()
}

// submissionVerdict names the outcome of a submission.
func submissionVerdict(rec moderation.Receipt, err error) string {
	var (
		verr *comment.ValidationError
		rerr *comment.RateLimitError
		berr *badRequest
	)
	switch {
	case err == nil && rec.Replayed:
		return "duplicate"
	case err == nil && rec.Stored == comment.StatusSpam:
		return "spam"
	case err == nil && rec.Status == comment.StatusApproved:
		return "approved"
	case err == nil:
		return "pending"
	case errors.As(err, &rerr):
		return "rate_limited"
	case errors.As(err, &verr), errors.As(err, &berr), errors.Is(err, errUnsupportedMedia), errors.Is(err, comment.ErrNotFound):
		return "invalid"
	case errors.Is(err, comment.ErrDuplicate):
		return "duplicate"
	case errors.Is(err, comment.ErrRejected), errors.Is(err, errForeignOrigin):
		return "rejected"
	}
	return "error"
}
