package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/testenv"
)

// runSeed runs "commentd seed" with the given flags against the database
// db, with the test site declared in the configuration file, and returns
// its standard output.
func runSeed(t *testing.T, db, site string, flags ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "commentd.yaml")
	if err := os.WriteFile(path, []byte(siteYAML(site, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"COMMENTD_DATABASE_URL": db}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var stdout, stderr bytes.Buffer
	args := append([]string{"seed", "--config", path, "--site", site}, flags...)
	err := run(context.Background(), args, lookup, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Logf("stderr:\n%s", stderr.String())
	}
	return stdout.String(), err
}

// openSeeded opens the store of database db as the commands do.
func openSeeded(t *testing.T, db string) comment.Store {
	t.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) {
		if k == "COMMENTD_DATABASE_URL" {
			return db, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

var seededRE = regexp.MustCompile(`^seeded 230 comments \(30 pending\) over 20 pages of site (\S+) in \d+\.\ds\n$`)

// TestSeed seeds a small site on both stores and reads it back through the
// store and through the running service.
func TestSeed(t *testing.T) {
	for _, st := range databases() {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			site, db := testenv.UniqueName("s"), st.db(t)
			out, err := runSeed(t, db, site, "--pages", "20", "--comments", "200", "--pending", "30")
			if err != nil {
				t.Fatalf("seed: %v", err)
			}
			if m := seededRE.FindStringSubmatch(out); m == nil || m[1] != site {
				t.Fatalf("seed printed %q, want the summary line for site %s", out, site)
			}
			store := openSeeded(t, db)
			checkSeeded(ctx, t, store, site)

			// The service serves what was seeded.
			in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{
				"COMMENTD_DATABASE_URL": db, "COMMENTD_ADMIN_TOKEN": "seed-test-admin-token-0123456789",
			}})
			var th threadBody
			r := in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page="+url.QueryEscape("/articles/00003"), nil, nil)
			r.decode(t, &th)
			if r.status != 200 || th.Total != 10 {
				t.Errorf("thread of /articles/00003: status %d, total %d; want 200 and 10", r.status, th.Total)
			}
			var q struct {
				Comments []struct{ ID string } `json:"comments"`
			}
			r = in.mod(t, "GET", "/comments?status=pending&limit=50&site="+site)
			r.decode(t, &q)
			if r.status != 200 || len(q.Comments) != 30 {
				t.Errorf("moderation queue: status %d, %d comments; want 200 and 30", r.status, len(q.Comments))
			}
		})
	}
}

// checkSeeded checks what seeding 20 pages, 200 approved and 30 pending
// comments on site stored.
func checkSeeded(ctx context.Context, t *testing.T, store comment.Store, site string) {
	t.Helper()
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("/articles/%05d", i)
	}
	counts, err := store.CountApproved(ctx, site, keys)
	if err != nil {
		t.Fatalf("CountApproved: %v", err)
	}
	for _, k := range keys {
		if counts[k] != 10 {
			t.Errorf("page %s has %d approved comments, want 10 (200 spread evenly over 20 pages)", k, counts[k])
		}
	}
	page, err := store.Page(ctx, site, "/articles/00007")
	if err != nil {
		t.Fatalf("Page: %v", err)
	}
	if page.URL != "https://news.example/articles/00007" || !strings.HasPrefix(page.Title, "Article 00007: ") {
		t.Errorf("page = %+v, want the URL on the site's first origin and a title", page)
	}

	renderer := markup.NewRenderer()
	docIPs := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32"),
	}
	emailRE := regexp.MustCompile(`^reader\d+@example\.org$`)
	var approved []comment.Comment
	replies := 0
	for _, k := range keys {
		thread, err := store.Approved(ctx, site, k)
		if err != nil {
			t.Fatalf("Approved(%s): %v", k, err)
		}
		seen := map[string]comment.Comment{}
		for _, c := range thread {
			if c.ParentID != "" {
				replies++
				p, ok := seen[c.ParentID]
				if !ok || c.Depth != p.Depth+1 || c.Depth > comment.MaxDepth {
					t.Errorf("comment %s (depth %d) answers %s, which is not an earlier approved comment of the page one level up", c.ID, c.Depth, c.ParentID)
				}
			} else if c.Depth != 1 {
				t.Errorf("top-level comment %s has depth %d", c.ID, c.Depth)
			}
			seen[c.ID] = c
		}
		approved = append(approved, thread...)
	}
	if replies < 20 || replies > 80 {
		t.Errorf("%d of 200 approved comments are replies, want about one in four", replies)
	}

	pending, err := store.List(ctx, comment.ListFilter{SiteIDs: []string{site}, Status: comment.StatusPending, Limit: 500})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(pending) != 30 {
		t.Fatalf("queue has %d pending comments, want 30", len(pending))
	}
	var lastApproved time.Time
	for _, c := range approved {
		if c.CreatedAt.After(lastApproved) {
			lastApproved = c.CreatedAt
		}
	}
	if !pending[0].CreatedAt.After(lastApproved) {
		t.Errorf("first pending comment created at %v, not after the last approved one (%v)", pending[0].CreatedAt, lastApproved)
	}

	for _, c := range append(approved, pending...) {
		id, err := uuid.Parse(c.ID)
		if err != nil || id.Version() != 7 {
			t.Errorf("id %q is not a UUIDv7", c.ID)
			continue
		}
		sec, nsec := id.Time().UnixTime()
		if at := time.Unix(sec, nsec); !at.Equal(c.CreatedAt.Truncate(time.Millisecond)) {
			t.Errorf("id %s holds time %v, comment created at %v", c.ID, at, c.CreatedAt)
		}
		if !emailRE.MatchString(c.AuthorEmail) {
			t.Errorf("author email %q", c.AuthorEmail)
		}
		ip, err := netip.ParseAddr(c.IP)
		if err != nil || !(docIPs[0].Contains(ip) || docIPs[1].Contains(ip) || docIPs[2].Contains(ip)) {
			t.Errorf("IP %q is not from a documentation range", c.IP)
		}
		if html, _ := renderer.Render(c.Body); html != c.BodyHTML {
			t.Errorf("comment %s: body HTML %q, the renderer makes %q", c.ID, c.BodyHTML, html)
		}
	}

	history, err := store.History(ctx, pending[0].ID)
	if err != nil || len(history) != 1 || history[0].Action != "submit" || history[0].ToStatus != comment.StatusPending {
		t.Errorf("History = %+v, %v; want one submit event", history, err)
	}
	found, err := store.List(ctx, comment.ListFilter{SiteIDs: []string{site}, Status: comment.StatusApproved, Query: "thanks", Limit: 500})
	if err != nil || len(found) == 0 {
		t.Errorf("search for a word of the bodies found %d comments, %v", len(found), err)
	}
}

// TestSeedSameSeedSameData: two seeds with the same --random-seed make the
// same authors, bodies and threads.
func TestSeedSameSeedSameData(t *testing.T) {
	ctx := context.Background()
	site := testenv.UniqueName("s")
	var shapes [2][]string
	for i := range shapes {
		db := filepath.Join(t.TempDir(), "c.db")
		if _, err := runSeed(t, db, site, "--pages", "3", "--comments", "40", "--pending", "5", "--random-seed", "42"); err != nil {
			t.Fatalf("seed: %v", err)
		}
		store := openSeeded(t, db)
		cs, err := store.List(ctx, comment.ListFilter{Status: comment.StatusApproved, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		index := map[string]int{}
		for n, c := range cs {
			index[c.ID] = n
			parent := -1
			if c.ParentID != "" {
				parent = index[c.ParentID]
			}
			shapes[i] = append(shapes[i], fmt.Sprintf("%s %s %s %d %q", c.PageKey, c.AuthorEmail, c.IP, parent, c.Body))
		}
	}
	if strings.Join(shapes[0], "\n") != strings.Join(shapes[1], "\n") {
		t.Errorf("two seeds with --random-seed 42 differ:\n%s\n---\n%s", strings.Join(shapes[0], "\n"), strings.Join(shapes[1], "\n"))
	}
}

func TestSeedErrors(t *testing.T) {
	tests := []struct {
		name  string
		site  string
		flags []string
		want  string
	}{
		{"no site", "", []string{"--pages", "1"}, "--site is required"},
		{"no pages", "s1", []string{"--comments", "5"}, "--pages must be at least 1"},
		{"negative", "s1", []string{"--pages", "1", "--pending", "-1"}, "cannot be negative"},
		{"undeclared site", "other", []string{"--pages", "1"}, `no site "other"`},
		{"extra argument", "s1", []string{"--pages", "1", "more"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "commentd.yaml")
			if err := os.WriteFile(path, []byte(siteYAML("s1", "")), 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(t.TempDir(), "c.db")
			lookup := func(k string) (string, bool) {
				if k == "COMMENTD_DATABASE_URL" {
					return db, true
				}
				return "", false
			}
			args := []string{"seed", "--config", path}
			if tt.site != "" {
				args = append(args, "--site", tt.site)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(args, tt.flags...), lookup, strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("seed error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkSeededQueries times, on a database that "commentd seed" filled,
// the store calls behind every page view and every look at the moderation
// queue: a page's thread, the counts of 20 pages, the queue's first page
// and the page 50 pages deep (keyset), each across all sites and for one
// site, and a whole queue request as the service makes it. It runs only
// when COMMENTD_BENCH_DATABASE_URL (a SQLite path or a postgres:// URL) and
// COMMENTD_BENCH_SITE name such a database and its site:
//
//	COMMENTD_BENCH_DATABASE_URL=/tmp/big.db COMMENTD_BENCH_SITE=bench \
//	  go test -run '^$' -bench SeededQueries ./cmd/commentd
func BenchmarkSeededQueries(b *testing.B) {
	db, site := os.Getenv("COMMENTD_BENCH_DATABASE_URL"), os.Getenv("COMMENTD_BENCH_SITE")
	if db == "" || site == "" {
		b.Skip("set COMMENTD_BENCH_DATABASE_URL and COMMENTD_BENCH_SITE to a seeded database and its site")
	}
	ctx := context.Background()
	cfg, err := config.Load("", func(k string) (string, bool) {
		if k == "COMMENTD_DATABASE_URL" {
			return db, true
		}
		return "", false
	})
	if err != nil {
		b.Fatal(err)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()

	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("/articles/%05d", i)
	}
	pending, one := comment.StatusPending, []string{site}
	// deep returns the cursor after 50 pages of 50 of the queue f.
	deep := func(f comment.ListFilter) *comment.Cursor {
		f.Limit = 50
		var cur *comment.Cursor
		for range 50 {
			f.After = cur
			cs, err := store.List(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			if len(cs) == 0 {
				break
			}
			last := cs[len(cs)-1]
			cur = &comment.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		return cur
	}
	queues := []struct {
		name string
		f    comment.ListFilter
	}{
		{"QueueFirst", comment.ListFilter{Status: pending}},
		{"QueueFirstSite", comment.ListFilter{Status: pending, SiteIDs: one}},
		{"QueueDeep", comment.ListFilter{Status: pending, After: deep(comment.ListFilter{Status: pending})}},
		{"QueueDeepSite", comment.ListFilter{Status: pending, SiteIDs: one, After: deep(comment.ListFilter{Status: pending, SiteIDs: one})}},
	}

	b.Run("Thread", func(b *testing.B) {
		for b.Loop() {
			if cs, err := store.Approved(ctx, site, keys[0]); err != nil || len(cs) == 0 {
				b.Fatalf("Approved: %d comments, %v", len(cs), err)
			}
		}
	})
	b.Run("CountApproved20", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.CountApproved(ctx, site, keys); err != nil {
				b.Fatalf("CountApproved: %v", err)
			}
		}
	})
	for _, q := range queues {
		q.f.Limit = 50
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := store.List(ctx, q.f); err != nil {
					b.Fatalf("List: %v", err)
				}
			}
		})
	}
	// The whole queue request: the list, then the parents, pages and
	// author histories shown beside each comment.
	svc := moderation.New(moderation.Deps{Store: store, Limiter: ratelimit.NewLocal(time.Now), Renderer: markup.NewRenderer(), Secret: []byte("bench")})
	admin := comment.Principal{Name: "bench", Admin: true}
	for _, siteID := range []string{"", site} {
		b.Run("QueueRequest"+map[bool]string{true: "Site"}[siteID != ""], func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Queue(ctx, admin, moderation.QueueFilter{SiteID: siteID}); err != nil {
					b.Fatalf("Queue: %v", err)
				}
			}
		})
	}
}
