package main

import (
	"context"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
)

func TestSeedProfile(t *testing.T) {
	cfg := os.Getenv("SEED_PROFILE_CONFIG")
	if cfg == "" {
		t.Skip()
	}
	f, _ := os.Create("/tmp/seedwork/cpu.prof")
	pprof.StartCPUProfile(f)
	defer pprof.StopCPUProfile()
	args := strings.Fields(os.Getenv("SEED_PROFILE_ARGS"))
	if err := run(context.Background(), append([]string{"seed", "--config", cfg}, args...), func(string) (string, bool) { return "", false }, strings.NewReader(""), os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
}
