package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// baselineCommand is the first argument that makes this program the
// baseline server.
const baselineCommand = "baseline"

// baselineETag is the one strong validator the baseline serves threads with.
const baselineETag = `"baseline-thread-v1"`

// baselineBanner starts the line on which the baseline prints its address.
const baselineBanner = "baseline listening on "

// serveBaseline runs the baseline: a bare Echo server (no middleware) on the
// same routes as commentd's public API, answering bodies encoded once at
// start, of the sizes commentd's answers have. A thread request carrying
// baselineETag in If-None-Match gets 304; a submission's body is read
// whole and answered 201. It serves until ctx is cancelled.
func serveBaseline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(baselineCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	threadBytes := fs.Int("thread-bytes", 4000, "size of a thread answer")
	countsBytes := fs.Int("counts-bytes", 500, "size of a counts answer")
	submitBytes := fs.Int("submit-bytes", 400, "size of a submission's 201 answer")
	queueBytes := fs.Int("queue-bytes", 40000, "size of a moderation queue page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	thread, counts, submit, queue := paddedJSON(*threadBytes), paddedJSON(*countsBytes), paddedJSON(*submitBytes), paddedJSON(*queueBytes)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/api/v1/sites/:site/comments", func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("ETag", baselineETag)
		h.Set("Cache-Control", "no-cache")
		if c.Request().Header.Get("If-None-Match") == baselineETag {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, thread)
	})
	e.GET("/api/v1/sites/:site/counts", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, counts)
	})
	e.POST("/api/v1/sites/:site/comments", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.Blob(http.StatusCreated, echo.MIMEApplicationJSON, submit)
	})
	e.GET("/api/v1/moderation/comments", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, queue)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "%shttp://%s\n", baselineBanner, ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("baseline: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// paddedJSON is a JSON document of exactly n bytes (at least 12) ending in a
// newline, as Echo's c.JSON writes them.
func paddedJSON(n int) []byte {
	const open, closing = `{"pad":"`, "\"}\n"
	return []byte(open + strings.Repeat("x", max(n-len(open)-len(closing), 0)) + closing)
}

// startBaseline starts this program again as the baseline server, with the
// sizes commentd's answers have.
func startBaseline(ctx context.Context, dir string, z sizes, workers int) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{baselineCommand,
		"-thread-bytes", strconv.Itoa(int(z.threadMean + 0.5)),
		"-counts-bytes", strconv.Itoa(z.counts),
		"-submit-bytes", strconv.Itoa(z.submit),
		"-queue-bytes", strconv.Itoa(max(z.queueFirst, 12)),
	}
	proc, addr, err := startChild(ctx, "baseline", self, args, childEnv(), filepath.Join(dir, "baseline.log"), baselineBanner)
	if err != nil {
		return nil, err
	}
	return newServer("baseline", addr, proc, workers), nil
}
