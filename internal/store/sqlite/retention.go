package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// clientDataLevels are, per mode, the client_data_state the mode leaves
// and the states of the rows it still has to change (see the migration
// 00006_retention.sql). The states are listed in the query rather than
// compared with <, so that each is one range of comments_client_data.
var clientDataLevels = map[comment.ClientDataMode]struct {
	to   int
	from string
}{
	comment.ClientDataTruncate: {1, "0"},
	comment.ClientDataDelete:   {2, "0, 1"},
}

// expiring is one comment whose client data is about to be expired.
type expiring struct {
	rowid   int64
	ip      string
	reasons string
}

// ExpireClientData applies mode to at most limit comments created before
// before whose client data has not had it yet (see
// comment.RetentionStore). One batch is one short write transaction.
func (s *Store) ExpireClientData(ctx context.Context, before time.Time, mode comment.ClientDataMode, limit int) (int, error) {
	level, ok := clientDataLevels[mode]
	if !ok {
		return 0, comment.Invalid("mode", "Choose truncate or delete.")
	}
	if limit < 1 {
		return 0, comment.Invalid("limit", "The limit must be at least 1.")
	}
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		batch, err := expiringComments(ctx, tx, level.from, micros(before), limit)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE comments
			SET ip = ?, user_agent = '', reasons = ?, client_data_state = ? WHERE rowid = ?`)
		if err != nil {
			return mapErr(err)
		}
		defer stmt.Close()
		for _, c := range batch {
			ip, reasons, err := expireRow(mode, c)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, ip, reasons, level.to, c.rowid); err != nil {
				return mapErr(err)
			}
		}
		n = len(batch)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expire client data (%s) before %s: %w", mode, before.Format(time.RFC3339), err)
	}
	return n, nil
}

// expiringSQL selects the rowid, ip and reasons of up to ? comments in one
// of states created before ?.
func expiringSQL(states string) string {
	return `SELECT rowid, ip, reasons FROM comments
		WHERE client_data_state IN (` + states + `) AND created_at < ? LIMIT ?`
}

// expiringComments reads up to limit comments in one of the given states
// created before the time.
func expiringComments(ctx context.Context, tx *sql.Tx, states string, before int64, limit int) ([]expiring, error) {
	rows, err := tx.QueryContext(ctx, expiringSQL(states), before, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []expiring
	for rows.Next() {
		var c expiring
		if err := rows.Scan(&c.rowid, &c.ip, &c.reasons); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// expireRow returns the row's new ip and reasons columns. Reasons that
// hold no client data come back byte for byte.
func expireRow(mode comment.ClientDataMode, c expiring) (string, string, error) {
	reasons, err := unmarshalList[comment.Reason](c.reasons)
	if err != nil {
		// Reasons that cannot be read could hold the address in any form:
		// they go with the client data, rather than stopping retention at
		// this row for good.
		return mode.Expire(c.ip, nil).IP, "[]", nil
	}
	kept := mode.Expire(c.ip, reasons)
	if slices.Equal(kept.Reasons, reasons) {
		return kept.IP, c.reasons, nil
	}
	encoded, err := marshalList(kept.Reasons)
	if err != nil {
		return "", "", fmt.Errorf("encode reasons: %w", err)
	}
	return kept.IP, encoded, nil
}

// pendingStatsSQL counts, per site, the comments in status ?, those of them
// created before ?, and the oldest one's creation time.
const pendingStatsSQL = `SELECT s.id, count(c.id), coalesce(sum(c.created_at < ?), 0), min(c.created_at)
	FROM sites s LEFT JOIN comments c ON c.site_id = s.id AND c.status = ?
	GROUP BY s.id ORDER BY s.id`

// PendingStats returns every site's pending comments (see
// comment.RetentionStore): one query that seeks comments_site_queue once
// per site.
func (s *Store) PendingStats(ctx context.Context, overdueBefore time.Time) ([]comment.PendingStat, error) {
	rows, err := s.reader.QueryContext(ctx, pendingStatsSQL, micros(overdueBefore), string(comment.StatusPending))
	if err != nil {
		return nil, fmt.Errorf("pending stats: %w", mapErr(err))
	}
	defer rows.Close()
	var out []comment.PendingStat
	for rows.Next() {
		var (
			st     comment.PendingStat
			oldest sql.NullInt64
		)
		if err := rows.Scan(&st.SiteID, &st.Count, &st.Overdue, &oldest); err != nil {
			return nil, fmt.Errorf("pending stats: %w", mapErr(err))
		}
		if oldest.Valid {
			st.Oldest = fromMicros(oldest.Int64)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending stats: %w", mapErr(err))
	}
	return out, nil
}
