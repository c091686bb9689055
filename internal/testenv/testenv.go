// Package testenv finds the real services (Redis, PostgreSQL) and the browser
// (Chromium) that tests use. Locally a missing service skips the test that needs it; under CI=true
// it fails the test, so a run can never pass without exercising them.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RedisURL returns the URL of the test Redis (COMMENTD_TEST_REDIS_URL, by
// default redis://127.0.0.1:6379/0) after checking that it accepts
// connections.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := getenv("COMMENTD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	require(t, "Redis", u)
	return u
}

// PostgresURL returns the URL of the test PostgreSQL database
// (COMMENTD_TEST_POSTGRES_URL, by default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) after checking
// that it accepts connections.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := getenv("COMMENTD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	require(t, "PostgreSQL", u)
	return u
}

// UniqueName returns prefix followed by random hex, usable as a schema name,
// a site id or a key prefix that no other test run shares.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

// CI reports whether the tests run under CI=true, where nothing may skip.
func CI() bool { return os.Getenv("CI") == "true" }

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func require(t testing.TB, name, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("%s test URL %q: %v", name, rawURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		if CI() {
			t.Fatalf("%s does not answer at %s (CI=true, so this fails rather than skips): %v", name, u.Host, err)
		}
		t.Skipf("%s does not answer at %s: %v (start it to run this test; see README)", name, u.Host, err)
	}
	conn.Close()
}

// Chromium returns the path of the Chromium binary (COMMENTD_TEST_CHROMIUM,
// else chromium or chromium-browser on PATH). Like the services, a missing
// browser skips the test locally and fails it under CI=true.
func Chromium(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("COMMENTD_TEST_CHROMIUM"), "chromium", "chromium-browser"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if CI() {
		t.Fatal("Chromium is not installed (CI=true, so this fails rather than skips); apt-get install chromium")
	}
	t.Skip("Chromium is not installed; apt-get install chromium to run this test")
	return ""
}
