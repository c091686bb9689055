package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/auth"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/httpapi"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/notify"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/postgres"
	"github.com/commentd/commentd/internal/store/sqlite"
	"github.com/commentd/commentd/internal/threadcache"
)

const usage = `usage: commentd <command> [flags]

commands:
  serve                                   run the HTTP service (the default)
  user create --email E [--role admin]    create a moderator account; the password is read
                                          from standard input, or generated and printed once
  user grant --email E --site S --role R  give a user the role owner or moderator on a site
  user revoke --email E --site S          take a user's role on a site away
  user password --email E                 set a new password (standard input, or generated)
  token create --email E --name N         make an API token for a user; printed once
  rules export SITE                       print a site's spam rules as YAML
  rules import SITE FILE                  replace a site's spam rules with a YAML file
  seed --site S --pages N --comments N --pending N [--random-seed 1]
                                          load generated pages and comments (approved, and
                                          pending for the queue) into the database
  backup OUT.db                           copy the SQLite database to a new file while the
                                          server runs, and check the copy (PostgreSQL: pg_dump)
  export json SITE [--out FILE]           print a whole site (rules, pages, every comment in
                                          every status) as one JSON document; it holds
                                          emails, IPs and user agents
  import json FILE [--site NEWID]         load such a document into a site without comments;
                                          the file and the database are checked first
  import wordpress FILE.xml --site SITE   load the comments of a WordPress export (WXR) into a
                                          site that exists or is declared in the config
  import disqus FILE.xml --site SITE      load the comments of a Disqus export into such a site
  export wordpress SITE [--out FILE]      print a site's pages and comments as a WordPress
                                          export (WXR 1.2); bodies stay Markdown; it holds
                                          emails, IPs and user agents
  gdpr export --email E                   print everything stored about a reader's email as JSON
  gdpr erase --email E [--comments keep|delete] [--yes]
                                          remove a reader's email, IP and user agent from their
                                          comments (or delete them) and from the sites' lists

Every command takes --config FILE (default: COMMENTD_CONFIG, else the built-in
config/commentd.yaml) and the same environment overrides as serve.
`

// env bundles what run receives from the process, so that commands can be
// run inside tests.
type env struct {
	lookup func(string) (string, bool)
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run is the whole program: it parses args, reads configuration through
// lookupEnv, and runs the command (serve until ctx is cancelled).
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{lookup: lookupEnv, stdin: stdin, stdout: stdout, stderr: stderr}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "user" || cmd == "token" || cmd == "rules" || cmd == "export" || cmd == "import" || cmd == "gdpr" {
		if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
			fmt.Fprint(stderr, usage)
			return fmt.Errorf("%s: name a subcommand", cmd)
		}
		cmd, args = cmd+" "+args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, e)
	case "user create", "user grant", "user revoke", "user password", "token create":
		return accountCommand(ctx, cmd, args, e)
	case "rules export", "rules import":
		return rulesCommand(ctx, cmd, args, e)
	case "seed":
		return seedCommand(ctx, args, e)
	case "export json", "import json":
		return siteCommand(ctx, cmd, args, e)
	case "import wordpress":
		return importForeignCommand(ctx, wordpressSource, args, e)
	case "import disqus":
		return importForeignCommand(ctx, disqusSource, args, e)
	case "export wordpress":
		return exportWordPressCommand(ctx, args, e)
	case "backup":
		return backupCommand(ctx, args, e)
	case "gdpr export", "gdpr erase":
		return gdprCommand(ctx, cmd, args, e)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// configFlag adds --config to fs; read it after fs.Parse.
func configFlag(fs *flag.FlagSet, e env) *string {
	defaultPath, _ := e.lookup("COMMENTD_CONFIG")
	return fs.String("config", defaultPath, "configuration file (default: COMMENTD_CONFIG, else the built-in config/commentd.yaml)")
}

func serve(ctx context.Context, args []string, e env) error {
	stdout, stderr := e.stdout, e.stderr
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	logOut := newLogBuffer(stderr, 100*time.Millisecond)
	defer logOut.Close()
	log := newLogger(cfg.LogFormat, logOut)

	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	// Background work ends with jobCtx and is waited for before the store
	// closes, also when serve returns early with an error.
	jobCtx, stopJobs := context.WithCancel(ctx)
	var jobs sync.WaitGroup
	defer func() { stopJobs(); jobs.Wait() }()
	if err := declareSites(ctx, store, cfg); err != nil {
		return err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	limiter, rdb := newLimiter(ctx, cfg, log, registry)
	if rdb != nil {
		defer rdb.Close()
	}
	bus := newBus(ctx, rdb, log, registry)

	secret, err := serverSecret(ctx, store, cfg)
	if err != nil {
		return err
	}
	adminToken, generated := cfg.AdminToken, false
	if adminToken == "" {
		adminToken, generated = randomToken(), true
	}
	tokens, err := apiTokens(cfg, adminToken)
	if err != nil {
		return err
	}

	threads := newThreadCache(cfg, rdb, bus, log, registry)
	svc := moderation.New(moderation.Deps{
		Store: store, Limiter: limiter, Renderer: markup.NewRenderer(), Secret: secret, Events: bus, Threads: threads, Logger: log,
		Metrics: moderationMetrics(registry),
	})
	jobs.Go(func() { svc.Run(jobCtx) }) // drops cached rules when another instance changes them
	pending := startRetention(jobCtx, &jobs, cfg, store, log, registry)
	jobs.Go(func() { svc.PurgeIdempotencyKeysEvery(jobCtx, time.Hour) })
	if threads != nil {
		jobs.Go(func() { threads.Run(jobCtx) }) // drops cached threads that other instances changed
	}
	accounts, err := account.New(account.Deps{Store: store, Limiter: limiter, Static: tokens, SessionTTL: cfg.SessionTTL, Logger: log, Secret: secret})
	if err != nil {
		return err
	}
	stopStreams := make(chan struct{})
	// /metrics on the public listener unless it has an address of its own.
	metrics := promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
	publicMetrics := metrics
	if cfg.MetricsListen != "" {
		publicMetrics = nil
		stopMetrics, err := serveMetrics(cfg.MetricsListen, metrics, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	handler, err := httpapi.NewServer(httpapi.Deps{Moderation: svc, Accounts: accounts, Events: bus, Threads: threads, Privacy: store,
		Readers: store, Secret: secret, OffersReplies: offersReplies(cfg)}, httpapi.Options{
		Stop:           stopStreams,
		PublicURL:      cfg.PublicURL,
		SecureCookies:  strings.HasPrefix(cfg.PublicURL, "https://"),
		TrustedProxies: cfg.TrustedPrefixes(),
		Logger:         log,
		Ready:          readiness(store, rdb),
		Pending:        pending,
		Metrics:        publicMetrics,
		Registerer:     registry,
		SharedMaxAge:   cfg.Cache.SharedMaxAge,
	})
	if err != nil {
		return err
	}

	if cfg.DebugListen != "" {
		stopDebug, err := serveDebug(cfg.DebugListen, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	// Links in notifications start with the public URL, known once listening.
	if err := startNotify(jobCtx, &jobs, cfg, store, secret, ln.Addr().String(), log, registry); err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { close(stopStreams) })
	printWelcome(stdout, cfg, ln.Addr().String(), adminToken, generated)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; finishing requests in flight", "timeout", cfg.HTTP.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// Requests still running lose their connections before the store
		// closes under them: their clients see no answer (and may retry
		// with their Idempotency-Key), never a 500 from the closed store.
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// startNotify starts the notification worker as a background job: it
// plans notifications of held comments, replies and confirmation requests
// and sends them by email and webhook (see docs/notifications.md). addr is
// the listener's address, the base of links when public_url is empty.
func startNotify(ctx context.Context, jobs *sync.WaitGroup, cfg config.Config, store comment.Store, secret []byte, addr string, log *slog.Logger, reg prometheus.Registerer) error {
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + addr
	}
	sites := make(map[string]notify.Site, len(cfg.Sites))
	for _, s := range cfg.Sites {
		sites[s.ID] = notify.Site{
			Emails: s.Notify.Emails, Digest: s.Notify.Digest,
			WebhookURL: s.Notify.WebhookURL, WebhookSecret: s.Notify.WebhookSecret,
			Replies: cfg.OffersReplies(s.ID),
		}
	}
	w, err := notify.New(notify.Options{
		Store: store, SMTPURL: cfg.Notify.SMTPURL, From: cfg.Notify.From, Sites: sites,
		BaseURL: strings.TrimRight(base, "/"), Secret: secret,
		Poll: cfg.Notify.Poll, MaxAttempts: cfg.Notify.MaxAttempts, RetryBase: cfg.Notify.RetryBase,
		WebhookTimeout: cfg.Notify.WebhookTimeout, Keep: cfg.Notify.Keep,
		Logger: log, Registerer: reg,
	})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	if cfg.Notify.SMTPURL == "" {
		log.Info("no smtp_url configured; no notification is sent by email")
		for _, site := range cfg.Sites {
			if len(site.Notify.Emails) > 0 {
				log.Warn("a site names moderators to email but notify.smtp_url is empty: they get no email",
					"site", site.ID)
			}
		}
	}
	if cfg.PublicURL == "" && notifies(cfg) && wildcardAddr(addr) {
		log.Warn("public_url is not set and the listen address names no host: links in notifications "+
			"start with base, which readers and moderators cannot open; set public_url", "base", base)
	}
	if cfg.Notify.SMTPURL != "" && !strings.HasPrefix(strings.ToLower(base), "https://") {
		log.Warn("the links in notification emails are not https: mail clients may refuse one-click unsubscribe "+
			"(RFC 8058 asks for https); set public_url to an https URL", "base", base)
	}
	jobs.Go(func() { w.Run(ctx) })
	return nil
}

// notifies reports whether any notification can go out: emails, or a
// site's webhook.
func notifies(cfg config.Config) bool {
	if cfg.Notify.SMTPURL != "" {
		return true
	}
	for _, s := range cfg.Sites {
		if s.Notify.WebhookURL != "" {
			return true
		}
	}
	return false
}

// wildcardAddr reports whether a listener's address is the unspecified
// address (listen ":8080" or "0.0.0.0:8080"), which names no host.
func wildcardAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// serveDebug serves the profiler on its own address until the returned
// function is called.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// newThreadCache returns the cache of public threads, or nil when
// cache.max_bytes is 0. rdb may be nil (one instance, no Redis).
func newThreadCache(cfg config.Config, rdb redis.UniversalClient, bus events.Bus, log *slog.Logger, reg prometheus.Registerer) *threadcache.Cache {
	if cfg.Cache.MaxBytes == 0 {
		return nil
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commentd_thread_cache_lookups_total",
		Help: "Lookups of public threads and counts in the in-memory cache, by result (hit or miss).",
	}, []string{"result"})
	reg.MustRegister(lookups)
	opt := threadcache.Options{
		MaxBytes:     cfg.Cache.MaxBytes,
		MaxAge:       cfg.Cache.MaxAge,
		PollInterval: cfg.Cache.VersionPoll,
		Bus:          bus,
		Hits:         lookups.WithLabelValues("hit"),
		Misses:       lookups.WithLabelValues("miss"),
		Logger:       log,
	}
	if rdb != nil {
		opt.Redis = rdb
	}
	return threadcache.New(opt)
}

func openStore(ctx context.Context, cfg config.Config) (comment.Store, error) {
	if cfg.IsPostgres() {
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, cfg.DatabaseURL, sqlite.Options{BusyTimeout: cfg.SQLiteBusyTimeout})
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", cfg.DatabaseURL, err)
	}
	return s, nil
}

// declareSites creates or updates the sites named in the configuration.
func declareSites(ctx context.Context, store comment.Store, cfg config.Config) error {
	for _, s := range cfg.Sites {
		lim := cfg.RateLimit
		if s.RateLimit != nil {
			lim = *s.RateLimit
		}
		site := comment.Site{ID: s.ID, Name: s.Name, Origins: s.Origins, RateLimit: comment.RateLimit{Every: lim.Every, Burst: lim.Burst}}
		if err := store.UpsertSite(ctx, site); err != nil {
			return fmt.Errorf("declare site %q: %w", s.ID, err)
		}
	}
	return nil
}

// limiter is what submissions and sign-ins each need of the rate limiter.
type limiter interface {
	moderation.Limiter
	account.Limiter
}

// newLimiter returns the Redis limiter (with its in-process fallback) when a
// Redis URL is configured, else the in-process limiter alone. A Redis that
// does not answer at start is only a warning: the limiter falls back on its
// own and returns to Redis when it answers again.
func newLimiter(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (limiter, redis.UniversalClient) {
	fallbacks := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "commentd_ratelimit_fallbacks_total",
		Help: "Rate-limit decisions taken by the in-process limiter because Redis did not answer in time.",
	})
	reg.MustRegister(fallbacks)
	local := ratelimit.NewLocal(time.Now)
	if cfg.RedisURL == "" {
		log.Info("no Redis configured; rate limits are kept in this process only")
		return local, nil
	}
	// Single server, Cluster or Sentinel by scheme, always with short
	// network timeouts and no retries (see redisOptions).
	opt, mode, err := redisOptions(cfg.RedisURL)
	if err != nil {
		log.Warn("cannot parse redis_url; rate limits are kept in this process only", "err", err)
		return local, nil
	}
	client := redis.NewUniversalClient(opt)
	client.AddHook(newRedisTimer(reg))
	pingCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		log.Warn("Redis does not answer; rate limiting in this process until it does", "redis_mode", mode, "redis_nodes", len(opt.Addrs), "err", err)
	} else {
		log.Info("rate limits kept in Redis", "redis_mode", mode, "redis_nodes", len(opt.Addrs))
	}
	return ratelimit.NewRedis(client, local, ratelimit.RedisOptions{Logger: log, Fallbacks: fallbacks}), client
}

// serverSecret is the configured secret or, when none is configured, one
// generated once and kept in the database, so that every instance sharing
// the database agrees on it.
func serverSecret(ctx context.Context, store comment.Store, cfg config.Config) ([]byte, error) {
	if cfg.Secret != "" {
		return []byte(cfg.Secret), nil
	}
	secret, err := store.Secret(ctx, "server", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	return secret, nil
}

// newBus returns the live event bus: fanned out through Redis pub/sub when
// Redis is configured (so a moderator on any instance sees events from all),
// else in this process only.
func newBus(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger, reg prometheus.Registerer) events.Bus {
	local := events.NewLocal()
	if rdb == nil {
		return local
	}
	fallbacks := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "commentd_events_fallbacks_total",
		Help: "Live events delivered in this process only because Redis did not take them.",
	})
	reg.MustRegister(fallbacks)
	bus := events.NewRedis(rdb, "commentd:events", local, events.RedisOptions{Logger: log, Fallbacks: fallbacks})
	go func() {
		if err := bus.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("live events stopped", "err", err)
		}
	}()
	return bus
}

func apiTokens(cfg config.Config, adminToken string) (*auth.Tokens, error) {
	list := []auth.Token{auth.AdminToken(adminToken)}
	for _, t := range cfg.Tokens {
		tok, err := auth.SiteToken(t.Name, t.SHA256, t.Sites)
		if err != nil {
			return nil, err
		}
		list = append(list, tok)
	}
	return auth.NewTokens(list...), nil
}

func readiness(store comment.Store, rdb redis.UniversalClient) httpapi.ReadinessCheck {
	return func(ctx context.Context) map[string]error {
		out := map[string]error{"database": store.Ping(ctx)}
		if rdb != nil {
			out["redis"] = rdb.Ping(ctx).Err()
		}
		return out
	}
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func printWelcome(w io.Writer, cfg config.Config, addr, adminToken string, generated bool) {
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + addr
	}
	// One write, so that a reader of the output never sees the first
	// line without the admin token (the tests read it as it comes).
	var b strings.Builder
	fmt.Fprintf(&b, "commentd listening on %s\n", "http://"+addr)
	fmt.Fprintf(&b, "  demo article:   %s/demo/\n", base)
	fmt.Fprintf(&b, "  public API:     %s/api/v1/sites/{site}/comments\n", base)
	fmt.Fprintf(&b, "  moderation API: %s/api/v1/moderation/comments (Authorization: Bearer <admin token>)\n", base)
	fmt.Fprintf(&b, "  moderator UI:   %s/admin/ (create an account: commentd user create --email you@example.org --role admin)\n", base)
	if generated {
		fmt.Fprintf(&b, "  admin token for this run (set COMMENTD_ADMIN_TOKEN to keep one): %s\n", adminToken)
	} else {
		fmt.Fprintln(&b, "  admin token: the one in COMMENTD_ADMIN_TOKEN / admin_token")
	}
	io.WriteString(w, b.String())
}

// offersReplies answers config.OffersReplies from a set built once, for
// the submission and form paths that ask on every request.
func offersReplies(cfg config.Config) func(siteID string) bool {
	offered := map[string]bool{}
	for _, site := range cfg.Sites {
		if cfg.OffersReplies(site.ID) {
			offered[site.ID] = true
		}
	}
	return func(siteID string) bool { return offered[siteID] }
}
