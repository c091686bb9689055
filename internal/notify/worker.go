package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentd/commentd/internal/comment"
)

// Store is what the worker needs of the database.
type Store interface {
	comment.NotifyStore
	// Site returns the site with id, or comment.ErrNotFound.
	Site(ctx context.Context, id string) (comment.Site, error)
	// Comment returns the comment with id, or comment.ErrNotFound.
	Comment(ctx context.Context, id string) (comment.Comment, error)
	// ReaderState returns the state of an address on a site.
	ReaderState(ctx context.Context, siteID, email string) (comment.ReaderState, error)
}

// Site says who is told of one site's comments.
type Site struct {
	// Emails are the moderators told of held comments.
	Emails []string
	// Digest > 0 sends each moderator at most one email per period,
	// listing the comments held meanwhile.
	Digest time.Duration
	// WebhookURL, when set, receives a signed JSON POST per held comment,
	// signed with WebhookSecret.
	WebhookURL    string
	WebhookSecret string
	// Replies offers readers email about replies to their comments.
	Replies bool
}

// The defaults of Options.
const (
	DefaultPoll           = 2 * time.Second
	DefaultMaxAttempts    = 8
	DefaultRetryBase      = 30 * time.Second
	DefaultWebhookTimeout = 10 * time.Second
	DefaultKeep           = 7 * 24 * time.Hour
	// MaxRetryWait caps the wait between two attempts.
	MaxRetryWait = time.Hour
	// SMTPTimeout bounds connecting to the mail server and sending one
	// message.
	SMTPTimeout = 30 * time.Second
)

// How much the worker takes on at once.
const (
	jobBatch      = 50
	deliveryBatch = 10
	purgeBatch    = 1000
	purgeEvery    = time.Minute
	jobLease      = 2 * time.Minute
)

// Options configures a Worker.
type Options struct {
	Store Store
	// SMTPURL is the mail server (see config); empty: no email at all.
	SMTPURL string
	// From is the From header of every email.
	From string
	// Sites are the sites' settings by id; a site not listed gets no
	// notification.
	Sites map[string]Site
	// BaseURL is the server's public URL, the start of every link.
	BaseURL string
	// Secret is the server secret, which seals readers' links.
	Secret []byte

	Poll           time.Duration // 0: DefaultPoll
	MaxAttempts    int           // 0: DefaultMaxAttempts
	RetryBase      time.Duration // 0: DefaultRetryBase
	WebhookTimeout time.Duration // 0: DefaultWebhookTimeout
	Keep           time.Duration // 0: DefaultKeep

	Logger *slog.Logger
	// Registerer receives the worker's metrics; nil: none are registered.
	Registerer prometheus.Registerer
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Worker turns notification jobs into deliveries and sends the deliveries
// that are due. Several workers, also in other processes sharing the
// database, share the work without doing any of it twice, except that a
// worker that dies after sending a message and before recording it leaves
// the message to be sent again: delivery is at least once.
type Worker struct {
	opt       Options
	log       *slog.Logger
	now       func() time.Time
	mailer    *mailer // nil without SMTPURL
	http      *http.Client
	lease     time.Duration
	lastPurge time.Time

	deliveries    *prometheus.CounterVec
	due           prometheus.Gauge
	jobsAbandoned prometheus.Counter
}

// New returns a worker. It returns an error when SMTPURL cannot be used
// (the error never repeats the URL, which may hold a password), or when
// the metrics cannot be registered.
func New(opt Options) (*Worker, error) {
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = DefaultRetryBase
	}
	if opt.WebhookTimeout <= 0 {
		opt.WebhookTimeout = DefaultWebhookTimeout
	}
	if opt.Keep <= 0 {
		opt.Keep = DefaultKeep
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	w := &Worker{
		opt: opt,
		log: opt.Logger,
		now: opt.Now,
		http: &http.Client{
			Timeout: opt.WebhookTimeout,
			// A receiver that moved must be reconfigured: following it
			// would send the signed body somewhere not configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_notify_deliveries_total",
			Help: "Notification deliveries finished or tried, by channel (email, webhook), kind (held, reply, confirm) and result (sent, retry, failed: attempts; dropped: no longer called for, not an attempt). A digest email counts one per comment in it.",
		}, []string{"channel", "kind", "result"}),
		due: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commentd_notify_due",
			Help: "Notification deliveries waiting to be sent (as last read by this instance).",
		}),
		jobsAbandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commentd_notify_jobs_abandoned_total",
			Help: "Notification jobs given up after failing every attempt to plan or record them (each is logged at level ERROR).",
		}),
	}
	// A delivery is held while a batch is sent one message after another.
	w.lease = time.Duration(deliveryBatch)*max(SMTPTimeout, opt.WebhookTimeout) + time.Minute
	if opt.SMTPURL != "" {
		m, err := newMailer(opt.SMTPURL, opt.From)
		if err != nil {
			return nil, err
		}
		w.mailer = m
	}
	if opt.Registerer != nil {
		for _, c := range []prometheus.Collector{w.deliveries, w.due, w.jobsAbandoned} {
			if err := opt.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("notify metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Run works at once and then every Poll until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.opt.Poll)
	defer t.Stop()
	for {
		w.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick does one round: plans the jobs waiting, sends the deliveries due,
// purges old finished deliveries (at most once a minute) and refreshes the
// due gauge. Errors are logged; what failed is left for the next round.
func (w *Worker) Tick(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := w.planJobs(ctx)
		if err != nil {
			w.logErr(ctx, "notify: planning jobs", err)
			break
		}
		if n < jobBatch {
			break
		}
	}
	for ctx.Err() == nil {
		n, err := w.sendDue(ctx)
		if err != nil {
			w.logErr(ctx, "notify: sending deliveries", err)
			break
		}
		if n < deliveryBatch {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	if now := w.now(); now.Sub(w.lastPurge) >= purgeEvery {
		w.lastPurge = now
		for {
			n, err := w.opt.Store.PurgeNotifyDeliveries(ctx, now.Add(-w.opt.Keep), purgeBatch)
			if err != nil {
				w.logErr(ctx, "notify: purging finished deliveries", err)
				break
			}
			if n < purgeBatch {
				break
			}
		}
	}
	if n, err := w.opt.Store.CountDueNotifyDeliveries(ctx); err != nil {
		w.logErr(ctx, "notify: counting due deliveries", err)
	} else {
		w.due.Set(float64(n))
	}
}

func (w *Worker) logErr(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return
	}
	w.log.Warn(msg, "err", err)
}

// retryWait is the wait after the given number of failed attempts:
// RetryBase doubled for each attempt after the first, at most
// MaxRetryWait, varied by up to 20% either way so that deliveries failing
// together are not retried together.
func (w *Worker) retryWait(attempts int) time.Duration {
	d := w.opt.RetryBase
	for i := 1; i < attempts && d < MaxRetryWait; i++ {
		d *= 2
	}
	d = min(d, MaxRetryWait)
	jitter := 0.8 + 0.4*rand.Float64() //nolint:gosec // spreading retries needs no secrecy
	return time.Duration(float64(d) * jitter)
}
