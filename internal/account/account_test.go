package account

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/auth"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/sqlite"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newService(t *testing.T) (*Service, *sqlite.Store, *clock) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range []string{"blog", "news"} {
		if err := st.UpsertSite(ctx, comment.Site{ID: id, Name: id, RateLimit: comment.RateLimit{Every: time.Second, Burst: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	s, err := New(Deps{Store: st, Limiter: ratelimit.NewLocal(clk.now), Static: auth.NewTokens(auth.AdminToken("bootstrap-admin-token-xyz")), SessionTTL: time.Hour, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, clk
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q, want a PHC argon2id string", h)
	}
	tests := []struct {
		name, hash, password string
		want                 bool
		wantErr              bool
	}{
		{"right", h, "correct horse battery", true, false},
		{"wrong", h, "correct horse batterx", false, false},
		{"empty", h, "", false, false},
		{"not a hash", "plain", "x", false, true},
		{"bcrypt-looking", "$2a$10$abcdefghijklmnopqrstuv", "x", false, true},
		{"bad params", "$argon2id$v=19$m=0,t=0,p=0$c2FsdA$aGFzaA", "x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkPassword(tt.hash, tt.password)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("checkPassword = %v, %v; want %v, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	h2, _ := hashPassword("correct horse battery")
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
}

func TestLoginSessionLogout(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "  Mod@Example.org ", "a long password", false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "mod@example.org" {
		t.Errorf("email stored as %q", u.Email)
	}
	admin := comment.Principal{Name: "root", Admin: true}
	if err := s.Grant(ctx, admin, "MOD@example.org", "blog", comment.RoleModerator); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "mod@example.org", "wrong password", "192.0.2.1"); !errors.Is(err, comment.ErrUnauthorized) {
		t.Fatalf("wrong password: err = %v", err)
	}
	if _, _, err := s.Login(ctx, "nobody@example.org", "a long password", "192.0.2.1"); !errors.Is(err, comment.ErrUnauthorized) {
		t.Fatalf("unknown user: err = %v", err)
	}
	token, p, err := s.Login(ctx, "mod@example.org", "a long password", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.CanModerate("blog") || p.CanModerate("news") || p.CanManage("blog") || p.Admin {
		t.Errorf("principal %+v: want moderator of blog only", p)
	}
	got, err := s.Session(ctx, token)
	if err != nil || got.UserID != u.ID {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	// A grant made after sign-in applies at once: roles are read per request.
	if err := s.Grant(ctx, admin, "mod@example.org", "news", comment.RoleOwner); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, token); !got.CanManage("news") {
		t.Error("new grant not seen by the session")
	}
	clk.add(time.Hour)
	if _, err := s.Session(ctx, token); !errors.Is(err, comment.ErrUnauthorized) {
		t.Errorf("expired session: err = %v", err)
	}
	token2, _, err := s.Login(ctx, "mod@example.org", "a long password", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, token2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, token2); !errors.Is(err, comment.ErrUnauthorized) {
		t.Errorf("after logout: err = %v", err)
	}
	if _, err := s.Session(ctx, "made-up"); !errors.Is(err, comment.ErrUnauthorized) {
		t.Errorf("unknown session: err = %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "a@example.org", "a long password", false); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, _, err := s.Login(ctx, "a@example.org", "guess", "192.0.2.7"); !errors.Is(err, comment.ErrUnauthorized) {
			t.Fatalf("attempt %d: err = %v", i, err)
		}
	}
	var rl *comment.RateLimitError
	if _, _, err := s.Login(ctx, "A@example.org", "a long password", "198.51.100.9"); !errors.As(err, &rl) {
		t.Fatalf("6th attempt on the account from another address: err = %v, want a rate limit", err)
	}
	if rl.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v", rl.RetryAfter)
	}
	clk.add(time.Minute)
	if _, _, err := s.Login(ctx, "a@example.org", "a long password", "198.51.100.9"); err != nil {
		t.Errorf("after waiting: err = %v", err)
	}
	// Per address: 20 attempts on different accounts, then refused.
	for i := range 20 {
		_, _, _ = s.Login(ctx, "user"+string(rune('a'+i))+"@example.org", "x", "203.0.113.5")
	}
	if _, _, err := s.Login(ctx, "other@example.org", "x", "203.0.113.5"); !errors.As(err, &rl) {
		t.Errorf("21st attempt from one address: err = %v, want a rate limit", err)
	}
}

func TestTokens(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "bot@example.org", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(ctx, comment.Principal{Admin: true}, u.Email, "blog", comment.RoleModerator); err != nil {
		t.Fatal(err)
	}
	owner := comment.Principal{UserID: u.ID, Name: u.Email}
	plain, tok, err := s.CreateToken(ctx, owner, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, tokenPrefix) || strings.Contains(tok.Hash, plain) {
		t.Errorf("token %q, stored hash %q", plain, tok.Hash)
	}
	p, err := s.Authenticate(ctx, plain)
	if err != nil || !p.CanModerate("blog") || p.CanModerate("news") {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if p, err := s.Authenticate(ctx, "bootstrap-admin-token-xyz"); err != nil || !p.Admin {
		t.Errorf("bootstrap token: %+v, %v", p, err)
	}
	for _, bad := range []string{"", "cmtd_nope", plain + "x", "bootstrap-admin-token-xy"} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, comment.ErrUnauthorized) {
			t.Errorf("Authenticate(%q) err = %v", bad, err)
		}
	}
	list, err := s.Tokens(ctx, owner)
	if err != nil || len(list) != 1 || list[0].LastUsedAt.IsZero() {
		t.Errorf("Tokens = %+v, %v; want one, used", list, err)
	}
	other, _ := s.CreateUser(ctx, "other@example.org", "", false)
	if err := s.RevokeToken(ctx, comment.Principal{UserID: other.ID}, tok.ID); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("revoking someone else's token: err = %v", err)
	}
	if err := s.RevokeToken(ctx, owner, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, comment.ErrUnauthorized) {
		t.Errorf("revoked token still works: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, comment.Principal{Name: "configured", Admin: true}, "x"); !errors.Is(err, comment.ErrForbidden) {
		t.Errorf("token for a principal without a user: err = %v", err)
	}
}

func TestGrantRules(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "x@example.org", "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "X@EXAMPLE.org", "", false); !errors.Is(err, comment.ErrConflict) {
		t.Errorf("duplicate email: err = %v", err)
	}
	moderator := comment.Principal{Roles: map[string]comment.Role{"blog": comment.RoleModerator}}
	owner := comment.Principal{Roles: map[string]comment.Role{"blog": comment.RoleOwner}}
	tests := []struct {
		name    string
		actor   comment.Principal
		email   string
		site    string
		role    comment.Role
		wantErr error
	}{
		{"moderator may not grant", moderator, "x@example.org", "blog", comment.RoleModerator, comment.ErrForbidden},
		{"owner grants on own site", owner, "x@example.org", "blog", comment.RoleModerator, nil},
		{"owner may not grant elsewhere", owner, "x@example.org", "news", comment.RoleModerator, comment.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Grant(ctx, tt.actor, tt.email, tt.site, tt.role); !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	var verr *comment.ValidationError
	if err := s.Grant(ctx, owner, "nobody@example.org", "blog", comment.RoleModerator); !errors.As(err, &verr) {
		t.Errorf("unknown user: err = %v", err)
	}
	if err := s.Grant(ctx, owner, "x@example.org", "blog", "superuser"); !errors.As(err, &verr) {
		t.Errorf("unknown role: err = %v", err)
	}
	if _, err := s.CreateUser(ctx, "short@example.org", "short", false); !errors.As(err, &verr) {
		t.Errorf("short password: err = %v", err)
	}
}
