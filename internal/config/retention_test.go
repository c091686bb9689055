package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRetentionDefaults(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatalf("Load default: %v", err)
	}
	want := Retention{ClientData: 720 * time.Hour, ClientDataMode: "truncate", PendingWarnAfter: 72 * time.Hour, Interval: time.Hour}
	if c.Retention != want {
		t.Errorf("retention = %+v, want %+v", c.Retention, want)
	}
}

func TestRetentionOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "retention:\n  client_data: 0\n  pending_warn_after: 24h\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		env  map[string]string
		want Retention
	}{
		{"file: 0 keeps forever, other keys from the default", path, nil,
			Retention{ClientData: 0, ClientDataMode: "truncate", PendingWarnAfter: 24 * time.Hour, Interval: time.Hour}},
		{"environment over the file", path, map[string]string{
			"COMMENTD_RETENTION_CLIENT_DATA":        "168h",
			"COMMENTD_RETENTION_CLIENT_DATA_MODE":   "delete",
			"COMMENTD_RETENTION_PENDING_WARN_AFTER": "0",
			"COMMENTD_RETENTION_INTERVAL":           "250ms",
		}, Retention{ClientData: 168 * time.Hour, ClientDataMode: "delete", PendingWarnAfter: 0, Interval: 250 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Retention != tt.want {
				t.Errorf("retention = %+v, want %+v", c.Retention, tt.want)
			}
		})
	}
}

func TestRetentionInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"unknown mode", map[string]string{"COMMENTD_RETENTION_CLIENT_DATA_MODE": "shred"}, "retention.client_data_mode"},
		{"negative period", map[string]string{"COMMENTD_RETENTION_CLIENT_DATA": "-1h"}, "retention.client_data"},
		{"not a duration", map[string]string{"COMMENTD_RETENTION_CLIENT_DATA": "a month"}, "client_data"},
		{"negative warning", map[string]string{"COMMENTD_RETENTION_PENDING_WARN_AFTER": "-5m"}, "retention.pending_warn_after"},
		{"zero interval", map[string]string{"COMMENTD_RETENTION_INTERVAL": "0s"}, "retention.interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
