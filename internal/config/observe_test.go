package config

import (
	"strings"
	"testing"
)

func TestObservabilityKeys(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantMetrics string
		wantFormat  string
		wantErr     string
	}{
		{name: "defaults", wantMetrics: "", wantFormat: "text"},
		{name: "from the environment", env: map[string]string{"COMMENTD_METRICS_LISTEN": "127.0.0.1:9100", "COMMENTD_LOG_FORMAT": "json"}, wantMetrics: "127.0.0.1:9100", wantFormat: "json"},
		{name: "unknown log format", env: map[string]string{"COMMENTD_LOG_FORMAT": "xml"}, wantErr: "log_format"},
		{name: "bad metrics address", env: map[string]string{"COMMENTD_METRICS_LISTEN": "nonsense"}, wantErr: "metrics_listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MetricsListen != tt.wantMetrics || c.LogFormat != tt.wantFormat {
				t.Errorf("metrics_listen, log_format = %q, %q; want %q, %q", c.MetricsListen, c.LogFormat, tt.wantMetrics, tt.wantFormat)
			}
		})
	}
}
