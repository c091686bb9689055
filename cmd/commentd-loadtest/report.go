package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is everything a run prints at its end.
type report struct {
	opt          options
	machine      machine
	store        string
	redis        string
	seeded       string
	pageComments float64
	sizes        sizes
	noETag       int // commentd's threads served without an ETag
	rows         []resultRow
	peakRSS      map[string]int64 // KiB, by server name
	durability   durability
	bench        []benchResult
	benchErr     error
	elapsed      time.Duration
}

// resultRow is one scenario on both servers.
type resultRow struct {
	name               string
	baseline, commentd *tally
}

// durability compares the stored comments with the acknowledged
// submissions.
type durability struct {
	before, after int // comments stored before commentd started and after it stopped
	acknowledged  int // 2xx answers to submissions
}

func (d durability) ok() bool { return d.after-d.before == d.acknowledged }

func (r *report) print(w io.Writer) {
	o, m, z := r.opt, r.machine, r.sizes
	fmt.Fprintf(w, "\ncommentd load test, %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "machine:   %d CPUs (%s), %s RAM, %s, %s; load average at the start %s\n", m.cpus, m.cpuModel, m.memory, m.kernel, m.goVersion, m.loadavg)
	fmt.Fprintf(w, "commentd:  %s; %s\n", r.store, r.redis)
	fmt.Fprintf(w, "data:      %s (%.4g approved comments per page)\n", r.seeded, r.pageComments)
	fmt.Fprintf(w, "load:      vegeta, %d workers on keep-alive connections, as fast as they go; per scenario and server %s warm-up, then %s measured; same machine as both servers\n",
		o.workers, o.warmup, o.duration)
	fmt.Fprintf(w, "answers:   thread %.0f B (min %d, max %d), counts %d B, submission %d B", z.threadMean, z.threadMin, z.threadMax, z.counts, z.submit)
	if o.queue {
		fmt.Fprintf(w, ", queue page %d B", z.queueFirst)
	}
	fmt.Fprintln(w, "; the baseline (bare Echo, no middleware) answers pre-encoded bodies of these sizes")
	if r.noETag > 0 {
		fmt.Fprintf(w, "note:      commentd served %d of %d threads without an ETag; their revalidations get full answers and count as errors\n", r.noETag, o.pages)
	}
	if o.queue && z.queuePage < 50 {
		fmt.Fprintf(w, "note:      the queue has only %d pages of 50; the deep-page scenario reads its last page (seed -pending %d or more for page 50)\n", z.queuePage, 49*50+1)
	}

	width := len("scenario")
	for _, row := range r.rows {
		width = max(width, len([]rune(row.name)))
	}
	line := func(scenario, server, rate, p50, p99, errs, cpu, ratio string) {
		l := fmt.Sprintf("%-*s  %-8s  %9s  %8s  %8s  %7s  %8s  %s", width, scenario, server, rate, p50, p99, errs, cpu, ratio)
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
	fmt.Fprintln(w)
	line("scenario", "server", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs", "commentd/baseline")
	for _, row := range r.rows {
		b, c := row.baseline, row.commentd
		line(row.name, "baseline", fmt.Sprintf("%.0f", b.rate()), ms(b.quantile(0.50)), ms(b.quantile(0.99)), fmt.Sprint(b.errors()), us(b.cpuPerRequest()), "")
		ratio := "-"
		if b.rate() > 0 {
			ratio = fmt.Sprintf("%.2f", c.rate()/b.rate())
		}
		line("", "commentd", fmt.Sprintf("%.0f", c.rate()), ms(c.quantile(0.50)), ms(c.quantile(0.99)), fmt.Sprint(c.errors()), us(c.cpuPerRequest()), ratio)
	}
	fmt.Fprintln(w, "req/s: answered requests per second; p50, p99: latency; errors: requests without the expected answer")
	fmt.Fprintln(w, "(200 for reads, 304 for revalidations, 2xx for submissions); CPU µs: the server process's CPU time")
	fmt.Fprintln(w, "(user and system) per request; commentd/baseline: ratio of req/s.")

	fmt.Fprintln(w, "\nanswers by status:")
	for _, row := range r.rows {
		for _, t := range []struct {
			server string
			t      *tally
		}{{"baseline", row.baseline}, {"commentd", row.commentd}} {
			fmt.Fprintf(w, "  %-*s  %-8s  %s\n", width, row.name, t.server, statusSummary(t.t))
		}
	}

	d := r.durability
	verdict := "OK"
	if !d.ok() {
		verdict = fmt.Sprintf("FAILED: %+d comments stored for %d acknowledged", d.after-d.before, d.acknowledged)
	}
	fmt.Fprintf(w, "\ndurability: comments in the database before commentd started %d, after it stopped %d (+%d); 2xx answers to submissions %d: %s\n",
		d.before, d.after, d.after-d.before, d.acknowledged, verdict)
	fmt.Fprintf(w, "peak RSS (VmHWM): commentd %s, baseline %s\n", mib(r.peakRSS["commentd"]), mib(r.peakRSS["baseline"]))

	if o.bench {
		fmt.Fprintln(w, "\nGo benchmarks of internal/httpapi (in-process, no network; one run each):")
		if len(r.bench) > 0 {
			fmt.Fprintf(w, "  %-26s  %10s  %9s  %9s\n", "benchmark", "ns/op", "B/op", "allocs/op")
			for _, b := range r.bench {
				fmt.Fprintf(w, "  %-26s  %10.0f  %9.0f  %9.0f\n", b.name, b.nsPerOp, b.bytesPerOp, b.allocsPerOp)
			}
		}
		if r.benchErr != nil {
			fmt.Fprintf(w, "  failed: %v\n", r.benchErr)
		} else {
			for _, name := range benchmarks() {
				if !slices.ContainsFunc(r.bench, func(b benchResult) bool { return strings.HasPrefix(b.name, name) }) {
					fmt.Fprintf(w, "  %-26s  (no such benchmark)\n", name)
				}
			}
		}
	}
	fmt.Fprintf(w, "\ntotal time %s\n", r.elapsed.Round(time.Second))
}

// statusSummary lists the answers by status, and the requests that got
// none by error, most frequent first.
func statusSummary(t *tally) string {
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(t.codes)) {
		parts = append(parts, fmt.Sprintf("%d ×%d", code, t.codes[code]))
	}
	errs := slices.SortedFunc(maps.Keys(t.failures), func(a, b string) int { return t.failures[b] - t.failures[a] })
	for _, e := range errs {
		parts = append(parts, fmt.Sprintf("no answer ×%d (%s)", t.failures[e], e))
	}
	if len(parts) == 0 {
		return "no requests"
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond)) }

func mib(kib int64) string {
	if kib == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}
