package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/auth"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/sqlite"
	"github.com/commentd/commentd/internal/threadcache"
)

// benchHandler is the real handler over SQLite (WAL, synchronous=FULL) with
// the in-process limiter set so loose that it never refuses, and the thread
// cache if cached is set.
func benchHandler(b *testing.B, cached bool) (http.Handler, *moderation.Service) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog", RateLimit: comment.RateLimit{Every: time.Millisecond, Burst: 1 << 30}}); err != nil {
		b.Fatal(err)
	}
	bus := events.NewLocal()
	var threads *threadcache.Cache
	if cached {
		threads = threadcache.New(threadcache.Options{Bus: bus})
	}
	svc := moderation.New(moderation.Deps{Store: st, Limiter: ratelimit.NewLocal(time.Now), Renderer: markup.NewRenderer(), Secret: []byte("k"), Threads: threads})
	accounts, err := account.New(account.Deps{Store: st, Limiter: ratelimit.NewLocal(time.Now), Static: auth.NewTokens(auth.AdminToken(testAdminToken))})
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewServer(Deps{Moderation: svc, Accounts: accounts, Events: bus, Threads: threads}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return h, svc
}

// BenchmarkSubmit measures one JSON submission through the whole handler:
// decode, validate, limit, render, commit.
func BenchmarkSubmit(b *testing.B) {
	h, _ := benchHandler(b, true)
	// Each comment differs in its last words: a repeat would be refused as a
	// duplicate.
	head, _ := json.Marshal(map[string]string{
		"page": "/2026/11/towpath", "name": "Ann Reader", "email": "ann@example.org", "website": "https://ann.example",
	})
	head = head[:len(head)-1]
	const text = `,"body":"I walked the new stretch on Sunday. The gravel is **firm** and the fence by the lock is a good idea; see https://example.org/map for the route, walk %d."}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		body := fmt.Appendf(append([]byte(nil), head...), text, i)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sites/blog/comments", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// threadHandler serves a page "/p" of 10 approved comments (two of them
// replies), and pages "/q0".."/q19" of one comment each.
func threadHandler(b *testing.B, cached bool) http.Handler {
	b.Helper()
	h, svc := benchHandler(b, cached)
	ctx := context.Background()
	admin := comment.Principal{Name: "admin", Admin: true}
	parent := ""
	for i := range 30 {
		sub := moderation.Submission{SiteID: "blog", PageKey: "/p", Name: fmt.Sprintf("Reader %d", i), Email: "r@example.org",
			Body: fmt.Sprintf("Comment %d, of ordinary length, with *some* emphasis and a [link](https://example.org/).", i), IP: "10.0.0.1"}
		switch {
		case i >= 10:
			sub.PageKey = fmt.Sprintf("/q%d", i-10)
		case i%4 == 3:
			sub.ParentID = parent
		}
		rec, err := svc.Submit(ctx, sub)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Act(ctx, admin, rec.Comment.ID, moderation.ActionApprove); err != nil {
			b.Fatal(err)
		}
		parent = rec.Comment.ID
	}
	return h
}

// get runs one GET through h and fails unless it answers want.
func get(b *testing.B, h http.Handler, target, ifNoneMatch string, want int) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("GET %s: status %d, want %d", target, rec.Code, want)
	}
	return rec
}

// BenchmarkThread measures reading a page of 10 approved comments as JSON,
// as served (from the cache).
func BenchmarkThread(b *testing.B) {
	h := threadHandler(b, true)
	b.ReportAllocs()
	for b.Loop() {
		get(b, h, "/api/v1/sites/blog/comments?page=/p", "", http.StatusOK)
	}
}

// BenchmarkThreadUncached is BenchmarkThread with every read going to the
// database: what a cache miss costs.
func BenchmarkThreadUncached(b *testing.B) {
	h := threadHandler(b, false)
	b.ReportAllocs()
	for b.Loop() {
		get(b, h, "/api/v1/sites/blog/comments?page=/p", "", http.StatusOK)
	}
}

// BenchmarkThreadRevalidated measures a read whose If-None-Match names the
// current ETag (304).
func BenchmarkThreadRevalidated(b *testing.B) {
	h := threadHandler(b, true)
	tag := get(b, h, "/api/v1/sites/blog/comments?page=/p", "", http.StatusOK).Header().Get("ETag")
	b.ReportAllocs()
	for b.Loop() {
		get(b, h, "/api/v1/sites/blog/comments?page=/p", tag, http.StatusNotModified)
	}
}

// BenchmarkCounts measures the counts of 20 pages in one request.
func BenchmarkCounts(b *testing.B) {
	h := threadHandler(b, true)
	target := "/api/v1/sites/blog/counts?page=/q0"
	for i := 1; i < 20; i++ {
		target += fmt.Sprintf("&page=/q%d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		get(b, h, target, "", http.StatusOK)
	}
}
