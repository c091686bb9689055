package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// ClaimNotifyJobs leases up to limit jobs not leased at now (see
// comment.NotifyStore). SQLite has one writer, so selecting and updating
// in one write transaction is enough for no two callers to get a job.
func (s *Store) ClaimNotifyJobs(ctx context.Context, now, until time.Time, limit int) ([]comment.NotifyJob, error) {
	// Most polls find nothing: look on the read pool first, so that they do
	// not take the write lock.
	if found, err := s.exists(ctx, `SELECT EXISTS (SELECT 1 FROM notify_jobs WHERE claimed_until < ?)`, micros(now)); err != nil || !found {
		if err != nil {
			return nil, fmt.Errorf("claim notify jobs: %w", err)
		}
		return nil, nil
	}
	var jobs []comment.NotifyJob
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, comment_id, created_at, attempts FROM notify_jobs
			WHERE claimed_until < ? ORDER BY id LIMIT ?`, micros(now), limit)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				j    comment.NotifyJob
				kind string
				at   int64
			)
			if err := rows.Scan(&j.ID, &kind, &j.CommentID, &at, &j.Attempts); err != nil {
				return mapErr(err)
			}
			j.Kind, j.CreatedAt, j.Attempts = comment.NotifyKind(kind), fromMicros(at), j.Attempts+1
			jobs = append(jobs, j)
		}
		if err := rows.Err(); err != nil {
			return mapErr(err)
		}
		rows.Close()
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `UPDATE notify_jobs SET claimed_until = ?, attempts = attempts + 1 WHERE id = ?`, micros(until), j.ID); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notify jobs: %w", err)
	}
	return jobs, nil
}

// FinishNotifyJobs writes the outcomes of jobs and deletes them, all in
// one transaction (see comment.NotifyStore).
func (s *Store) FinishNotifyJobs(ctx context.Context, outcomes []comment.JobOutcome) ([]int, error) {
	if len(outcomes) == 0 {
		return nil, nil
	}
	var added []int
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = make([]int, len(outcomes))
		for i, o := range outcomes {
			n, err := finishNotifyJob(ctx, tx, o)
			if err != nil {
				return fmt.Errorf("job %d: %w", o.JobID, err)
			}
			added[i] = n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finish notify jobs: %w", err)
	}
	return added, nil
}

// finishNotifyJob deletes a job and, if it was still there, writes its
// outcome; it returns how many deliveries it inserted.
func finishNotifyJob(ctx context.Context, tx *sql.Tx, o comment.JobOutcome) (int, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM notify_jobs WHERE id = ?`, o.JobID)
	if err != nil {
		return 0, mapErr(err)
	}
	if gone, err := res.RowsAffected(); err != nil || gone == 0 {
		return 0, mapErr(err)
	}
	skipConfirm := false
	if c := o.Confirm; c != nil {
		ok, err := requestConfirm(ctx, tx, *c)
		if err != nil {
			return 0, err
		}
		skipConfirm = !ok
	}
	n := 0
	for _, d := range o.Deliveries {
		if d.Kind == comment.NotifyConfirm && skipConfirm {
			continue
		}
		guard, guardArgs := deliveryGuard(d)
		res, err := tx.ExecContext(ctx, `INSERT INTO notify_deliveries
			(id, site_id, kind, channel, recipient, comment_id, payload, digest_key, state, attempts, next_at, created_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'due', 0, ?, ? WHERE `+guard+`
			ON CONFLICT (kind, comment_id, channel, recipient) WHERE comment_id <> '' DO NOTHING`,
			append([]any{d.ID, d.SiteID, string(d.Kind), string(d.Channel), d.Recipient, d.CommentID, string(d.Payload),
				d.DigestKey, micros(d.NextAt), micros(d.CreatedAt)}, guardArgs...)...)
		if err != nil {
			return 0, mapErr(err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, mapErr(err)
		}
		n += int(k)
	}
	return n, nil
}

// deliveryGuard returns the condition (and its arguments) under which a
// delivery is written: a confirmation request while its comment still asks
// for replies from the recipient's address, a reply email while the
// reply's parent does. Read in the writing transaction, it keeps an
// erasure that committed after planning read the comment from being
// undone. Held-comment notifications go to moderators and need none.
func deliveryGuard(d comment.NotifyDelivery) (string, []any) {
	switch d.Kind {
	case comment.NotifyConfirm:
		return `EXISTS (SELECT 1 FROM comments WHERE id = ? AND site_id = ? AND notify_replies = 1 AND author_email_lower = ?)`,
			[]any{d.CommentID, d.SiteID, strings.ToLower(d.Recipient)}
	case comment.NotifyReply:
		return `EXISTS (SELECT 1 FROM comments r JOIN comments p ON p.id = r.parent_id
			WHERE r.id = ? AND p.site_id = ? AND p.notify_replies = 1 AND p.author_email_lower = ?)`,
			[]any{d.CommentID, d.SiteID, strings.ToLower(d.Recipient)}
	}
	return `1`, nil
}

// requestConfirm records that a confirmation is asked of an address, if
// its comment still asks for replies from it, the address has no state or
// is unconfirmed (a confirmed one needs none, an unsubscribed one is not
// asked again), and none was asked since c.NotSince; it reports whether it
// wrote anything.
func requestConfirm(ctx context.Context, tx *sql.Tx, c comment.ConfirmRequest) (bool, error) {
	email := strings.ToLower(c.EmailLower)
	res, err := tx.ExecContext(ctx, `INSERT INTO reader_addresses (site_id, email_lower, state, confirm_sent_at, changed_at)
		SELECT ?, ?, 'unconfirmed', ?, ?
		WHERE EXISTS (SELECT 1 FROM comments WHERE id = ? AND site_id = ? AND notify_replies = 1 AND author_email_lower = ?)
		ON CONFLICT (site_id, email_lower) DO UPDATE SET confirm_sent_at = excluded.confirm_sent_at
		WHERE reader_addresses.state = 'unconfirmed' AND reader_addresses.confirm_sent_at <= ?`,
		c.SiteID, email, micros(c.At), micros(c.At), c.CommentID, c.SiteID, email, micros(c.NotSince))
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n > 0, mapErr(err)
}

// NotifySubject returns the comment with id and its page (see
// comment.NotifyStore).
func (s *Store) NotifySubject(ctx context.Context, id string) (comment.NotifySubject, error) {
	var sub comment.NotifySubject
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		if sub.Comment, err = findComment(ctx, tx, id); err != nil {
			return err
		}
		sub.Page, err = findPage(ctx, tx, sub.Comment.SiteID, sub.Comment.PageKey)
		return err
	})
	if err != nil {
		return comment.NotifySubject{}, fmt.Errorf("notify subject %s: %w", id, err)
	}
	return sub, nil
}

// deliveryColumns is the column list of notify_deliveries in the order
// scanDelivery reads them.
const deliveryColumns = `id, site_id, kind, channel, recipient, comment_id, payload, digest_key,
	state, attempts, next_at, last_error, created_at, done_at`

func scanDelivery(rows *sql.Rows) (comment.NotifyDelivery, error) {
	var (
		d                             comment.NotifyDelivery
		kind, channel, state, payload string
		next, created, done           int64
	)
	err := rows.Scan(&d.ID, &d.SiteID, &kind, &channel, &d.Recipient, &d.CommentID, &payload, &d.DigestKey,
		&state, &d.Attempts, &next, &d.LastError, &created, &done)
	if err != nil {
		return d, mapErr(err)
	}
	d.Kind, d.Channel, d.State, d.Payload = comment.NotifyKind(kind), comment.NotifyChannel(channel), comment.DeliveryState(state), []byte(payload)
	d.NextAt, d.CreatedAt = fromMicros(next), fromMicros(created)
	if done != 0 {
		d.DoneAt = fromMicros(done)
	}
	return d, nil
}

func queryDeliveries(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]comment.NotifyDelivery, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []comment.NotifyDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, mapErr(rows.Err())
}

// ClaimNotifyDeliveries leases due deliveries, whole digest groups at a
// time (see comment.NotifyStore).
func (s *Store) ClaimNotifyDeliveries(ctx context.Context, now, until time.Time, limit int) ([]comment.NotifyDelivery, error) {
	found, err := s.exists(ctx, `SELECT EXISTS (SELECT 1 FROM notify_deliveries
		WHERE state = 'due' AND next_at <= ? AND claimed_until < ?)`, micros(now), micros(now))
	if err != nil {
		return nil, fmt.Errorf("claim notify deliveries: %w", err)
	}
	if !found {
		return nil, nil
	}
	var out []comment.NotifyDelivery
	err = s.write(ctx, func(tx *sql.Tx) error {
		due, err := queryDeliveries(ctx, tx, `SELECT `+deliveryColumns+` FROM notify_deliveries
			WHERE state = 'due' AND next_at <= ? AND claimed_until < ? ORDER BY next_at, id LIMIT ?`,
			micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		keys := map[string]bool{}
		for _, d := range due {
			seen[d.ID] = true
			out = append(out, d)
			if d.DigestKey != "" {
				keys[d.DigestKey] = true
			}
		}
		for key := range keys {
			group, err := queryDeliveries(ctx, tx, `SELECT `+deliveryColumns+` FROM notify_deliveries
				WHERE state = 'due' AND digest_key = ? AND claimed_until < ?`, key, micros(now))
			if err != nil {
				return err
			}
			for _, d := range group {
				if !seen[d.ID] {
					seen[d.ID] = true
					out = append(out, d)
				}
			}
		}
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET claimed_until = ? WHERE id = ?`, micros(until), d.ID); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notify deliveries: %w", err)
	}
	comment.SortDeliveries(out)
	return out, nil
}

// MarkNotifyDeliveries records attempts' results, each ending its lease,
// in one transaction (see comment.NotifyStore).
func (s *Store) MarkNotifyDeliveries(ctx context.Context, rs []comment.DeliveryResult) ([]string, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	var skipped []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		skipped = nil
		for _, r := range rs {
			var done int64
			if r.State != comment.DeliveryDue {
				done = micros(r.At)
			}
			// A result recorded late (its lease ran out and another
			// worker took the delivery) must not overwrite a newer one.
			query := `UPDATE notify_deliveries
				SET state = ?, attempts = ?, next_at = ?, last_error = ?, done_at = ?, claimed_until = 0
				WHERE id = ? AND state = 'due'`
			args := []any{string(r.State), r.Attempts, micros(r.NextAt), r.Error, done, r.ID}
			if !r.Lease.IsZero() {
				query += ` AND claimed_until = ?`
				args = append(args, micros(r.Lease))
			}
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return mapErr(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return mapErr(err)
			}
			if n == 0 {
				skipped = append(skipped, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mark notify deliveries: %w", err)
	}
	return skipped, nil
}

// LastNotifyDigest returns when a delivery with the digest key was last
// sent (see comment.NotifyStore).
func (s *Store) LastNotifyDigest(ctx context.Context, digestKey string) (time.Time, error) {
	var last sql.NullInt64
	// Served by the index notify_deliveries_digest (digest_key, done_at).
	err := s.reader.QueryRowContext(ctx, `SELECT max(done_at) FROM notify_deliveries
		WHERE digest_key = ? AND digest_key <> '' AND state = 'sent'`, digestKey).Scan(&last)
	if err != nil {
		return time.Time{}, fmt.Errorf("last notify digest: %w", mapErr(err))
	}
	if !last.Valid || last.Int64 == 0 {
		return time.Time{}, nil
	}
	return fromMicros(last.Int64), nil
}

// CountDueNotifyDeliveries returns the number of due deliveries.
func (s *Store) CountDueNotifyDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM notify_deliveries WHERE state = 'due'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count due notify deliveries: %w", mapErr(err))
	}
	return n, nil
}

// PurgeNotifyDeliveries deletes up to limit deliveries finished before the
// given time.
func (s *Store) PurgeNotifyDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE id IN (
			SELECT id FROM notify_deliveries WHERE state <> 'due' AND done_at < ? LIMIT ?)`, micros(before), limit)
		if err != nil {
			return mapErr(err)
		}
		n, err = res.RowsAffected()
		return mapErr(err)
	})
	if err != nil {
		return 0, fmt.Errorf("purge notify deliveries: %w", err)
	}
	return int(n), nil
}

// exists runs a SELECT EXISTS query on the read pool.
func (s *Store) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var ok bool
	if err := s.reader.QueryRowContext(ctx, query, args...).Scan(&ok); err != nil {
		return false, mapErr(err)
	}
	return ok, nil
}
