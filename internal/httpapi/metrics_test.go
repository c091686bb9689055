package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// counterValue is the value of the series of name whose labels include
// want, or -1 when there is none.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			n := 0
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok {
					if v != l.GetValue() {
						continue series
					}
					n++
				}
			}
			if n == len(want) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func TestRequestMetricsRouteLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := echo.New()
	m, err := newHTTPMetrics(reg, e)
	if err != nil {
		t.Fatal(err)
	}
	e.Use(m.measure())
	e.GET("/api/v1/sites/:site/comments", func(c echo.Context) error {
		if c.Param("site") == "missing" {
			return comment.ErrNotFound
		}
		return c.NoContent(http.StatusOK)
	})

	tests := []struct {
		name                  string
		method, path          string
		route, mlabel, status string
	}{
		{"route pattern, not the path", "GET", "/api/v1/sites/blog/comments", "/api/v1/sites/:site/comments", "GET", "200"},
		{"handler error mapped to its status", "GET", "/api/v1/sites/missing/comments", "/api/v1/sites/:site/comments", "GET", "404"},
		{"unknown path", "GET", "/wp-login.php", routeUnmatched, "GET", "404"},
		{"unknown path under a known prefix", "GET", "/api/v1/sites/blog/other", routeUnmatched, "GET", "404"},
		{"method the route lacks", "DELETE", "/api/v1/sites/blog/comments", routeUnmatched, "DELETE", "405"},
		{"made-up method", "BREW", "/api/v1/sites/blog/comments", routeUnmatched, "OTHER", "405"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := map[string]string{"route": tt.route, "method": tt.mlabel, "status": tt.status}
			before := max(counterValue(t, reg, "commentd_http_requests_total", labels), 0)
			e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
			if got := counterValue(t, reg, "commentd_http_requests_total", labels); got != before+1 {
				t.Errorf("commentd_http_requests_total%v = %v, want %v", labels, got, before+1)
			}
		})
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "route" && l.GetValue() != routeUnmatched && l.GetValue() != "/api/v1/sites/:site/comments" {
					t.Errorf("%s has route label %q", f.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestSubmissionVerdict(t *testing.T) {
	tests := []struct {
		name string
		rec  moderation.Receipt
		err  error
		want string
	}{
		{"approved", moderation.Receipt{Status: comment.StatusApproved, Stored: comment.StatusApproved}, nil, "approved"},
		{"held", moderation.Receipt{Status: comment.StatusPending, Stored: comment.StatusPending}, nil, "pending"},
		{"spam told pending", moderation.Receipt{Status: comment.StatusPending, Stored: comment.StatusSpam}, nil, "spam"},
		{"replayed retry", moderation.Receipt{Status: comment.StatusApproved, Replayed: true}, nil, "duplicate"},
		{"field error", moderation.Receipt{}, comment.Invalid("body", "required"), "invalid"},
		{"undecodable body", moderation.Receipt{}, &badRequest{msg: "bad"}, "invalid"},
		{"rate limited", moderation.Receipt{}, &comment.RateLimitError{}, "rate_limited"},
		{"duplicate", moderation.Receipt{}, comment.ErrDuplicate, "duplicate"},
		{"block rule", moderation.Receipt{}, comment.ErrRejected, "rejected"},
		{"foreign origin", moderation.Receipt{}, errForeignOrigin, "rejected"},
		{"database busy", moderation.Receipt{}, comment.ErrUnavailable, "error"},
		{"anything else", moderation.Receipt{}, errors.New("boom"), "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := submissionVerdict(tt.rec, tt.err); got != tt.want {
				t.Errorf("submissionVerdict = %q, want %q", got, tt.want)
			}
		})
	}
}
