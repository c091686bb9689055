package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/httpapi"
	"github.com/commentd/commentd/internal/moderation"
)

// newLogger writes format ("json", else text) lines to w; every line
// logged with a request's context carries its request_id.
func newLogger(format string, w io.Writer) *slog.Logger {
	opt := &slog.HandlerOptions{Level: slog.LevelInfo}
	var h slog.Handler = slog.NewTextHandler(w, opt)
	if format == "json" {
		h = slog.NewJSONHandler(w, opt)
	}
	return slog.New(httpapi.LogHandler(h))
}

// moderationMetrics registers the service's series with reg: refusals by
// rate-limit bucket and database call latency.
func moderationMetrics(reg prometheus.Registerer) moderation.Metrics {
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commentd_ratelimit_refusals_total",
		Help: "Submissions refused by a rate limit, by the bucket that refused: ip, net, email, page or site.",
	}, []string{"bucket"})
	queries := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "commentd_db_query_duration_seconds",
		Help:    "Time of database calls, by operation: create_comment (storing a submission), duplicate_check, thread (a page's approved comments), counts, queue (a moderation queue page) or set_status (a moderation decision).",
		Buckets: prometheus.DefBuckets,
	}, []string{"op"})
	reg.MustRegister(refusals, queries)
	return moderation.Metrics{
		LimitRefused: func(bucket string) { refusals.WithLabelValues(bucket).Inc() },
		StoreCall:    func(op string, took time.Duration) { queries.WithLabelValues(op).Observe(took.Seconds()) },
	}
}

// redisTimer is a go-redis hook that times every command and pipeline.
type redisTimer struct{ seconds *prometheus.HistogramVec }

// newRedisTimer registers commentd_redis_command_duration_seconds with reg.
func newRedisTimer(reg prometheus.Registerer) redisTimer {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "commentd_redis_command_duration_seconds",
		Help: "Time of Redis calls, failed ones included, by command (lower case; \"pipeline\" for a pipeline or transaction).",
		// Redis answers in well under a millisecond when healthy; the
		// callers give up after 100ms.
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"command"})
	reg.MustRegister(h)
	return redisTimer{seconds: h}
}

func (t redisTimer) DialHook(next redis.DialHook) redis.DialHook { return next }

func (t redisTimer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		t.seconds.WithLabelValues(strings.ToLower(cmd.Name())).Observe(time.Since(start).Seconds())
		return err
	}
}

func (t redisTimer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		t.seconds.WithLabelValues("pipeline").Observe(time.Since(start).Seconds())
		return err
	}
}

// serveMetrics serves h at /metrics on its own address until the returned
// function is called.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
