package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
)

// BenchmarkCreateComment measures storing new comments, one caller at a
// time and 64 at once, in a store open returns (empty, closed by the
// caller's cleanup).
func BenchmarkCreateComment(b *testing.B, open func(b *testing.B) comment.Store) {
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s := open(b)
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
