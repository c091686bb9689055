package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process the load test started: commentd or the
// baseline. Its stdout and stderr go to a log file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startChild starts bin with args and env and returns once the process has
// printed a line starting with banner, together with the rest of that line
// (commentd and the baseline print their address there). Errors: the process
// could not start, exited, or printed no banner within a minute; the error
// quotes the end of its log.
func startChild(ctx context.Context, name, bin string, args, env []string, logPath, banner string) (*child, string, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = &bannerWriter{out: logFile, banner: banner, found: found}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	select {
	case rest := <-found:
		return c, strings.TrimSpace(rest), nil
	case <-c.exited:
		return nil, "", fmt.Errorf("%s exited at start (%v):\n%s", name, c.waitErr, c.logTail())
	case <-time.After(time.Minute):
		err = fmt.Errorf("%s printed no %q within a minute:\n%s", name, banner, c.logTail())
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = c.stop()
	return nil, "", err
}

// stop asks the process to finish (SIGTERM: commentd finishes the requests
// in flight), kills it if it has not exited within 30 s, and waits for it.
// It returns an error when the process had to be killed or exited with an
// error; calling it again returns the same.
func (c *child) stop() error {
	c.stopOnce.Do(func() {
		select {
		case <-c.exited:
			c.stopErr = c.exitError()
			return
		default:
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.stopErr = fmt.Errorf("signal %s: %w", c.name, err)
		}
		select {
		case <-c.exited:
			if c.stopErr == nil {
				c.stopErr = c.exitError()
			}
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
			c.stopErr = fmt.Errorf("%s did not stop within 30 s of SIGTERM and was killed", c.name)
		}
	})
	return c.stopErr
}

func (c *child) exitError() error {
	if c.waitErr != nil {
		return fmt.Errorf("%s: %w:\n%s", c.name, c.waitErr, c.logTail())
	}
	return nil
}

// peakRSSKiB is the process's peak resident set size so far (VmHWM), in
// KiB, or 0 when it cannot be read (the process is gone, or no /proc).
func (c *child) peakRSSKiB() int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the CPU time (user and system) the process has used so far,
// or 0 when it cannot be read. /proc counts it in ticks of 1/100 s, the
// USER_HZ of every Linux architecture Go runs on.
func (c *child) cpuTime() time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may contain spaces; the fields
	// after it start with the state (field 3); utime and stime are 14 and 15.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// logTail is the last few lines of the process's log, for error messages.
func (c *child) logTail() string {
	raw, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const keep = 2000
	if len(raw) > keep {
		raw = raw[len(raw)-keep:]
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	return string(raw)
}

// bannerWriter copies a process's stdout to out and sends the rest of the
// first line that starts with banner to found.
type bannerWriter struct {
	out    *os.File
	banner string
	found  chan<- string
	line   []byte
	done   bool
}

func (w *bannerWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.line = append(w.line, p...)
		for !w.done {
			i := bytes.IndexByte(w.line, '\n')
			if i < 0 {
				break // the rest of the line is still to come
			}
			if rest, ok := strings.CutPrefix(strings.TrimRight(string(w.line[:i]), "\r"), w.banner); ok {
				w.found <- rest
				w.done = true
				w.line = nil
				break
			}
			w.line = w.line[i+1:]
		}
	}
	return w.out.Write(p)
}
