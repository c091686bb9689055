package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/store/storetest"
)

// TestDuplicatePlan checks with EXPLAIN, on an analyzed table of 1,500
// comments, that HasDuplicate reads the author's range of comments_author.
func TestDuplicatePlan(t *testing.T) {
	ctx := context.Background()
	s := openSchema(t)
	defer s.Close()
	seedQueue(t, s, storetest.NewQueueFixture(1500, 4))
	rows, err := s.pool.Query(ctx, "EXPLAIN "+duplicateQuery,
		"reader42@example.org", "bench-0", "/2025/post-1", "Nice post.")
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"Index Scan using comments_author on comments",
		"Index Cond: ((author_email_lower = ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("query plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Seq Scan") {
		t.Errorf("query plan scans comments:\n%s", text)
	}
}
