package sqlite

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
)

// BenchmarkCreateComment measures storing new comments with
// synchronous=FULL, one caller at a time and 64 at once (which group
// commit turns into shared transactions).
func BenchmarkCreateComment(b *testing.B) {
	storetest.BenchmarkCreateComment(b, func(b *testing.B) comment.Store {
		s, _ := openTemp(b, Options{})
		b.Cleanup(func() { s.Close() })
		return s
	})
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
