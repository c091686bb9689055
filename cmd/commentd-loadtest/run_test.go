//go:build loadtest

// A whole run, a short one: it builds commentd, seeds it and drives both
// servers for about ten seconds. Run it with
//
//	go test -tags loadtest ./cmd/commentd-loadtest
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary be the baseline server, which the load test
// starts by running its own executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == baselineCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := serveBaseline(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestShortRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-pages", "5", "-comments", "50", "-pending", "5", "-duration", "1s", "-warmup", "200ms", "-workers", "8", "-bench=false"}
	err := run(context.Background(), args, os.LookupEnv, &stdout, &stderr)
	t.Logf("progress:\n%s", stderr.String())
	t.Logf("report:\n%s", stdout.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"commentd/baseline",
		"thread read (10 comments)",
		"thread read revalidated (304)",
		"counts for 5 pages",
		"comment submission",
		"peak RSS (VmHWM): commentd ",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(stdout.String(), "\ndurability: ") || !strings.Contains(stdout.String(), ": OK\n") {
		t.Errorf("report lacks a passed durability check")
	}
}
