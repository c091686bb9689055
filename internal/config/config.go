// Package config loads commentd's configuration: the YAML file (or the
// default compiled into the binary) with environment overrides on top, then
// validates it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	fileprovider "github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	defaults "github.com/commentd/commentd/config"
)

// Config is the whole configuration of one commentd instance.
type Config struct {
	Listen         string   `koanf:"listen" validate:"required,listenaddr"`
	PublicURL      string   `koanf:"public_url" validate:"omitempty,http_url"`
	DatabaseURL    string   `koanf:"database_url" validate:"required"`
	RedisURL       string   `koanf:"redis_url"`
	Secret         string   `koanf:"secret"`
	AdminToken     string   `koanf:"admin_token" validate:"omitempty,min=16"`
	TrustedProxies []string `koanf:"trusted_proxies" validate:"dive,cidr"`
	// DebugListen, if set, is a separate address serving Go's profiler
	// (/debug/pprof/); never expose it publicly.
	DebugListen string `koanf:"debug_listen" validate:"omitempty,listenaddr"`
	// MetricsListen, if set, is a separate address serving /metrics, which
	// the public listener then does not serve. Empty: /metrics is served on
	// Listen.
	MetricsListen string `koanf:"metrics_listen" validate:"omitempty,listenaddr"`
	// LogFormat is "text" (key=value lines) or "json" (one object a line).
	LogFormat         string        `koanf:"log_format" validate:"oneof=text json"`
	SQLiteBusyTimeout time.Duration `koanf:"sqlite_busy_timeout" validate:"gte=0"`
	SessionTTL        time.Duration `koanf:"session_ttl" validate:"gt=0"`
	HTTP              HTTP          `koanf:"http"`
	Cache             Cache         `koanf:"cache"`
	RateLimit         RateLimit     `koanf:"rate_limit"`
	Retention         Retention     `koanf:"retention"`
	Notify            Notify        `koanf:"notify"`
	Sites             []Site        `koanf:"sites" validate:"dive"`
	Tokens            []Token       `koanf:"tokens" validate:"dive"`
}

// HTTP holds the server's timeouts.
type HTTP struct {
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout" validate:"gt=0"`
	ReadTimeout       time.Duration `koanf:"read_timeout" validate:"gt=0"`
	WriteTimeout      time.Duration `koanf:"write_timeout" validate:"gt=0"`
	IdleTimeout       time.Duration `koanf:"idle_timeout" validate:"gt=0"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout" validate:"gt=0"`
}

// Cache tunes the in-memory cache of public threads and counts.
type Cache struct {
	// MaxBytes bounds the memory the cached threads take; 0 turns the
	// cache off.
	MaxBytes int64 `koanf:"max_bytes" validate:"gte=0"`
	// MaxAge is the longest a cached thread is served without a reload.
	MaxAge time.Duration `koanf:"max_age" validate:"gt=0"`
	// VersionPoll is how often the per-site change counters are read from
	// Redis (the bound on staleness when an invalidation message is lost).
	VersionPoll time.Duration `koanf:"version_poll" validate:"gt=0"`
	// SharedMaxAge is the s-maxage of thread and count answers: how long a
	// CDN may serve them without asking again. 0: it must ask each time.
	SharedMaxAge time.Duration `koanf:"shared_max_age" validate:"gte=0"`
}

// Retention says how long comments' client data is kept and when pending
// comments are reported as waiting too long.
type Retention struct {
	// ClientData is how long a comment's IP address and user agent are
	// kept as submitted; 0 keeps them forever.
	ClientData time.Duration `koanf:"client_data" validate:"gte=0"`
	// ClientDataMode is what happens after ClientData: "truncate" keeps
	// the IP's network (IPv4 /24, IPv6 /48), "delete" removes the IP too.
	// The user agent is removed either way.
	ClientDataMode string `koanf:"client_data_mode" validate:"oneof=truncate delete"`
	// PendingWarnAfter is the age from which a pending comment counts as
	// overdue in /readyz and the metrics; 0 turns that count off.
	PendingWarnAfter time.Duration `koanf:"pending_warn_after" validate:"gte=0"`
	// Interval is how often the retention job runs (it also runs at start).
	Interval time.Duration `koanf:"interval" validate:"gt=0"`
}

// Notify configures how moderators and readers are told of comments: the
// mail server, and how often and how long deliveries are tried and kept.
type Notify struct {
	// SMTPURL is smtp://[user:pass@]host:587 (STARTTLS required unless
	// ?tls=none, which allows no user:pass) or smtps://[user:pass@]host:465
	// (TLS from the start). Empty: no email is sent at all (webhooks still
	// are).
	SMTPURL string `koanf:"smtp_url"`
	// From is the From header of every email.
	From string `koanf:"from" validate:"required"`
	// Poll is how often each instance looks for jobs and due deliveries.
	Poll time.Duration `koanf:"poll" validate:"gt=0"`
	// MaxAttempts is how many times a delivery is tried before it is
	// marked failed.
	MaxAttempts int `koanf:"max_attempts" validate:"gte=1"`
	// RetryBase is the wait before the first retry; each further retry
	// waits twice as long, up to an hour, each wait varied by up to 20%.
	RetryBase time.Duration `koanf:"retry_base" validate:"gt=0"`
	// WebhookTimeout bounds one webhook request.
	WebhookTimeout time.Duration `koanf:"webhook_timeout" validate:"gt=0"`
	// Keep is how long finished deliveries (which hold addresses) are kept.
	Keep time.Duration `koanf:"keep" validate:"gt=0"`
}

// SiteNotify is who is told of a site's held comments and whether readers
// may ask to be told of replies.
type SiteNotify struct {
	// Emails are the moderators told of held comments.
	Emails []string `koanf:"emails" validate:"dive,email"`
	// Digest, when > 0, sends at most one email per recipient per period,
	// listing every comment held since the last one.
	Digest time.Duration `koanf:"digest" validate:"gte=0"`
	// WebhookURL receives a signed JSON POST per held comment.
	WebhookURL string `koanf:"webhook_url"`
	// WebhookSecret is the HMAC-SHA256 key of the webhook signature.
	WebhookSecret string `koanf:"webhook_secret"`
	// Replies offers readers "notify me of replies" (only when an SMTP
	// server is configured); nil means true.
	Replies *bool `koanf:"replies"`
}

// RateLimit is a burst followed by one comment per Every.
type RateLimit struct {
	Every time.Duration `koanf:"every" validate:"gt=0"`
	Burst int           `koanf:"burst" validate:"gte=1"`
}

// Site is a site declared in the file; it is created or updated at start.
type Site struct {
	ID        string     `koanf:"id" validate:"required,max=64,siteid"`
	Name      string     `koanf:"name" validate:"required,max=200"`
	Origins   []string   `koanf:"origins" validate:"dive,origin"`
	RateLimit *RateLimit `koanf:"rate_limit"`
	Notify    SiteNotify `koanf:"notify"`
}

// Token is an API token limited to some sites, known only by its SHA-256.
type Token struct {
	Name   string   `koanf:"name" validate:"required"`
	SHA256 string   `koanf:"sha256" validate:"required,len=64,hexadecimal"`
	Sites  []string `koanf:"sites" validate:"required,min=1"`
}

// envKeys maps each environment variable that overrides a configuration key
// to that key.
func envKeys() map[string]string {
	return map[string]string{
		"COMMENTD_LISTEN":          "listen",
		"COMMENTD_PUBLIC_URL":      "public_url",
		"COMMENTD_DATABASE_URL":    "database_url",
		"COMMENTD_REDIS_URL":       "redis_url",
		"COMMENTD_SECRET":          "secret",
		"COMMENTD_ADMIN_TOKEN":     "admin_token",
		"COMMENTD_TRUSTED_PROXIES": "trusted_proxies",
		"COMMENTD_DEBUG_LISTEN":    "debug_listen",
		"COMMENTD_METRICS_LISTEN":  "metrics_listen",
		"COMMENTD_LOG_FORMAT":      "log_format",

		"COMMENTD_RETENTION_CLIENT_DATA":        "retention.client_data",
		"COMMENTD_RETENTION_CLIENT_DATA_MODE":   "retention.client_data_mode",
		"COMMENTD_RETENTION_PENDING_WARN_AFTER": "retention.pending_warn_after",
		"COMMENTD_RETENTION_INTERVAL":           "retention.interval",

		"COMMENTD_SMTP_URL":  "notify.smtp_url",
		"COMMENTD_SMTP_FROM": "notify.from",
	}
}

// Load reads the compiled-in default configuration, then the file at path on
// top of it (when path is not empty), then overrides from lookupEnv (a
// variable that is set, even to an empty string, wins), and validates the
// result. A file that declares no sites declares none: the default's demo
// site is only for running without a file. Unknown keys are errors, so a
// misspelt setting is not silently ignored. Errors name the offending key.
func Load(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(defaults.DefaultYAML), yaml.Parser()); err != nil {
		return Config{}, fmt.Errorf("read built-in config: %w", err)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		file := koanf.New(".")
		if err := file.Load(fileprovider.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("read config %q: %w", path, err)
		}
		if !file.Exists("sites") {
			k.Delete("sites")
		}
		if err := k.Merge(file); err != nil {
			return Config{}, fmt.Errorf("read config %q: %w", path, err)
		}
	}

	overrides := map[string]any{}
	for env, key := range envKeys() {
		v, ok := lookupEnv(env)
		if !ok {
			continue
		}
		if key == "trusted_proxies" {
			overrides[key] = splitList(v)
			continue
		}
		overrides[key] = v
	}
	if err := k.Load(confmap.Provider(overrides, "."), nil); err != nil {
		return Config{}, fmt.Errorf("environment overrides: %w", err)
	}

	var c Config
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToTimeDurationHookFunc(),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
	}})
	if err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func splitList(v string) []string {
	out := []string{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// IsPostgres reports whether DatabaseURL names a PostgreSQL database.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// OffersReplies reports whether readers of siteID may ask to be told of
// replies: an SMTP server is configured, the site is in the configuration
// (the notification worker tells only of those: a site created only
// through the admin API gets no notifications), and it does not turn them
// off.
func (c Config) OffersReplies(siteID string) bool {
	if c.Notify.SMTPURL == "" {
		return false
	}
	for _, s := range c.Sites {
		if s.ID == siteID {
			return s.Notify.Replies == nil || *s.Notify.Replies
		}
	}
	return false
}

// TrustedPrefixes returns TrustedProxies parsed (they are validated by Load).
func (c Config) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (c Config) validate() error {
	v := validator.New(validator.WithRequiredStructEnabled())
	_ = v.RegisterValidation("siteid", func(fl validator.FieldLevel) bool { return validSiteID(fl.Field().String()) })
	_ = v.RegisterValidation("listenaddr", func(fl validator.FieldLevel) bool { return validListen(fl.Field().String()) })
	_ = v.RegisterValidation("origin", func(fl validator.FieldLevel) bool { return validOrigin(fl.Field().String()) })
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Tag.Get("koanf") })
	if err := v.Struct(c); err != nil {
		var verrs validator.ValidationErrors
		if errors.As(err, &verrs) {
			msgs := make([]string, 0, len(verrs))
			for _, fe := range verrs {
				msgs = append(msgs, fmt.Sprintf("%s: fails %q", strings.TrimPrefix(fe.Namespace(), "Config."), fe.Tag()))
			}
			return fmt.Errorf("invalid config: %s", strings.Join(msgs, "; "))
		}
		return fmt.Errorf("invalid config: %w", err)
	}
	if err := validRedisURL(c.RedisURL); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	if err := validSMTPURL(c.Notify.SMTPURL); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	if _, err := mail.ParseAddress(c.Notify.From); err != nil {
		return fmt.Errorf("invalid config: notify.from is not an email address (%q)", c.Notify.From)
	}
	seen := map[string]bool{}
	for _, s := range c.Sites {
		if err := s.Notify.validate(); err != nil {
			return fmt.Errorf("invalid config: site %q: %w", s.ID, err)
		}
		if seen[s.ID] {
			return fmt.Errorf("invalid config: site %q is declared twice", s.ID)
		}
		seen[s.ID] = true
		if s.RateLimit != nil && (s.RateLimit.Every <= 0 || s.RateLimit.Burst < 1) {
			return fmt.Errorf("invalid config: site %q: rate_limit needs every > 0 and burst >= 1", s.ID)
		}
	}
	return nil
}

// validRedisURL accepts an empty URL (no Redis) or one whose scheme names a
// deployment: redis:// or rediss:// (one server), redis+cluster:// or
// rediss+cluster:// (Cluster seed nodes), redis+sentinel:// or
// rediss+sentinel:// (Sentinel, which needs ?master_name=NAME).
func validRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("redis_url is not a URL")
	}
	switch u.Scheme {
	case "redis", "rediss", "redis+cluster", "rediss+cluster":
	case "redis+sentinel", "rediss+sentinel":
		if u.Query().Get("master_name") == "" {
			return fmt.Errorf("redis_url: a %s URL needs the master name (?master_name=NAME)", u.Scheme)
		}
	default:
		return fmt.Errorf("redis_url: unknown scheme %q (want redis, rediss, redis+cluster, redis+sentinel or their rediss+ forms)", u.Scheme)
	}
	return nil
}

func (n SiteNotify) validate() error {
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("notify.webhook_url must be an http:// or https:// URL")
		}
		// The URL is stored with each delivery and named in logs;
		// credentials belong in webhook_secret.
		if u.User != nil {
			return errors.New("notify.webhook_url must not hold a user or password")
		}
		if n.WebhookSecret == "" {
			return errors.New("notify.webhook_secret is required when notify.webhook_url is set")
		}
	}
	return nil
}

// validSMTPURL accepts an empty URL (no email), smtp://host[:port] (STARTTLS
// required unless ?tls=none) or smtps://host[:port], with an optional
// user:password except with ?tls=none. Its errors never repeat the URL,
// which may carry a password.
func validSMTPURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("notify.smtp_url is not a URL")
	}
	switch u.Scheme {
	case "smtp", "smtps":
	default:
		return fmt.Errorf("notify.smtp_url: unknown scheme %q (want smtp or smtps)", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("notify.smtp_url: no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("notify.smtp_url: bad port")
		}
	}
	for k, vs := range u.Query() {
		switch k {
		case "tls":
			// smtps:// is TLS from the first byte: a tls option there
			// would be ignored, so it is refused rather than misread.
			if len(vs) != 1 || (vs[0] != "none" && vs[0] != "starttls") || u.Scheme == "smtps" {
				return errors.New("notify.smtp_url: tls must be starttls or none (smtp:// only)")
			}
		default:
			return fmt.Errorf("notify.smtp_url: unknown option %q", k)
		}
	}
	// Without TLS, a password would cross the network readable (or be
	// refused, for PLAIN, by the mail client library).
	if u.User != nil && u.User.Username() != "" && u.Scheme == "smtp" && u.Query().Get("tls") == "none" {
		return errors.New("notify.smtp_url: a user and password need TLS: remove ?tls=none or use smtps://")
	}
	return nil
}

// validSiteID accepts lower-case slugs: a-z, 0-9, '-' and '_', starting with
// a letter or digit.
func validSiteID(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validOrigin accepts exactly scheme://host[:port] with http or https.
func validOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil && s == u.Scheme+"://"+u.Host
}

// validListen accepts host:port where port may be 0 (any free port).
func validListen(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}
