package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogHandlerAddsRequestID(t *testing.T) {
	ctx := context.WithValue(context.Background(), requestIDKey{}, "rid-1")
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string // request_id in the line; "" for none
	}{
		{"request context", func(l *slog.Logger) { l.InfoContext(ctx, "m") }, "rid-1"},
		{"logger with attributes", func(l *slog.Logger) { l.With("site", "s").InfoContext(ctx, "m") }, "rid-1"},
		{"no request", func(l *slog.Logger) { l.InfoContext(context.Background(), "m") }, ""},
		{"id already given", func(l *slog.Logger) { l.InfoContext(ctx, "m", "request_id", "rid-1") }, "rid-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))))
			line := buf.String()
			if n := strings.Count(line, `"request_id"`); n > 1 {
				t.Errorf("request_id %d times in %s", n, line)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			got, _ := rec["request_id"].(string)
			if got != tt.want {
				t.Errorf("request_id = %q, want %q", got, tt.want)
			}
		})
	}
}
