// Package testenv finds the real services (Redis, PostgreSQL) and the browser
// (Chromium) that tests use. Locally a missing service skips the test that needs it; under CI=true
// it fails the test, so a run can never pass without exercising them.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// PrivateRedis starts a redis-server that only the calling test uses and
// returns its URL (redis://127.0.0.1:PORT/0). Use it instead of RedisURL for
// tests that disturb the server (CLIENT PAUSE, CONFIG SET, FLUSHALL,
// stopping it), since the shared Redis serves every package running in
// parallel. See PrivateRedisProcess for the contract.
func PrivateRedis(t testing.TB) string {
	t.Helper()
	return PrivateRedisProcess(t).URL()
}

// RedisProcess is a redis-server started by PrivateRedisProcess. Its methods
// may fail the test, so call them from the test's goroutine only.
type RedisProcess struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd     // nil while stopped
	done chan struct{} // closed once cmd has exited
}

// PrivateRedisProcess starts redis-server (from PATH) on a free port of
// 127.0.0.1, with no persistence and its working directory in t.TempDir(),
// and returns once it answers PING. When the test ends the process is killed
// and waited for. If redis-server is not installed the test is skipped
// locally and fails under CI=true; if it does not start and answer within 5s
// the test fails.
func PrivateRedisProcess(t testing.TB) *RedisProcess {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if CI() {
			t.Fatal("redis-server is not installed (CI=true, so this fails rather than skips); apt-get install redis-server")
		}
		t.Skip("redis-server is not installed; apt-get install redis-server to run this test")
	}
	p := &RedisProcess{t: t, dir: t.TempDir()}
	t.Cleanup(p.Stop) // registered after TempDir, so it runs before the removal
	// Another process may take the free port before redis-server binds it;
	// a fresh port is then the cure.
	for attempt := 1; ; attempt++ {
		p.port, err = freePort()
		if err == nil {
			err = p.start(bin)
		}
		if err == nil {
			return p
		}
		if attempt == 3 {
			t.Fatalf("start private redis-server: %v", err)
		}
	}
}

// URL returns redis://127.0.0.1:PORT/0. It stays the same across Stop and
// Start.
func (p *RedisProcess) URL() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0", p.port)
}

// Stop kills the server (SIGKILL, as if it crashed) and waits for it to
// exit; connections to it break and new ones are refused. Stopping a
// stopped server does nothing.
func (p *RedisProcess) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill() // fails only if it has exited already
	<-p.done
	p.cmd = nil
}

// Start starts a stopped server again on the same port and returns once it
// answers PING. Nothing survives a restart: the new server is empty. Start
// fails the test if the server is running or does not come up within 5s
// (for instance because something else took the port meanwhile).
func (p *RedisProcess) Start() {
	p.t.Helper()
	if p.cmd != nil {
		p.t.Fatal("RedisProcess.Start: already running")
	}
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		err = p.start(bin)
	}
	if err != nil {
		p.t.Fatalf("restart private redis-server: %v", err)
	}
}

// start runs bin on p.port and waits for PING; on failure the process is
// gone and the error quotes its log.
func (p *RedisProcess) start(bin string) error {
	logPath := filepath.Join(p.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child holds its own descriptor
	port := strconv.Itoa(p.port)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", p.dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.done = cmd, make(chan struct{})
	done := p.done
	go func() {
		cmd.Wait()
		close(done)
	}()

	addr := net.JoinHostPort("127.0.0.1", port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			err = fmt.Errorf("redis-server exited: %v", cmd.ProcessState)
		default:
			if time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			err = fmt.Errorf("no answer at %s within 5s: %w", addr, err)
		}
		p.Stop()
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w; log %s:\n%s", err, logPath, out)
	}
}

// ping sends PING over a fresh connection and wants +PONG within a second.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener address is not TCP")
	}
	return addr.Port, nil
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
