package sqlite

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
)

// BenchmarkCreateComment measures storing new comments with
// synchronous=FULL, one caller at a time and 64 at once (which group
// commit turns into shared transactions).
func BenchmarkCreateComment(b *testing.B) {
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s, _ := openTemp(b, Options{})
			defer s.Close()
			ctx := context.Background()
			if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog"}); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(callers)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					at := time.Now().UTC().Truncate(time.Microsecond)
					c := comment.Comment{
						ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: fmt.Sprintf("/p%d", i%100), Depth: 1,
						AuthorName: "Ann", AuthorEmail: fmt.Sprintf("ann%d@example.org", i), Body: "A comment of ordinary length, to be stored.",
						BodyHTML: "<p>A comment of ordinary length, to be stored.</p>", Status: comment.StatusPending,
						IP: "192.0.2.1", UserAgent: "bench", CreatedAt: at, UpdatedAt: at,
					}
					if err := s.CreateComment(ctx, c, comment.Page{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "comments/s")
		})
	}
}

// Writes racing Close all return: each is either committed or refused.
func TestCloseWhileWriting(t *testing.T) {
	for round := range 20 {
		s, _ := openTemp(t, Options{})
		ctx := context.Background()
		if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				at := time.Now().UTC().Truncate(time.Microsecond)
				c := comment.Comment{ID: fmt.Sprintf("r%d-%d", round, i), SiteID: "blog", PageKey: "/p", Depth: 1, AuthorName: "A",
					AuthorEmail: "a@example.org", Body: "b", BodyHTML: "<p>b</p>", Status: comment.StatusPending, CreatedAt: at, UpdatedAt: at}
				_ = s.CreateComment(ctx, c, comment.Page{})
			})
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a CreateComment racing Close never returned", round)
		}
	}
}
