// Command commentd is a self-hosted comment moderation service.
//
//	commentd serve [--config FILE]
//
// main only sets up signals and calls run, so that the whole binary can be
// started inside a test.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal starts the graceful shutdown, a second one
	// should end the process at once, as it would without the handler.
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "commentd:", err)
		os.Exit(1)
	}
}
