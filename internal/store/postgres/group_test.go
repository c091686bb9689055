package postgres

import (
	"testing"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
)

// BenchmarkCreateComment measures storing new comments (synchronous_commit
// on), one caller at a time and 64 at once: each caller has its own
// transaction, and PostgreSQL flushes the log once for all the commits that
// wait at the same moment.
func BenchmarkCreateComment(b *testing.B) {
	storetest.BenchmarkCreateComment(b, func(b *testing.B) comment.Store {
		s := openSchema(b)
		b.Cleanup(func() { s.Close() })
		return s
	})
}
