package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// findRedis returns the Redis URL commentd should use (COMMENTD_REDIS_URL,
// else redis://127.0.0.1:6379/0) when it answers PING within a second, or
// "" when it does not; and a sentence for the report saying which.
func findRedis(ctx context.Context, lookupEnv func(string) (string, bool)) (string, string) {
	u, set := lookupEnv("COMMENTD_REDIS_URL")
	if !set {
		u = "redis://127.0.0.1:6379/0"
	}
	const without = "rate limits kept in commentd's process"
	if u == "" {
		return "", "no Redis (COMMENTD_REDIS_URL is empty): " + without
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		return "", fmt.Sprintf("no Redis (COMMENTD_REDIS_URL does not parse: %v): %s", err, without)
	}
	opt.DialTimeout = time.Second
	c := redis.NewClient(opt)
	defer c.Close()
	pingCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.Ping(pingCtx).Err(); err != nil {
		return "", fmt.Sprintf("no Redis (%s does not answer: %v): %s", opt.Addr, err, without)
	}
	return u, "Redis at " + opt.Addr + " (rate limits and live events)"
}

// machine describes the computer the run took place on.
type machine struct {
	cpus      int
	cpuModel  string
	memory    string
	goVersion string
	kernel    string
	loadavg   string // the 1, 5 and 15 minute load averages when the run began
}

func readMachine() machine {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version(), cpuModel: "unknown", memory: "unknown"}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kib, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				m.memory = fmt.Sprintf("%.1f GiB", kib/(1<<20))
			}
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			m.loadavg = strings.Join(f[:3], " ")
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(raw))
	}
	return m
}

// benchResult is one line of "go test -bench -benchmem".
type benchResult struct {
	name        string
	nsPerOp     float64
	bytesPerOp  float64
	allocsPerOp float64
}

// benchmarks are the Go benchmarks whose allocations per request the report
// shows, when internal/httpapi has them.
func benchmarks() []string { return []string{"BenchmarkThread", "BenchmarkSubmit", "BenchmarkCounts"} }

// runBenchmarks runs the benchmarks of internal/httpapi named in benchmarks
// (those that exist) once, with -benchmem, after the servers have stopped so
// that they have the machine to themselves. go test and the test binary it
// runs are killed when they take longer than timeout. It returns the results
// of the benchmarks that finished, and an error quoting the start of the
// output when go test failed.
func runBenchmarks(ctx context.Context, goTool string, timeout time.Duration) ([]benchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "test", "-run", "^$", "-bench", strings.Join(benchmarks(), "|"),
		"-benchmem", "-count", "1", "-timeout", timeout.String(), "./internal/httpapi")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = moduleRoot(ctx, goTool)
	// go test runs the test binary as its child: kill the whole process
	// group the command leads, not just go test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := parseBenchmarks(out.String())
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("not finished within %s, killed (%w)", timeout, err)
		}
		return res, fmt.Errorf("go test -bench: %w\n%s", err, firstLines(out.String(), 25))
	}
	return res, nil
}

// firstLines is the first n lines of s, and how many more there were.
func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "") + fmt.Sprintf("… (%d more lines)\n", len(lines)-n)
}

// parseBenchmarks reads the result lines of go test -bench -benchmem.
func parseBenchmarks(out string) []benchResult {
	suffix := regexp.MustCompile(`-\d+$`) // GOMAXPROCS
	var res []benchResult
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		r := benchResult{name: suffix.ReplaceAllString(f[0], "")}
		// After the name and the iteration count come value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.nsPerOp = v
			case "B/op":
				r.bytesPerOp = v
			case "allocs/op":
				r.allocsPerOp = v
			}
		}
		res = append(res, r)
	}
	return res
}

// moduleRoot is the directory of the main module's go.mod, or "" (the
// current directory) when the go command cannot say.
func moduleRoot(ctx context.Context, goTool string) string {
	out, err := exec.CommandContext(ctx, goTool, "env", "GOMOD").Output()
	if err != nil {
		return ""
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return ""
	}
	return strings.TrimSuffix(gomod, "/go.mod")
}
