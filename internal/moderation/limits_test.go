package moderation

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/sqlite"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestBusyArticleIsNeverLimited: with a site's default rules, a comment a
// second on one article from different readers is never refused, while a
// flood from one reader is.
func TestBusyArticleIsNeverLimited(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UpsertSite(ctx, comment.Site{ID: "news", Name: "News", RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: 3}}); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	svc := New(Deps{Store: st, Limiter: ratelimit.NewLocal(clk.now), Renderer: markup.NewRenderer(), Secret: []byte("k"), Now: clk.now})
	for i := range 300 {
		_, err := svc.Submit(ctx, Submission{SiteID: "news", PageKey: "/big-story", Name: "Reader", Email: fmt.Sprintf("r%d@example.org", i),
			Body: fmt.Sprintf("Comment %d", i), IP: fmt.Sprintf("10.%d.%d.1", i/250, i%250)})
		if err != nil {
			t.Fatalf("comment %d at one a second: %v", i, err)
		}
		clk.add(time.Second)
	}
	limited := 0
	for i := range 10 {
		_, err := svc.Submit(ctx, Submission{SiteID: "news", PageKey: "/big-story", Name: "Flood", Email: "flood@example.org",
			Body: fmt.Sprintf("Flood %d", i), IP: "192.0.2.1"})
		var rl *comment.RateLimitError
		if errors.As(err, &rl) {
			limited++
		}
	}
	if limited != 7 {
		t.Errorf("%d of 10 rapid comments from one reader were limited, want 7 (burst 3)", limited)
	}
}

// TestUnparseableStoredRulesHoldComments: a stored rule document that no
// longer parses (saved under looser limits) does not turn readers away:
// their comments are judged by the defaults, which hold them.
func TestUnparseableStoredRulesHoldComments(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UpsertSite(ctx, comment.Site{ID: "news", Name: "News"}); err != nil {
		t.Fatal(err)
	}
	doc := comment.RulesDoc{SiteID: "news", Settings: []byte(`{"no_such_setting": true}`), UpdatedBy: "test", UpdatedAt: time.Now()}
	if _, err := st.SaveRules(ctx, doc, comment.SiteLists{}, 0); err != nil {
		t.Fatal(err)
	}
	svc := New(Deps{Store: st, Limiter: ratelimit.NewLocal(time.Now), Renderer: markup.NewRenderer(), Secret: []byte("k")})
	rec, err := svc.Submit(ctx, Submission{SiteID: "news", PageKey: "/p", Name: "Reader", Email: "r@example.org", Body: "Hello", IP: "192.0.2.7"})
	if err != nil {
		t.Fatalf("submit with unparseable stored rules: %v", err)
	}
	if rec.Status != comment.StatusPending {
		t.Errorf("status = %q, want pending (the defaults hold every comment)", rec.Status)
	}
}
