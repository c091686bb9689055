package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/testenv"
)

// redisServer runs one redis-server (with its config file first, when conf
// is not empty, then the extra arguments) on a free port of 127.0.0.1 and returns that port once it answers PING. The process
// is killed when the test ends. It skips locally and fails under CI=true when
// redis-server is not installed.
func redisServer(t *testing.T, dir, conf string, extra ...string) int {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.CI() {
			t.Fatal("redis-server is not installed (CI=true, so this fails rather than skips)")
		}
		t.Skip("redis-server is not installed")
	}
	port := clusterablePort(t)
	var args []string
	if conf != "" {
		args = append(args, conf) // redis-server wants it first
	}
	args = append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	logFile, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server %v does not answer:\n%s", args, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port
}

// clusterablePort returns a free port whose cluster bus port (port+10000)
// is free too.
func clusterablePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair for redis-server")
	return 0
}

// TestRedisModes runs commentd against a real Redis Cluster node and a real
// Sentinel, through the redis+cluster and redis+sentinel URL forms, and
// checks that the shared limit is decided in that Redis (its keys appear
// there, no decision falls back to the process) and holds.
func TestRedisModes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup starts the servers and returns the redis_url for commentd
		// and a client on the node that holds the data.
		setup func(t *testing.T) (string, *redis.Client)
	}{
		{name: "cluster", setup: func(t *testing.T) (string, *redis.Client) {
			dir := t.TempDir()
			port := redisServer(t, dir, "", "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
			node := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
			t.Cleanup(func() { node.Close() })
			// One node holding every slot: it still refuses a script whose
			// keys span slots, which is what this mode must avoid.
			if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
				t.Fatalf("assign slots: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				info, _ := node.ClusterInfo(ctx).Result()
				if strings.Contains(info, "cluster_state:ok") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("cluster not ok: %s", info)
				}
				time.Sleep(50 * time.Millisecond)
			}
			return fmt.Sprintf("redis+cluster://127.0.0.1:%d", port), node
		}},
		{name: "sentinel", setup: func(t *testing.T) (string, *redis.Client) {
			master := testenv.PrivateRedisProcess(t)
			mopt, err := redis.ParseURL(master.URL())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			conf := filepath.Join(dir, "sentinel.conf")
			if err := os.WriteFile(conf, []byte("sentinel monitor main "+strings.Replace(mopt.Addr, ":", " ", 1)+" 1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			port := redisServer(t, dir, conf, "--sentinel")
			mopt.DB = 2
			node := redis.NewClient(mopt)
			t.Cleanup(func() { node.Close() })
			return fmt.Sprintf("redis+sentinel://127.0.0.1:%d/2?master_name=main", port), node
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redisURL, node := tt.setup(t)
			site := testenv.UniqueName("s")
			env := map[string]string{"COMMENTD_REDIS_URL": redisURL, "COMMENTD_DATABASE_URL": pgSchemaURL(t), "COMMENTD_ADMIN_TOKEN": "redis-modes-admin-token", "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}
			in := start(t, setup{yaml: siteYAML(site, ""), env: env})
			other := start(t, setup{yaml: siteYAML(site, ""), env: env})
			var got []int
			for i := range 4 {
				r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("m%d@example.org", i), "body": "hello"}, nil)
				got = append(got, r.status)
			}
			if want := []int{201, 201, 201, 429}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("statuses = %v, want %v", got, want)
			}
			keys, err := node.Keys(ctx, "commentd:rl:chain:{"+site+"}:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			// One address, network, page and site; three emails (the
			// refused fourth comment charges nothing).
			kinds := map[string]int{}
			for _, k := range keys {
				rest := strings.TrimPrefix(k, "commentd:rl:chain:{"+site+"}:")
				kind, _, _ := strings.Cut(rest, ":")
				kinds[kind]++
			}
			if want := map[string]int{"ip": 1, "net": 1, "page": 1, "all": 1, "email": 3}; fmt.Sprint(kinds) != fmt.Sprint(want) {
				t.Errorf("chain keys in Redis by kind = %v, want %v (keys %v)", kinds, want, keys)
			}
			// Events and thread versions go through this Redis too: a
			// moderator on the other instance sees a comment posted here,
			// and approving it counts a thread version.
			var held string
			heldEventOn(t, other, site, func() string {
				r := in.post(t, site, map[string]any{"page": "/q", "name": "N", "email": "e@example.org", "body": "watched"},
					map[string]string{"X-Forwarded-For": "192.0.2.1"})
				var c struct{ Comment struct{ ID string } }
				if r.status != 201 {
					t.Fatalf("post for the event: status %d %s", r.status, r.body)
				}
				r.decode(t, &c)
				held = c.Comment.ID
				return held
			})
			if r := other.mod(t, "POST", "/comments/"+held+"/approve"); r.status != 200 {
				t.Fatalf("approve: %d %s", r.status, r.body)
			}
			if v, err := node.Get(ctx, "commentd:{"+site+"}:thread-version").Int(); err != nil || v < 1 {
				t.Errorf("thread version in Redis = %d, %v; want at least 1", v, err)
			}
			metrics := in.call(t, "GET", "/metrics", nil, nil)
			if !strings.Contains(string(metrics.body), "commentd_ratelimit_fallbacks_total 0\n") {
				t.Errorf("some decisions fell back to the process:\n%s", grepLines(string(metrics.body), "fallbacks"))
			}
			if log := in.stdout.String() + in.stderr.String(); strings.Contains(log, "does not answer") {
				t.Errorf("commentd reports Redis unreachable:\n%s", log)
			}
		})
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
