package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/commentd/commentd/internal/store/storetest"
)

// TestDuplicatePlan checks with EXPLAIN QUERY PLAN that HasDuplicate is one
// search of the author's range of comments_author, not of a page's thread.
func TestDuplicatePlan(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	seedQueue(t, s, storetest.NewQueueFixture(1500, 4))
	var detail []string
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+duplicateQuery,
			"reader42@example.org", "bench-0", "/2025/post-1", "Nice post.")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id, parent, unused int
				d                  string
			)
			if err := rows.Scan(&id, &parent, &unused, &d); err != nil {
				return err
			}
			detail = append(detail, d)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	text := strings.Join(detail, "\n")
	if want := "SEARCH comments USING INDEX comments_author (author_email_lower=? AND site_id=?)"; !strings.Contains(text, want) {
		t.Errorf("query plan lacks %q:\n%s", want, text)
	}
	if strings.Contains(text, "SCAN comments") {
		t.Errorf("query plan scans comments:\n%s", text)
	}
}
