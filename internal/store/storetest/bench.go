package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// QueueFixture is a large moderation queue for benchmarks: pending comments
// spread evenly over a few sites and many pages, with many authors and
// addresses, bodies drawn from a vocabulary of a few thousand words, and one
// spammer who sent every 50th comment (same email in varying case, same IP,
// and the words "casino bonus"). A store's benchmark writes it with a bulk
// path of its own, then calls Benchmark.
type QueueFixture struct {
	Sites    []comment.Site
	Pages    []comment.Page
	Comments []comment.Comment // in (CreatedAt, ID) order
}

// The spammer's email and IP address, and a word that only a few comments
// hold.
const (
	SpammerEmail = "spammer@example.net"
	SpammerIP    = "203.0.113.66"
	RareWord     = "zeppelin"
)

// NewQueueFixture returns n pending comments on the given number of sites
// (100 pages each), the same for the same arguments.
func NewQueueFixture(n, sites int) QueueFixture {
	rng := rand.New(rand.NewPCG(1, 2))
	var fx QueueFixture
	for i := range sites {
		fx.Sites = append(fx.Sites, comment.Site{ID: fmt.Sprintf("bench-%d", i), Name: fmt.Sprintf("Bench %d", i), CreatedAt: t0, UpdatedAt: t0})
		for j := range 100 {
			key := fmt.Sprintf("/2025/post-%d", j)
			fx.Pages = append(fx.Pages, comment.Page{SiteID: fx.Sites[i].ID, Key: key, URL: "https://bench.example" + key, Title: fmt.Sprintf("Post %d", j)})
		}
	}
	vocab := vocabulary(4000)
	fx.Comments = make([]comment.Comment, n)
	for i := range fx.Comments {
		site := fx.Sites[rng.IntN(sites)]
		words := make([]string, 8+rng.IntN(13))
		for w := range words {
			words[w] = vocab[rng.IntN(len(vocab))]
		}
		author := rng.IntN(5000)
		c := comment.Comment{
			ID:          fmt.Sprintf("%08x-0000-7000-8000-%012x", i, rng.Uint64()&0xffffffffffff),
			SiteID:      site.ID,
			PageKey:     fmt.Sprintf("/2025/post-%d", rng.IntN(100)),
			Depth:       1,
			AuthorName:  fmt.Sprintf("Reader %d", author),
			AuthorEmail: fmt.Sprintf("Reader%d@Example.org", author),
			Body:        strings.Join(words, " ") + ".",
			Status:      comment.StatusPending,
			IP:          fmt.Sprintf("198.51.%d.%d", rng.IntN(8), rng.IntN(250)),
			UserAgent:   "bench/1.0",
			CreatedAt:   t0.Add(time.Duration(i) * time.Second),
		}
		switch {
		case i%50 == 7:
			c.AuthorName, c.IP = "Lucky Winner", SpammerIP
			c.AuthorEmail = []string{SpammerEmail, "Spammer@Example.NET", "SPAMMER@example.net"}[rng.IntN(3)]
			c.Body = "Best casino bonus today: " + c.Body
		case i%5000 == 11:
			c.Body += " " + RareWord
		}
		c.BodyHTML = "<p>" + c.Body + "</p>"
		c.UpdatedAt = c.CreatedAt
		fx.Comments[i] = c
	}
	return fx
}

// vocabulary returns n distinct made-up words of two or three syllables.
func vocabulary(n int) []string {
	syllables := strings.Fields("ka lo mi ra ne tu sa vi do pe ru la mo ti be go fa ni so che wa ze yu pa")
	words := make([]string, 0, n)
	for _, a := range syllables {
		for _, b := range syllables {
			for _, c := range append([]string{""}, syllables...) {
				if len(words) == n {
					return words
				}
				words = append(words, a+b+c)
			}
		}
	}
	return words
}

// Benchmark times the moderation queue's queries on s, which must hold fx
// (and nothing else pending), as sub-benchmarks of b: the first page of
// every site's queue and of one site's; a page deep in the keyset (after
// the comment 90% of the way in); the queue filtered by the spammer's email
// (also 80% of the way into the spammer's comments) and IP address; and two
// word searches, one matching the spammer's 2% and one a few comments.
func (fx QueueFixture) Benchmark(b *testing.B, s comment.Store) {
	ctx := b.Context()
	site := fx.Sites[0].ID
	var onSite, spamOnSite []comment.Comment
	for _, c := range fx.Comments {
		if c.SiteID == site {
			onSite = append(onSite, c)
			if c.IP == SpammerIP {
				spamOnSite = append(spamOnSite, c)
			}
		}
	}
	// cursor returns the position of the comment a fraction of the way
	// into cs.
	cursor := func(cs []comment.Comment, fraction float64) *comment.Cursor {
		c := cs[int(float64(len(cs))*fraction)]
		return &comment.Cursor{CreatedAt: c.CreatedAt, ID: c.ID}
	}
	one := []string{site}
	pending := comment.StatusPending
	benchmarks := []struct {
		name     string
		f        comment.ListFilter
		wantFull bool // a full page is expected
	}{
		{"FirstPage", comment.ListFilter{Status: pending}, true},
		{"FirstPageSite", comment.ListFilter{SiteIDs: one, Status: pending}, true},
		{"DeepPage", comment.ListFilter{Status: pending, After: cursor(fx.Comments, 0.9)}, true},
		{"DeepPageSite", comment.ListFilter{SiteIDs: one, Status: pending, After: cursor(onSite, 0.9)}, true},
		{"Email", comment.ListFilter{SiteIDs: one, Status: pending, AuthorEmail: SpammerEmail}, true},
		{"EmailDeep", comment.ListFilter{SiteIDs: one, Status: pending, AuthorEmail: SpammerEmail, After: cursor(spamOnSite, 0.8)}, true},
		{"IP", comment.ListFilter{SiteIDs: one, Status: pending, IP: SpammerIP}, true},
		{"Query", comment.ListFilter{SiteIDs: one, Status: pending, Query: "casino bonus"}, true},
		{"QueryRare", comment.ListFilter{SiteIDs: one, Status: pending, Query: RareWord}, false},
	}
	for _, bm := range benchmarks {
		bm.f.Limit = 50
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				cs, err := s.List(ctx, bm.f)
				if err != nil {
					b.Fatalf("List: %v", err)
				}
				if len(cs) == 0 || (bm.wantFull && len(cs) != bm.f.Limit) {
					b.Fatalf("List returned %d comments", len(cs))
				}
			}
		})
	}
}
