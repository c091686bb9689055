package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
)

// TestRetentionPlans checks with EXPLAIN QUERY PLAN that the retention
// job's batches and the pending summary seek an index instead of reading
// every comment, so that neither costs more as the table grows.
func TestRetentionPlans(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(1500, 4)
	seedQueue(t, s, fx)
	if _, err := s.writer.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
	before := micros(fx.Comments[len(fx.Comments)/2].CreatedAt)
	tests := []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{"truncate batch", expiringSQL(clientDataLevels[comment.ClientDataTruncate].from), []any{before, 500},
			[]string{"USING INDEX comments_client_data (client_data_state=? AND created_at<?)"}},
		{"delete batch", expiringSQL(clientDataLevels[comment.ClientDataDelete].from), []any{before, 500},
			[]string{"USING INDEX comments_client_data (client_data_state=? AND created_at<?)"}},
		{"pending stats", pendingStatsSQL, []any{before, string(comment.StatusPending)},
			[]string{"USING COVERING INDEX comments_site_queue (site_id=? AND status=?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var detail []string
			err := s.read(ctx, func(tx *sql.Tx) error {
				rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
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
			t.Logf("plan:\n%s", text)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("query plan lacks %q:\n%s", w, text)
				}
			}
			for _, d := range detail {
				if d == "SCAN comments" || d == "SCAN c" {
					t.Errorf("query plan reads the whole comments table:\n%s", text)
				}
			}
		})
	}
}

// TestRetentionPassesUnreadableReasons: a comment whose stored reasons do
// not decode (written by hand or by an old import) still has its client
// data expired, and does not stop the comments after it.
func TestRetentionPassesUnreadableReasons(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(6, 1)
	seedQueue(t, s, fx)
	first := fx.Comments[0].ID
	if _, err := s.writer.ExecContext(ctx, "UPDATE comments SET reasons = 'not json', ip = '198.51.100.23' WHERE id = ?", first); err != nil {
		t.Fatal(err)
	}
	before := fx.Comments[len(fx.Comments)-1].CreatedAt.Add(time.Second)
	n, err := s.ExpireClientData(ctx, before, comment.ClientDataTruncate, 500)
	if err != nil {
		t.Fatalf("ExpireClientData: %v", err)
	}
	if n != len(fx.Comments) {
		t.Errorf("expired %d comments, want all %d", n, len(fx.Comments))
	}
	var ip, reasons string
	if err := s.writer.QueryRowContext(ctx, "SELECT ip, reasons FROM comments WHERE id = ?", first).Scan(&ip, &reasons); err != nil {
		t.Fatal(err)
	}
	if ip != "198.51.100.0/24" || reasons != "[]" {
		t.Errorf("after expiry: ip %q, reasons %q; want the /24 and no reasons", ip, reasons)
	}
}
