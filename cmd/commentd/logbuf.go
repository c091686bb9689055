package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logBuffer gathers log lines and writes them out at least every interval
// (and whenever 64 KiB are waiting), rather than one write per line: under
// load, one system call per request for its access line costs more than the
// rest of a cached thread read. Lines logged in the last interval before
// the process is killed can be lost; Close writes out the rest.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done sync.WaitGroup
}

func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{})}
	b.done.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.flush()
			case <-b.stop:
				b.flush()
				return
			}
		}
	})
	return b
}

// Write keeps p (one log line from slog) for the next flush.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush() // nowhere to report a failing log output
}

// Close writes out what is waiting and stops the flushing.
func (b *logBuffer) Close() {
	close(b.stop)
	b.done.Wait()
}
