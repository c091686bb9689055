// Command commentd-loadtest measures commentd under load and compares it with
// a bare Echo server that answers pre-encoded bodies of the same sizes.
//
// It builds commentd, starts it on a fresh database seeded with
// "commentd seed", drives it and the baseline with vegeta (as fast as a
// fixed number of keep-alive connections allow) through the public thread,
// revalidation, counts and submission paths, checks that every acknowledged
// submission is in the database, and prints a table. See
// docs/performance.md.
//
// Usage (from inside the module, as "make loadtest" does):
//
//	go run ./cmd/commentd-loadtest [-pages 100] [-comments 1000] [-pending 200]
//	    [-duration 10s] [-warmup 2s] [-workers 64] [-store sqlite|postgres] [-queue]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "commentd-loadtest:", err)
		os.Exit(1)
	}
}

// run is the whole program. With "baseline" as its first argument it is the
// baseline server (the load test starts itself that way); otherwise it runs
// the load test. The report goes to stdout, progress to stderr.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == baselineCommand {
		return serveBaseline(ctx, args[1:], stdout, stderr)
	}
	opt, err := parseOptions(args, lookupEnv, stderr)
	if err != nil {
		return err
	}
	return loadTest(ctx, opt, lookupEnv, stdout, stderr)
}
