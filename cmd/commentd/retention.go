package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/httpapi"
)

// pendingCacheTTL is how long one reading of the moderation backlog answers
// /readyz and /metrics, so that probes and scrapes cost at most one query
// per instance in that time.
const pendingCacheTTL = 2 * time.Second

// pendingTimeout bounds the backlog query made for a scrape.
const pendingTimeout = 2 * time.Second

// batchPause is the rest between two full batches of the retention job,
// which lets other writers take SQLite's lock in between.
const batchPause = 10 * time.Millisecond

// startRetention starts the client-data retention job (unless
// retention.client_data is 0) and registers the moderation backlog gauges
// with reg. It returns what /readyz reports of the backlog. The job runs
// until ctx ends.
func startRetention(ctx context.Context, jobs *sync.WaitGroup, cfg config.Config, store comment.RetentionStore, log *slog.Logger, reg prometheus.Registerer) httpapi.PendingCheck {
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "commentd_client_data_expired_total",
		Help: "Comments whose IP address and user agent the retention job truncated or deleted.",
	})
	reg.MustRegister(expired)
	if cfg.Retention.ClientData > 0 {
		job := &retentionJob{
			store:    store,
			keep:     cfg.Retention.ClientData,
			mode:     comment.ClientDataMode(cfg.Retention.ClientDataMode),
			interval: cfg.Retention.Interval,
			batch:    comment.DefaultExpireBatch,
			now:      time.Now,
			log:      log,
			expired:  expired,
		}
		log.Info("client data retention", "keep", job.keep.String(), "mode", string(job.mode), "interval", job.interval.String())
		jobs.Go(func() { job.run(ctx) })
	} else {
		log.Info("client data retention off: IP addresses and user agents are kept forever")
	}
	backlog := &pendingReport{store: store, warnAfter: cfg.Retention.PendingWarnAfter, now: time.Now, ttl: pendingCacheTTL}
	reg.MustRegister(newPendingCollector(backlog, log))
	return backlog.check
}

// retentionJob expires comments' client data once they are older than
// keep: at start, then every interval, batch comments per transaction.
type retentionJob struct {
	store    comment.RetentionStore
	keep     time.Duration
	mode     comment.ClientDataMode
	interval time.Duration
	batch    int
	now      func() time.Time
	log      *slog.Logger
	expired  prometheus.Counter
}

// run runs the job until ctx ends.
func (j *retentionJob) run(ctx context.Context) {
	tick := time.NewTicker(j.interval)
	defer tick.Stop()
	for {
		j.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// once works through every comment due, a batch at a time, and logs how
// many it changed. An error ends this run; the next run starts over, and
// finds only what is still due.
func (j *retentionJob) once(ctx context.Context) int {
	started := time.Now()
	before := j.now().UTC().Add(-j.keep).Truncate(time.Microsecond)
	total := 0
	var err error
	for ctx.Err() == nil {
		var n int
		n, err = j.store.ExpireClientData(ctx, before, j.mode, j.batch)
		total += n
		j.expired.Add(float64(n))
		if err != nil || n < j.batch {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(batchPause):
		}
	}
	switch {
	case err != nil && ctx.Err() == nil:
		level := slog.LevelError
		if errors.Is(err, comment.ErrUnavailable) {
			level = slog.LevelWarn // a busy database; the next run tries again
		}
		j.log.LogAttrs(ctx, level, "client data retention failed; retrying at the next run",
			slog.Int("comments", total), slog.String("err", err.Error()))
	case total > 0:
		j.log.LogAttrs(ctx, slog.LevelInfo, "client data expired",
			slog.Int("comments", total), slog.String("mode", string(j.mode)),
			slog.Time("created_before", before), slog.Duration("took", time.Since(started).Round(time.Millisecond)))
	}
	return total
}

// pendingReport reads the moderation backlog for /readyz and /metrics,
// reusing one reading for ttl.
type pendingReport struct {
	store     comment.RetentionStore
	warnAfter time.Duration // 0: nothing is overdue
	now       func() time.Time
	ttl       time.Duration

	// querying is held by the one caller reading the store; others serve
	// the last reading meanwhile rather than queueing behind a slow query.
	querying sync.Mutex
	mu       sync.Mutex // guards at and stats
	at       time.Time  // when stats were read; zero before the first reading
	stats    []comment.PendingStat
}

// last returns the latest reading and whether it is still within ttl.
func (r *pendingReport) last(now time.Time) ([]comment.PendingStat, time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats, r.at, !r.at.IsZero() && now.Sub(r.at) < r.ttl
}

// read returns the latest backlog and the current time. While another
// caller is querying, it answers with the previous reading, if any.
func (r *pendingReport) read(ctx context.Context) ([]comment.PendingStat, time.Time, error) {
	now := r.now()
	stats, at, fresh := r.last(now)
	if fresh {
		return stats, now, nil
	}
	if !r.querying.TryLock() {
		if !at.IsZero() {
			return stats, now, nil
		}
		r.querying.Lock() // the very first reading: wait for it
	}
	defer r.querying.Unlock()
	if stats, _, fresh := r.last(now); fresh {
		return stats, now, nil
	}
	var overdue time.Time // the zero time: no comment is older
	if r.warnAfter > 0 {
		overdue = now.UTC().Add(-r.warnAfter)
	}
	stats, err := r.store.PendingStats(ctx, overdue)
	if err != nil {
		return nil, now, err
	}
	r.mu.Lock()
	r.stats, r.at = stats, now
	r.mu.Unlock()
	return stats, now, nil
}

// check is the httpapi.PendingCheck of /readyz.
func (r *pendingReport) check(ctx context.Context) (map[string]httpapi.PendingSite, error) {
	stats, now, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]httpapi.PendingSite, len(stats))
	for _, s := range stats {
		out[s.SiteID] = httpapi.PendingSite{Count: s.Count, Overdue: s.Overdue, OldestAgeSeconds: int64(oldestAge(s, now) / time.Second)}
	}
	return out, nil
}

// oldestAge is how long the site's oldest pending comment has waited.
func oldestAge(s comment.PendingStat, now time.Time) time.Duration {
	if s.Count == 0 || s.Oldest.IsZero() {
		return 0
	}
	return max(now.Sub(s.Oldest), 0)
}

// pendingCollector exports the backlog as gauges, read when scraped.
type pendingCollector struct {
	report                  *pendingReport
	log                     *slog.Logger
	count, oldest, overdues *prometheus.Desc
}

func newPendingCollector(r *pendingReport, log *slog.Logger) *pendingCollector {
	site := []string{"site"}
	return &pendingCollector{
		report: r,
		log:    log,
		count:  prometheus.NewDesc("commentd_pending_comments", "Comments waiting for a moderator.", site, nil),
		oldest: prometheus.NewDesc("commentd_pending_oldest_age_seconds", "How long the oldest pending comment has waited (0: none pending).", site, nil),
		overdues: prometheus.NewDesc("commentd_pending_overdue_comments",
			"Pending comments older than retention.pending_warn_after.", site, nil),
	}
}

// Describe sends the three gauges' descriptions.
func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.oldest
	ch <- c.overdues
}

// Collect reads the backlog (or its cached reading) and sends one value
// per site and gauge. When the database does not answer in time, it sends
// none and logs why, so that the rest of the scrape still succeeds.
func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), pendingTimeout)
	defer cancel()
	stats, now, err := c.report.read(ctx)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "moderation backlog metrics unavailable", slog.String("err", err.Error()))
		return
	}
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(s.Count), s.SiteID)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldestAge(s, now).Seconds(), s.SiteID)
		ch <- prometheus.MustNewConstMetric(c.overdues, prometheus.GaugeValue, float64(s.Overdue), s.SiteID)
	}
}
