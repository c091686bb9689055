package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestReadyBacklog checks how /readyz combines the dependency checks with
// the moderation backlog: overdue comments warn without failing the probe,
// an unreadable backlog is left out, and a failed dependency still fails.
func TestReadyBacklog(t *testing.T) {
	ok := func(context.Context) map[string]error { return map[string]error{"database": nil} }
	down := func(context.Context) map[string]error { return map[string]error{"database": errors.New("gone")} }
	backlog := func(m map[string]PendingSite, err error) PendingCheck {
		return func(context.Context) (map[string]PendingSite, error) { return m, err }
	}
	calm := map[string]PendingSite{"demo": {Count: 2, OldestAgeSeconds: 60}, "quiet": {}}
	late := map[string]PendingSite{"demo": {Count: 3, Overdue: 1, OldestAgeSeconds: 400000}, "quiet": {}}
	tests := []struct {
		name        string
		ready       ReadinessCheck
		pending     PendingCheck
		wantStatus  int
		wantState   string
		wantPending map[string]PendingSite
	}{
		{"no checks at all", nil, nil, 200, "ok", nil},
		{"backlog within the warning age", ok, backlog(calm, nil), 200, "ok", calm},
		{"overdue comments warn", ok, backlog(late, nil), 200, "warn", late},
		{"backlog without dependency checks", nil, backlog(late, nil), 200, "warn", late},
		{"backlog unknown", ok, backlog(nil, errors.New("timeout")), 200, "ok", nil},
		{"database down: no backlog asked", down, func(context.Context) (map[string]PendingSite, error) {
			t.Error("backlog asked for while the database is down")
			return late, nil
		}, 503, "unavailable", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := echo.New()
			e.GET("/readyz", handleReady(tt.ready, tt.pending, slog.New(slog.DiscardHandler)))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			var got healthResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("decode %s: %v", rec.Body, err)
			}
			if got.Status != tt.wantState {
				t.Errorf("status field = %q, want %q", got.Status, tt.wantState)
			}
			if !reflect.DeepEqual(got.Pending, tt.wantPending) {
				t.Errorf("pending = %+v, want %+v", got.Pending, tt.wantPending)
			}
		})
	}
}

// TestReadyBacklogJSON pins the field names monitoring reads.
func TestReadyBacklogJSON(t *testing.T) {
	e := echo.New()
	e.GET("/readyz", handleReady(nil, func(context.Context) (map[string]PendingSite, error) {
		return map[string]PendingSite{"demo": {Count: 5, Overdue: 2, OldestAgeSeconds: 777600}}, nil
	}, slog.New(slog.DiscardHandler)))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	want := `{"status":"warn","pending":{"demo":{"count":5,"older_than_warn":2,"oldest_age_seconds":777600}}}`
	if got := rec.Body.String(); got != want+"\n" {
		t.Errorf("body = %s, want %s", got, want)
	}
}
