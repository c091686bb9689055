package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// clientDataLevels are, per mode, the client_data_state the mode leaves
// and the states of the rows it still has to change (see the migration
// 00006_retention.sql).
var clientDataLevels = map[comment.ClientDataMode]struct {
	to   int16
	from string
}{
	comment.ClientDataTruncate: {1, "0"},
	comment.ClientDataDelete:   {2, "0, 1"},
}

// ExpireClientData applies mode to at most limit comments created before
// before whose client data has not had it yet (see
// comment.RetentionStore), in one transaction. Rows another transaction
// holds locked are skipped, so that instances running the job at once
// share the work instead of waiting for each other; they are taken by a
// later call.
func (s *Store) ExpireClientData(ctx context.Context, before time.Time, mode comment.ClientDataMode, limit int) (int, error) {
	level, ok := clientDataLevels[mode]
	if !ok {
		return 0, comment.Invalid("mode", "Choose truncate or delete.")
	}
	if limit < 1 {
		return 0, comment.Invalid("limit", "The limit must be at least 1.")
	}
	var n int
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, ip, reasons FROM comments
			WHERE client_data_state IN (`+level.from+`) AND created_at < $1
			LIMIT $2 FOR UPDATE SKIP LOCKED`, before, limit)
		if err != nil {
			return err
		}
		var ids, ips, reasons []string
		for rows.Next() {
			var (
				id, ip string
				raw    []byte
			)
			if err := rows.Scan(&id, &ip, &raw); err != nil {
				rows.Close()
				return err
			}
			newIP, newReasons, err := expireRow(mode, ip, raw)
			if err != nil {
				rows.Close()
				return fmt.Errorf("comment %s: %w", id, err)
			}
			ids, ips, reasons = append(ids, id), append(ips, newIP), append(reasons, newReasons)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE comments AS c
			SET ip = v.ip, user_agent = '', reasons = v.reasons::jsonb, client_data_state = $4
			FROM unnest($1::text[], $2::text[], $3::text[]) AS v (id, ip, reasons)
			WHERE c.id = v.id`, ids, ips, reasons, level.to)
		if err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expire client data (%s) before %s: %w", mode, before.Format(time.RFC3339), mapErr(err))
	}
	return n, nil
}

// expireRow returns the row's new ip and reasons (JSON) columns. Reasons
// that hold no client data come back as they were.
func expireRow(mode comment.ClientDataMode, ip string, raw []byte) (string, string, error) {
	reasons, err := unmarshalList[comment.Reason](raw)
	if err != nil {
		// Reasons that cannot be read could hold the address in any form:
		// they go with the client data, rather than stopping retention at
		// this row for good.
		return mode.Expire(ip, nil).IP, "[]", nil
	}
	kept := mode.Expire(ip, reasons)
	if slices.Equal(kept.Reasons, reasons) {
		return kept.IP, string(bytes.TrimSpace(raw)), nil
	}
	encoded, err := json.Marshal(kept.Reasons)
	if err != nil {
		return "", "", fmt.Errorf("encode reasons: %w", err)
	}
	return kept.IP, string(encoded), nil
}

// PendingStats returns every site's pending comments (see
// comment.RetentionStore) in one query.
func (s *Store) PendingStats(ctx context.Context, overdueBefore time.Time) ([]comment.PendingStat, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.id, count(c.id), count(c.id) FILTER (WHERE c.created_at < $1), min(c.created_at)
		FROM sites s LEFT JOIN comments c ON c.site_id = s.id AND c.status = $2
		GROUP BY s.id ORDER BY s.id`, overdueBefore, string(comment.StatusPending))
	if err != nil {
		return nil, fmt.Errorf("pending stats: %w", mapErr(err))
	}
	defer rows.Close()
	var out []comment.PendingStat
	for rows.Next() {
		var (
			st     comment.PendingStat
			oldest *time.Time
		)
		if err := rows.Scan(&st.SiteID, &st.Count, &st.Overdue, &oldest); err != nil {
			return nil, fmt.Errorf("pending stats: %w", mapErr(err))
		}
		if oldest != nil {
			st.Oldest = oldest.UTC()
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending stats: %w", mapErr(err))
	}
	return out, nil
}
