// Package account holds the use cases of the people who moderate: users and
// their per-site roles, password sign-in with sessions (throttled), and API
// tokens.
package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/ratelimit"
)

// Limiter throttles sign-in attempts; ratelimit.Redis and ratelimit.Local
// satisfy it.
type Limiter interface {
	Allow(ctx context.Context, key string, lim comment.RateLimit) (ratelimit.Decision, error)
}

// StaticTokens authenticates tokens from the configuration (the bootstrap
// admin token among them); auth.Tokens satisfies it.
type StaticTokens interface {
	Authenticate(ctx context.Context, token string) (comment.Principal, error)
}

// Default limits on sign-in attempts: per account and per client address,
// each a burst then one attempt per interval. Attempts count whether or not
// the password is right, so that guessing is slow either way.
func defaultLoginLimits() (perAccount, perIP comment.RateLimit) {
	return comment.RateLimit{Every: time.Minute, Burst: 5}, comment.RateLimit{Every: 10 * time.Second, Burst: 20}
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// Deps are what a Service is built from. Logger and Now may be nil.
type Deps struct {
	Store      comment.Store
	Limiter    Limiter
	Static     StaticTokens
	SessionTTL time.Duration // 0: 24 hours
	Now        func() time.Time
	Logger     *slog.Logger
	// Secret keys the hashes that emails and client addresses enter
	// sign-in rate-limit keys as; nil: plain SHA-256.
	Secret []byte
}

// Service runs the account use cases.
type Service struct {
	store      comment.Store
	limiter    Limiter
	static     StaticTokens
	sessionTTL time.Duration
	perAccount comment.RateLimit
	perIP      comment.RateLimit
	now        func() time.Time
	log        *slog.Logger
	dummyHash  string // checked when no user matches, so timing does not tell
	secret     []byte
}

// New returns a Service using d.
func New(d Deps) (*Service, error) {
	s := &Service{store: d.Store, limiter: d.Limiter, static: d.Static, sessionTTL: d.SessionTTL, now: d.Now, log: d.Logger, secret: d.Secret}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 24 * time.Hour
	}
	s.perAccount, s.perIP = defaultLoginLimits()
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	h, err := hashPassword("not a password anyone has")
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// SessionTTL is how long a session lasts after sign-in.
func (s *Service) SessionTTL() time.Duration { return s.sessionTTL }

// NormalizeEmail lower-cases and trims an account email.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser creates a user. An empty password leaves the account without
// one (it cannot sign in until SetPassword). Errors: *comment.ValidationError
// (email, password), comment.ErrConflict (email taken).
func (s *Service) CreateUser(ctx context.Context, email, password string, admin bool) (comment.User, error) {
	email = NormalizeEmail(email)
	if !strings.Contains(email, "@") || len(email) > 254 || strings.ContainsAny(email, " \t\r\n") {
		return comment.User{}, comment.Invalid("email", "Please enter a valid email address.")
	}
	u := comment.User{ID: uuid.NewString(), Email: email, Admin: admin, CreatedAt: s.clock()}
	if password != "" {
		h, err := s.newHash(password)
		if err != nil {
			return comment.User{}, err
		}
		u.PasswordHash = h
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return comment.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

func (s *Service) newHash(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", comment.Invalid("password", fmt.Sprintf("Use at least %d characters.", MinPasswordLength))
	}
	if len(password) > 1024 {
		return "", comment.Invalid("password", "Use at most 1024 characters.")
	}
	return hashPassword(password)
}

// SetPassword replaces a user's password. Errors as CreateUser, and
// comment.ErrNotFound.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	u, err := s.store.UserByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	h, err := s.newHash(password)
	if err != nil {
		return err
	}
	return s.store.SetPassword(ctx, u.ID, h)
}

// Grant gives the user with email a role on a site, as actor. Errors:
// comment.ErrForbidden (actor may not manage the site), comment.ErrNotFound
// (no such user or site), *comment.ValidationError (role).
func (s *Service) Grant(ctx context.Context, actor comment.Principal, email, siteID string, role comment.Role) error {
	if !actor.CanManage(siteID) {
		return comment.ErrForbidden
	}
	if !role.Valid() {
		return comment.Invalid("role", "Choose owner or moderator.")
	}
	u, err := s.store.UserByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		if errors.Is(err, comment.ErrNotFound) {
			return comment.Invalid("email", "There is no user with that email; create the account first.")
		}
		return fmt.Errorf("find user: %w", err)
	}
	return s.store.SetGrant(ctx, comment.Grant{UserID: u.ID, SiteID: siteID, Role: role})
}

// Revoke removes a user's role on a site, as actor.
func (s *Service) Revoke(ctx context.Context, actor comment.Principal, userID, siteID string) error {
	if !actor.CanManage(siteID) {
		return comment.ErrForbidden
	}
	return s.store.DeleteGrant(ctx, userID, siteID)
}

// Members lists who has a role on a site. comment.ErrForbidden unless actor
// may manage it.
func (s *Service) Members(ctx context.Context, actor comment.Principal, siteID string) ([]comment.Member, error) {
	if !actor.CanManage(siteID) {
		return nil, comment.ErrForbidden
	}
	if _, err := s.store.Site(ctx, siteID); err != nil {
		return nil, err
	}
	return s.store.Members(ctx, siteID)
}

// principalOf builds the principal of a user from the grants it has now.
func (s *Service) principalOf(ctx context.Context, u comment.User) (comment.Principal, error) {
	p := comment.Principal{UserID: u.ID, Name: u.Email, Admin: u.Admin, Roles: map[string]comment.Role{}}
	grants, err := s.store.Grants(ctx, u.ID)
	if err != nil {
		return comment.Principal{}, fmt.Errorf("grants of %s: %w", u.ID, err)
	}
	for _, g := range grants {
		p.Roles[g.SiteID] = g.Role
	}
	return p, nil
}

// Login checks a password and opens a session, returning the cookie value.
// Attempts are limited per account and per client address. Errors:
// *comment.RateLimitError, comment.ErrUnauthorized (wrong email or password,
// the same answer for both), comment.ErrUnavailable (the limiter failed, so
// the attempt is refused unchecked).
func (s *Service) Login(ctx context.Context, email, password, ip string) (string, comment.Principal, error) {
	email = NormalizeEmail(email)
	if err := s.throttle(ctx, email, ip); err != nil {
		return "", comment.Principal{}, err
	}
	u, err := s.store.UserByEmail(ctx, email)
	hash := u.PasswordHash
	switch {
	case errors.Is(err, comment.ErrNotFound):
		hash = s.dummyHash
	case err != nil:
		return "", comment.Principal{}, fmt.Errorf("find user: %w", err)
	case hash == "":
		hash = s.dummyHash
	}
	ok, err := checkPassword(hash, password)
	if err != nil || !ok || u.ID == "" || u.PasswordHash == "" {
		// The address is logged as the hash its rate-limit key uses: enough
		// to tell repeated attempts apart, without keeping it in the log.
		s.log.LogAttrs(ctx, slog.LevelInfo, "sign-in refused", slog.String("client", s.keyed("ip:"+ipBucket(ip))))
		return "", comment.Principal{}, comment.ErrUnauthorized
	}
	token, hashed := newSecret("")
	now := s.clock()
	// Sign-ins are rare enough to carry the clean-up of expired sessions.
	if _, err := s.store.DeleteExpiredSessions(ctx, now); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "removing expired sessions failed", slog.String("err", err.Error()))
	}
	if err := s.store.CreateSession(ctx, comment.Session{Hash: hashed, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.sessionTTL)}); err != nil {
		return "", comment.Principal{}, fmt.Errorf("create session: %w", err)
	}
	p, err := s.principalOf(ctx, u)
	if err != nil {
		return "", comment.Principal{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "signed in", slog.String("user_id", u.ID))
	return token, p, nil
}

// throttle applies the sign-in limits. The email and the client address are
// hashed into the keys, so Redis holds neither in clear.
// Sign-in is never left unlimited: a Redis limiter answers from its
// in-process fallback when Redis is down or slow (within its timeout), and
// a limiter that fails outright refuses the attempt (fail closed) with an
// error wrapping comment.ErrUnavailable, before the password is looked at.
func (s *Service) throttle(ctx context.Context, email, ip string) error {
	keys := []struct {
		key string
		lim comment.RateLimit
	}{
		{"login:ip:" + s.keyed("ip:"+ipBucket(ip)), s.perIP},
		{"login:account:" + s.keyed("account:"+email), s.perAccount},
	}
	for _, k := range keys {
		d, err := s.limiter.Allow(ctx, k.key, k.lim)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "sign-in limiter failed; attempt refused", slog.String("err", err.Error()))
			return fmt.Errorf("sign-in limiter: %w: %w", comment.ErrUnavailable, err)
		}
		if !d.Allowed {
			return &comment.RateLimitError{RetryAfter: d.RetryAfter}
		}
	}
	return nil
}

// keyed is the hash a value enters a rate-limit key as: an HMAC with the
// server secret, so that Redis's keys cannot be reversed by hashing every
// address.
func (s *Service) keyed(v string) string {
	if s.secret == nil {
		sum := sha256.Sum256([]byte(v))
		return hex.EncodeToString(sum[:16])
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func ipBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Session returns the principal of a session cookie value. Errors:
// comment.ErrUnauthorized for a missing, unknown or expired session.
func (s *Service) Session(ctx context.Context, token string) (comment.Principal, error) {
	if token == "" {
		return comment.Principal{}, comment.ErrUnauthorized
	}
	sess, err := s.store.SessionByHash(ctx, hashSecret(token))
	switch {
	case errors.Is(err, comment.ErrNotFound):
		return comment.Principal{}, comment.ErrUnauthorized
	case err != nil:
		return comment.Principal{}, fmt.Errorf("find session: %w", err)
	case !s.clock().Before(sess.ExpiresAt):
		return comment.Principal{}, comment.ErrUnauthorized
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return comment.Principal{}, fmt.Errorf("session user: %w", err)
	}
	return s.principalOf(ctx, u)
}

// Logout ends the session of a cookie value.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.store.DeleteSession(ctx, hashSecret(token))
}

// tokenPrefix marks commentd API tokens, so that secret scanners can find
// leaked ones.
const tokenPrefix = "cmtd_"

// CreateToken makes an API token for the principal's user, returning the
// plain token (shown once; only its hash is kept). Errors:
// comment.ErrForbidden for a principal without a user (a configured token)
// or one that is itself a token, *comment.ValidationError (name).
func (s *Service) CreateToken(ctx context.Context, p comment.Principal, name string) (string, comment.Token, error) {
	if p.UserID == "" || p.ViaToken {
		return "", comment.Token{}, comment.ErrForbidden
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 || !printable(name) {
		return "", comment.Token{}, comment.Invalid("name", "Give the token a name of 1 to 100 printable characters.")
	}
	plain, hashed := newSecret(tokenPrefix)
	t := comment.Token{ID: uuid.NewString(), UserID: p.UserID, Name: name, Hash: hashed, CreatedAt: s.clock()}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return "", comment.Token{}, fmt.Errorf("create token: %w", err)
	}
	return plain, t, nil
}

// Tokens lists the principal's tokens (never their values).
func (s *Service) Tokens(ctx context.Context, p comment.Principal) ([]comment.Token, error) {
	if p.UserID == "" {
		return nil, comment.ErrForbidden
	}
	return s.store.Tokens(ctx, p.UserID)
}

// RevokeToken deletes one of the principal's tokens; comment.ErrNotFound if
// it has none with that id, comment.ErrForbidden for a token caller.
func (s *Service) RevokeToken(ctx context.Context, p comment.Principal, id string) error {
	if p.UserID == "" || p.ViaToken {
		return comment.ErrForbidden
	}
	return s.store.DeleteToken(ctx, p.UserID, id)
}

// Authenticate returns the principal of a bearer token: a configured token,
// or a user's API token acting with the user's current roles. Errors:
// comment.ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (comment.Principal, error) {
	if token == "" {
		return comment.Principal{}, comment.ErrUnauthorized
	}
	if s.static != nil {
		if p, err := s.static.Authenticate(ctx, token); err == nil {
			return p, nil
		}
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return comment.Principal{}, comment.ErrUnauthorized
	}
	t, err := s.store.TokenByHash(ctx, hashSecret(token))
	switch {
	case errors.Is(err, comment.ErrNotFound):
		return comment.Principal{}, comment.ErrUnauthorized
	case err != nil:
		return comment.Principal{}, fmt.Errorf("find token: %w", err)
	}
	u, err := s.store.UserByID(ctx, t.UserID)
	if err != nil {
		return comment.Principal{}, fmt.Errorf("token user: %w", err)
	}
	// Record use at most once a minute, so API calls do not all write.
	if now := s.clock(); now.Sub(t.LastUsedAt) > time.Minute {
		if err := s.store.TouchToken(ctx, t.ID, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "recording token use failed", slog.String("err", err.Error()))
		}
	}
	p, err := s.principalOf(ctx, u)
	if err != nil {
		return comment.Principal{}, err
	}
	p.Name = u.Email + " (token " + t.Name + ")"
	p.ViaToken = true
	return p, nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// newSecret returns a random secret with prefix and its stored hash.
func newSecret(prefix string) (plain, hashed string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	plain = prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, hashSecret(plain)
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
