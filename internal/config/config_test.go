package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadDefault(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatalf("Load default: %v", err)
	}
	if c.Listen != "127.0.0.1:8080" {
		t.Errorf("listen = %q, want 127.0.0.1:8080", c.Listen)
	}
	if c.DatabaseURL != "data/commentd.db" || c.IsPostgres() {
		t.Errorf("database_url = %q, want the SQLite default", c.DatabaseURL)
	}
	if c.RedisURL != "redis://127.0.0.1:6379/0" {
		t.Errorf("redis_url = %q", c.RedisURL)
	}
	if c.RateLimit.Every != 15*time.Second || c.RateLimit.Burst != 3 {
		t.Errorf("rate_limit = %+v, want 15s burst 3", c.RateLimit)
	}
	if len(c.Sites) != 1 || c.Sites[0].ID != "demo" {
		t.Fatalf("sites = %+v, want the demo site", c.Sites)
	}
	want := []string{"http://localhost:8080", "http://127.0.0.1:8080"}
	if strings.Join(c.Sites[0].Origins, " ") != strings.Join(want, " ") {
		t.Errorf("demo origins = %v, want %v", c.Sites[0].Origins, want)
	}
	if len(c.TrustedProxies) != 0 {
		t.Errorf("trusted proxies = %v, want none by default", c.TrustedProxies)
	}
}

func TestRepositoryFileMatchesEmbedded(t *testing.T) {
	onDisk, err := os.ReadFile(filepath.Join("..", "..", "config", "commentd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := Load(filepath.Join("..", "..", "config", "commentd.yaml"), env(nil))
	if err != nil {
		t.Fatalf("Load file (%d bytes): %v", len(onDisk), err)
	}
	if fromFile.Listen != "127.0.0.1:8080" || len(fromFile.Sites) != 1 {
		t.Errorf("config/commentd.yaml loads as %+v", fromFile)
	}
}

func TestEnvOverrides(t *testing.T) {
	c, err := Load("", env(map[string]string{
		"COMMENTD_LISTEN":          "127.0.0.1:9999",
		"COMMENTD_DATABASE_URL":    "postgres://u@db/x",
		"COMMENTD_REDIS_URL":       "",
		"COMMENTD_SECRET":          "s3cret",
		"COMMENTD_ADMIN_TOKEN":     "0123456789abcdef0123",
		"COMMENTD_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"listen", c.Listen, "127.0.0.1:9999"},
		{"database_url", c.DatabaseURL, "postgres://u@db/x"},
		{"redis_url set empty", c.RedisURL, ""},
		{"secret", c.Secret, "s3cret"},
		{"admin_token", c.AdminToken, "0123456789abcdef0123"},
		{"trusted_proxies", strings.Join(c.TrustedProxies, "|"), "10.0.0.0/8|2001:db8::/32"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if !c.IsPostgres() {
		t.Error("IsPostgres = false for a postgres:// URL")
	}
	if n := len(c.TrustedPrefixes()); n != 2 {
		t.Errorf("TrustedPrefixes has %d entries, want 2", n)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		yaml    string
		wantErr string
	}{
		{name: "bad cidr", env: map[string]string{"COMMENTD_TRUSTED_PROXIES": "10.0.0.1/99"}, wantErr: "trusted_proxies"},
		{name: "bad listen", env: map[string]string{"COMMENTD_LISTEN": "nonsense"}, wantErr: "listen"},
		{name: "bad redis url", env: map[string]string{"COMMENTD_REDIS_URL": "http://x"}, wantErr: "redis_url"},
		{name: "unknown redis mode", env: map[string]string{"COMMENTD_REDIS_URL": "redis+shard://h:6379"}, wantErr: "redis_url: unknown scheme"},
		{name: "sentinel without master", env: map[string]string{"COMMENTD_REDIS_URL": "redis+sentinel://h:26379/0"}, wantErr: "redis_url: a redis+sentinel URL needs the master name"},
		{name: "short admin token", env: map[string]string{"COMMENTD_ADMIN_TOKEN": "abc"}, wantErr: "admin_token"},
		{name: "origin with path", yaml: "listen: 127.0.0.1:1\ndatabase_url: x.db\nhttp: {read_header_timeout: 1s, read_timeout: 1s, write_timeout: 1s, idle_timeout: 1s, shutdown_timeout: 1s}\nrate_limit: {every: 1s, burst: 1}\nsites: [{id: a, name: A, origins: ['http://a.example/blog']}]\n", wantErr: "origins"},
		{name: "bad site id", yaml: "listen: 127.0.0.1:1\ndatabase_url: x.db\nhttp: {read_header_timeout: 1s, read_timeout: 1s, write_timeout: 1s, idle_timeout: 1s, shutdown_timeout: 1s}\nrate_limit: {every: 1s, burst: 1}\nsites: [{id: 'Has Space', name: A}]\n", wantErr: "id"},
		{name: "duplicate site", yaml: "listen: 127.0.0.1:1\ndatabase_url: x.db\nhttp: {read_header_timeout: 1s, read_timeout: 1s, write_timeout: 1s, idle_timeout: 1s, shutdown_timeout: 1s}\nrate_limit: {every: 1s, burst: 1}\nsites: [{id: a, name: A}, {id: a, name: B}]\n", wantErr: "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestFileLayersOnDefaults(t *testing.T) {
	write := func(t *testing.T, yaml string) string {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("partial file keeps defaults", func(t *testing.T) {
		c, err := Load(write(t, "listen: 127.0.0.1:9000\nsites: [{id: blog, name: Blog, origins: ['https://blog.example']}]\n"), env(nil))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if c.Listen != "127.0.0.1:9000" || c.RateLimit.Burst != 3 || c.HTTP.ReadHeaderTimeout != 5*time.Second {
			t.Errorf("config = %+v, want the file's listen over the defaults", c)
		}
		if len(c.Sites) != 1 || c.Sites[0].ID != "blog" {
			t.Errorf("sites = %+v, want only the file's", c.Sites)
		}
	})
	t.Run("file without sites has no demo", func(t *testing.T) {
		c, err := Load(write(t, "listen: 127.0.0.1:9000\n"), env(nil))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if len(c.Sites) != 0 {
			t.Errorf("sites = %+v, want none", c.Sites)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := Load(write(t, "trusted_proxy: [10.0.0.0/8]\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), "trusted_proxy") {
			t.Errorf("err = %v, want one naming the unknown key", err)
		}
	})
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil)); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestRedisURLForms(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"rediss://:pw@cache.example:6380/2",
		"redis+cluster://n1:6379?addr=n2:6379&addr=n3:6379",
		"rediss+cluster://n1:6379",
		"redis+sentinel://s1:26379/1?master_name=main&addr=s2:26379",
		"rediss+sentinel://:spw@s1:26379?master_name=main&password=mpw",
	} {
		t.Run(u, func(t *testing.T) {
			if _, err := Load("", env(map[string]string{"COMMENTD_REDIS_URL": u})); err != nil {
				t.Errorf("Load with redis_url %q: %v", u, err)
			}
		})
	}
}
