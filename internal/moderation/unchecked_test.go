package moderation

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/spam"
	"github.com/commentd/commentd/internal/store/sqlite"
)

// failingLimiter is a Limiter whose every decision fails.
type failingLimiter struct{}

func (failingLimiter) AllowChain(context.Context, []ratelimit.Check) (ratelimit.Refusal, error) {
	return ratelimit.Refusal{}, errors.New("test: limiter broken")
}

// newApprovingService returns a service over a fresh SQLite store whose
// site "news" approves every comment no rule holds.
func newApprovingService(t *testing.T, lim Limiter) *Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.UpsertSite(ctx, comment.Site{ID: "news", Name: "News", RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: 3}}); err != nil {
		t.Fatal(err)
	}
	svc := New(Deps{Store: st, Limiter: lim, Renderer: markup.NewRenderer(), Secret: []byte("k")})
	rules := spam.DefaultRules()
	rules.Mode = spam.ModeHoldOnHits
	rules.MinSubmitSeconds = 0
	rules.HoldWords = []string{"casino"}
	rules.BlockWords = []string{"buy followers"}
	if _, err := svc.SaveRules(ctx, comment.Principal{Name: "admin", Admin: true}, "news", rules); err != nil {
		t.Fatal(err)
	}
	return svc
}

// deadRedisLimiter is a Redis limiter whose Redis never answers.
func deadRedisLimiter(t *testing.T) *ratelimit.Redis {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	return ratelimit.NewRedis(client, ratelimit.NewLocal(time.Now), ratelimit.RedisOptions{})
}

// TestUncheckedLimitsHoldApprovals: a comment the rules would approve is
// held, with a reason, when its limits were checked by this instance alone
// or not at all; other verdicts stand, and a limit that refuses still
// refuses. With no Redis configured, the in-process limiter is the whole
// truth and approvals stand.
func TestUncheckedLimitsHoldApprovals(t *testing.T) {
	tests := []struct {
		name       string
		limiter    func(t *testing.T) Limiter
		body       string
		honeypot   string
		wantErr    error
		wantStatus comment.Status
		wantRules  []string
		wantDetail string // of the RuleLimitsUnchecked reason, if any
	}{
		{name: "in-process limiter configured, clean", limiter: func(*testing.T) Limiter { return ratelimit.NewLocal(time.Now) },
			body: "A clean comment.", wantStatus: comment.StatusApproved},
		{name: "Redis unreachable, clean", limiter: func(t *testing.T) Limiter { return deadRedisLimiter(t) },
			body: "A clean comment.", wantStatus: comment.StatusPending, wantRules: []string{RuleLimitsUnchecked}, wantDetail: detailLimitsLocal},
		{name: "limiter error, clean", limiter: func(*testing.T) Limiter { return failingLimiter{} },
			body: "A clean comment.", wantStatus: comment.StatusPending, wantRules: []string{RuleLimitsUnchecked}, wantDetail: detailLimitsFailed},
		{name: "Redis unreachable, hold word", limiter: func(t *testing.T) Limiter { return deadRedisLimiter(t) },
			body: "Free casino chips.", wantStatus: comment.StatusPending, wantRules: []string{spam.RuleHoldWords, RuleLimitsUnchecked}, wantDetail: detailLimitsLocal},
		{name: "Redis unreachable, honeypot", limiter: func(t *testing.T) Limiter { return deadRedisLimiter(t) },
			body: "Hello.", honeypot: "http://bot.example", wantStatus: comment.StatusSpam, wantRules: []string{spam.RuleHoneypot, RuleLimitsUnchecked}, wantDetail: detailLimitsLocal},
		{name: "Redis unreachable, block word", limiter: func(t *testing.T) Limiter { return deadRedisLimiter(t) },
			body: "We buy followers.", wantErr: comment.ErrRejected},
		{name: "limiter error, block word", limiter: func(*testing.T) Limiter { return failingLimiter{} },
			body: "We buy followers.", wantErr: comment.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			svc := newApprovingService(t, tt.limiter(t))
			token, err := svc.FormToken(ctx, "news", "/p")
			if err != nil {
				t.Fatal(err)
			}
			rec, err := svc.Submit(ctx, Submission{SiteID: "news", PageKey: "/p", Name: "Ann", Email: "ann@example.org",
				Body: tt.body, IP: "192.0.2.10", FormToken: token, Honeypot: tt.honeypot})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Submit error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			c, err := svc.store.Comment(ctx, rec.Comment.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != tt.wantStatus {
				t.Errorf("stored status %q, want %q (reasons %+v)", c.Status, tt.wantStatus, c.Reasons)
			}
			var rules []string
			detail := ""
			for _, r := range c.Reasons {
				if r.Rule == spam.RuleTokenMissing {
					continue
				}
				rules = append(rules, r.Rule)
				if r.Rule == RuleLimitsUnchecked {
					detail = r.Detail
				}
			}
			if fmt.Sprint(rules) != fmt.Sprint(tt.wantRules) {
				t.Errorf("reasons %+v, want rules %v", c.Reasons, tt.wantRules)
			}
			if detail != tt.wantDetail {
				t.Errorf("unchecked detail %q, want %q", detail, tt.wantDetail)
			}
			if c.Status == comment.StatusSpam && rec.Status != comment.StatusPending {
				t.Errorf("the submitter was told %q, want pending", rec.Status)
			}
		})
	}
}

// With Redis unreachable the in-process fallback still refuses a flood from
// one address: degraded never means unlimited.
func TestUncheckedLimitsStillRefuse(t *testing.T) {
	ctx := context.Background()
	svc := newApprovingService(t, deadRedisLimiter(t))
	limited := 0
	for i := range 6 {
		_, err := svc.Submit(ctx, Submission{SiteID: "news", PageKey: "/p", Name: "Flood", Email: fmt.Sprintf("f%d@example.org", i),
			Body: fmt.Sprintf("Flood %d", i), IP: "192.0.2.1"})
		var rl *comment.RateLimitError
		switch {
		case errors.As(err, &rl):
			limited++
		case err != nil:
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	if limited != 3 {
		t.Errorf("%d of 6 rapid comments from one address were limited, want 3 (burst 3)", limited)
	}
}
