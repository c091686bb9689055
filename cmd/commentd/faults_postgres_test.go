//go:build faults

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/testenv"
)

// TestFaultPostgresRestart: commentd runs on a PostgreSQL cluster of its
// own, which is stopped with `pg_ctl stop -m immediate` (a crash, as far as
// the clients can tell) while four clients post, and started again two
// seconds later. Without a restart of commentd, submissions are answered
// 201 again within 15 s; meanwhile answers are 503 with Retry-After (or no
// answer), never 500; and every comment answered 201 is stored exactly
// once under the id it was given.
func TestFaultPostgresRestart(t *testing.T) {
	const (
		clients      = 4
		recoverLimit = 15 * time.Second
	)
	pg := privatePostgres(t)
	site := testenv.UniqueName("s")
	config := writeFaultConfig(t, site, faultOptions{})
	p := startProcess(t, config, map[string]string{
		"COMMENTD_LISTEN":       "127.0.0.1:0",
		"COMMENTD_DATABASE_URL": pg.url(),
		"COMMENTD_REDIS_URL":    "",
	})
	c := newCrowd(t, site, "pgrestart", func() string { return p.base })
	c.start(clients)
	time.Sleep(1500 * time.Millisecond)

	downAt := time.Now()
	if err := pg.stopImmediate(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if code := readyStatus(p.base); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while PostgreSQL is down: %d, want 503", code)
	}
	time.Sleep(time.Second)
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()

	// Recovered once every client has had a 201 since PostgreSQL came back.
	var recoveredAt time.Time
	for time.Since(upAt) < recoverLimit {
		if at, ok := c.allCreatedSince(upAt, clients); ok {
			recoveredAt = at
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if recoveredAt.IsZero() {
		c.finish(time.Second)
		t.Fatalf("no 201 for every client within %s of PostgreSQL's return; %s\nstderr:\n%s", recoverLimit, c.stats(), p.stderr.String())
	}
	if code := readyStatus(p.base); code != http.StatusOK {
		t.Errorf("/readyz after recovery: %d, want 200", code)
	}
	time.Sleep(500 * time.Millisecond)
	if !c.finish(30 * time.Second) {
		t.Errorf("clients did not settle their comments within 30s of recovery")
	}
	p.terminate()
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM; stderr:\n%s", code, p.stderr.String())
	}

	outage := map[string]int{}
	c.mu.Lock()
	for _, a := range c.attempts {
		if a.at.After(downAt) && a.at.Before(recoveredAt) && a.status != http.StatusCreated {
			switch {
			case a.status == 0:
				outage["no answer"]++
			default:
				outage[strconv.Itoa(a.status)]++
			}
		}
	}
	c.mu.Unlock()
	t.Logf("PostgreSQL down %s; every client answered 201 again %s after it was back; answers meanwhile: %v; %s",
		upAt.Sub(downAt).Round(time.Millisecond), recoveredAt.Sub(upAt).Round(time.Millisecond), outage, c.stats())
	if outage["503"] == 0 {
		t.Errorf("no 503 while PostgreSQL was down (answers: %v): the outage was not observed", outage)
	}
	if strings.Contains(p.stderr.String(), "level=ERROR") {
		t.Errorf("the outage was logged as internal errors:\n%s", p.stderr.String())
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.url())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT id, body FROM comments WHERE site_id = $1", site)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]string{}
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		stored[body] = append(stored[body], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	c.checkStored(t, stored)
}

// allCreatedSince reports whether each of the clients has had an attempt
// answered 201 after since, and when the last of them had its first.
func (c *crowd) allCreatedSince(since time.Time, clients int) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := map[int]time.Time{}
	for _, a := range c.attempts {
		if a.status == http.StatusCreated && a.at.After(since) {
			if at, ok := first[a.client]; !ok || a.at.Before(at) {
				first[a.client] = a.at
			}
		}
	}
	if len(first) < clients {
		return time.Time{}, false
	}
	var last time.Time
	for _, at := range first {
		if at.After(last) {
			last = at
		}
	}
	return last, true
}

func readyStatus(base string) int {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pgCluster is a PostgreSQL cluster that only the calling test uses, so
// that it may be stopped and started (the shared server at 5432 serves
// other tests running in parallel).
type pgCluster struct {
	t      *testing.T
	binDir string
	dir    string // owned by the cluster's user: data, socket, log
	port   int
	asUser string // run the server programs as this user ("" for the current one)
}

// privatePostgres creates a cluster in a temporary directory, starts it on
// a free port of 127.0.0.1 with trust authentication, and stops it when
// the test ends. PostgreSQL refuses to run as root, so as root it runs as
// the postgres user. If it cannot be set up the test is skipped, or fails
// under CI=true.
func privatePostgres(t *testing.T) *pgCluster {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if testenv.CI() {
			t.Fatalf("private PostgreSQL (CI=true, so this fails rather than skips): "+format, args...)
		}
		t.Skipf("private PostgreSQL: "+format, args...)
	}
	binDir := newestPostgresBin()
	if binDir == "" {
		unavailable("no /usr/lib/postgresql/*/bin/pg_ctl; apt-get install postgresql")
	}
	c := &pgCluster{t: t, binDir: binDir}
	dir, err := os.MkdirTemp("", "commentd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		_ = c.stopImmediate()
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable("running as root and there is no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = "postgres"
	}
	if out, err := c.command("initdb", "-D", c.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		unavailable("initdb: %v\n%s", err, out)
	}
	c.port = freeTCPPort(t)
	if err := c.start(); err != nil {
		unavailable("%v", err)
	}
	return c
}

// newestPostgresBin returns the bin directory of the newest PostgreSQL
// installed under /usr/lib/postgresql, or "".
func newestPostgresBin() string {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(found[i]))), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(found[j]))), 64)
		return vi < vj
	})
	if len(found) == 0 {
		return ""
	}
	return filepath.Dir(found[len(found)-1])
}

func (c *pgCluster) dataDir() string { return filepath.Join(c.dir, "data") }

// command runs one of PostgreSQL's programs as the cluster's user.
func (c *pgCluster) command(program string, args ...string) *exec.Cmd {
	path := filepath.Join(c.binDir, program)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	return cmd
}

func (c *pgCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// start starts the server and waits until it accepts connections.
func (c *pgCluster) start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=40", c.port, c.dir)
	out, err := c.command("pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\nserver log:\n%s", err, out, log)
	}
	return nil
}

// stopImmediate stops the server the way a crash would: no checkpoint,
// every connection cut; the next start recovers from the WAL.
func (c *pgCluster) stopImmediate() error {
	out, err := c.command("pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "60", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}
