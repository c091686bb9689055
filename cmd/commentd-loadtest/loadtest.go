package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// options are the load test's flags.
type options struct {
	pages, comments, pending int
	duration, warmup         time.Duration
	workers                  int
	countPages               int
	store                    string // "sqlite" or "postgres"
	postgresURL              string // the database in which a schema is created and dropped
	queue                    bool
	bench                    bool
	benchTimeout             time.Duration
	goTool                   string
	keep                     bool
}

// siteID is the site the load test declares, seeds and drives.
const siteID = "loadtest"

func parseOptions(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (options, error) {
	var o options
	pgDefault := "postgres://postgres@127.0.0.1:5432/test"
	if v, ok := lookupEnv("COMMENTD_TEST_POSTGRES_URL"); ok && v != "" {
		pgDefault = v
	}
	fs := flag.NewFlagSet("commentd-loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.pages, "pages", 100, "pages to seed (/articles/00000, ...)")
	fs.IntVar(&o.comments, "comments", 1000, "approved comments to seed, spread evenly over the pages")
	fs.IntVar(&o.pending, "pending", 200, "pending comments to seed (the moderation queue)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each scenario on each server")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.IntVar(&o.workers, "workers", 64, "concurrent requests, each on its own keep-alive connection")
	fs.IntVar(&o.countPages, "count-pages", 20, "page parameters of each counts request")
	fs.StringVar(&o.store, "store", "sqlite", "commentd's database: sqlite (a file in a temporary directory) or postgres")
	fs.StringVar(&o.postgresURL, "postgres-url", pgDefault, "with -store postgres: the database in which a schema is created for the run and dropped after it")
	fs.BoolVar(&o.queue, "queue", false, "also measure the moderation queue's first and 50th page (seed -pending 2500 or more for a 50th page)")
	fs.BoolVar(&o.bench, "bench", true, "also run the Go benchmarks of internal/httpapi for allocations per request")
	fs.DurationVar(&o.benchTimeout, "bench-timeout", 150*time.Second, "stop the Go benchmarks after this long")
	fs.StringVar(&o.goTool, "go", "go", "the go command, for building commentd and running the benchmarks")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, database, server logs)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.pages < 1 || o.comments < 0 || o.pending < 0:
		return o, errors.New("-pages must be at least 1, -comments and -pending at least 0")
	case o.duration <= 0 || o.warmup < 0:
		return o, errors.New("-duration must be positive and -warmup not negative")
	case o.workers < 1 || o.countPages < 1:
		return o, errors.New("-workers and -count-pages must be at least 1")
	case o.store != "sqlite" && o.store != "postgres":
		return o, fmt.Errorf("-store %q: want sqlite or postgres", o.store)
	}
	o.countPages = min(o.countPages, o.pages, 100)
	return o, nil
}

// loadTest runs the whole measurement and prints its report to stdout.
// Every process it starts is stopped, and its temporary directory and
// PostgreSQL schema removed, before it returns.
func loadTest(ctx context.Context, opt options, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) (err error) {
	began := time.Now()
	progress := func(format string, a ...any) {
		fmt.Fprintf(stderr, "[%5.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, a...))
	}
	dir, err := os.MkdirTemp("", "commentd-loadtest-")
	if err != nil {
		return err
	}
	defer func() {
		if opt.keep || err != nil {
			progress("kept %s (config, database, server logs)", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()

	rep := &report{opt: opt, machine: readMachine(), pageComments: float64(opt.comments) / float64(opt.pages)}
	progress("building commentd")
	bin, err := buildCommentd(ctx, opt.goTool, dir)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, opt, dir)
	if err != nil {
		return err
	}
	defer db.drop()
	rep.store = db.desc
	redisURL, redisNote := findRedis(ctx, lookupEnv)
	rep.redis = redisNote
	progress("rate limits: %s", redisNote)

	setup := commentdSetup{bin: bin, dir: dir, databaseURL: db.url, redisURL: redisURL, adminToken: randomHex(24)}
	if setup.config, err = writeConfig(setup); err != nil {
		return err
	}
	if err := importRules(ctx, setup); err != nil {
		return err
	}
	progress("seeding %d pages, %d approved and %d pending comments", opt.pages, opt.comments, opt.pending)
	if rep.seeded, err = seed(ctx, setup, opt); err != nil {
		return err
	}
	before, err := db.count(ctx)
	if err != nil {
		return err
	}

	cd, err := startCommentd(ctx, setup, opt.workers)
	if err != nil {
		return err
	}
	defer cd.proc.stop()
	progress("commentd listening on %s", cd.base)

	pages := pageKeys(opt.pages)
	sizes, err := probeCommentd(ctx, cd, opt, pages, setup.adminToken)
	if err != nil {
		return err
	}
	rep.sizes = sizes
	submitted := sizes.submitted // the probe's own submission

	bl, err := startBaseline(ctx, dir, sizes, opt.workers)
	if err != nil {
		return err
	}
	defer bl.proc.stop()
	progress("baseline listening on %s", bl.base)
	if _, _, _, err := learnThreads(ctx, bl, pages); err != nil {
		return err
	}

	for _, sc := range scenarios(opt, pages, setup.adminToken, sizes) {
		row := resultRow{name: sc.name}
		for _, srv := range []*server{bl, cd} {
			tr := sc.targeter(srv)
			progress("%s: %s, %s warm-up and %s measured", sc.name, srv.name, opt.warmup, opt.duration)
			warm := attack(ctx, srv, tr, opt.workers, opt.warmup, sc.expect)
			got := attack(ctx, srv, tr, opt.workers, opt.duration, sc.expect)
			if err := ctx.Err(); err != nil {
				return err
			}
			if srv == bl {
				row.baseline = got
			} else {
				row.commentd = got
				if sc.submits {
					submitted += warm.answered2xx() + got.answered2xx()
				}
			}
		}
		rep.rows = append(rep.rows, row)
	}
	rep.noETag = cd.missingETags

	rep.peakRSS = map[string]int64{"commentd": cd.proc.peakRSSKiB(), "baseline": bl.proc.peakRSSKiB()}
	progress("stopping the servers")
	if err := cd.proc.stop(); err != nil {
		return fmt.Errorf("stop commentd: %w", err)
	}
	_ = bl.proc.stop()
	after, err := db.count(ctx)
	if err != nil {
		return err
	}
	rep.durability = durability{before: before, after: after, acknowledged: submitted}

	if opt.bench {
		progress("running the Go benchmarks of internal/httpapi")
		rep.bench, rep.benchErr = runBenchmarks(ctx, opt.goTool, opt.benchTimeout)
	}
	rep.elapsed = time.Since(began)
	rep.print(stdout)
	if !rep.durability.ok() {
		return errors.New("durability check failed: the database does not hold exactly the acknowledged submissions")
	}
	return nil
}

// pageKeys are the seeded pages' keys, as "commentd seed" names them.
func pageKeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/articles/%05d", i)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
