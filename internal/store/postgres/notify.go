package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// ClaimNotifyJobs leases up to limit jobs not leased at now (see
// comment.NotifyStore). Rows another transaction is claiming are skipped,
// so instances claiming at once get different jobs.
func (s *Store) ClaimNotifyJobs(ctx context.Context, now, until time.Time, limit int) ([]comment.NotifyJob, error) {
	var jobs []comment.NotifyJob
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE notify_jobs SET claimed_until = $2, attempts = attempts + 1 WHERE id IN (
				SELECT id FROM notify_jobs WHERE claimed_until < $1
				ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING id, kind, comment_id, created_at, attempts`, now, until, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				j    comment.NotifyJob
				kind string
			)
			if err := rows.Scan(&j.ID, &kind, &j.CommentID, &j.CreatedAt, &j.Attempts); err != nil {
				return err
			}
			j.Kind, j.CreatedAt = comment.NotifyKind(kind), j.CreatedAt.UTC()
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim notify jobs: %w", err)
	}
	// RETURNING gives no order.
	slices.SortFunc(jobs, func(a, b comment.NotifyJob) int { return cmp.Compare(a.ID, b.ID) })
	return jobs, nil
}

// FinishNotifyJobs writes the outcomes of jobs and deletes them, all in
// one transaction (see comment.NotifyStore).
func (s *Store) FinishNotifyJobs(ctx context.Context, outcomes []comment.JobOutcome) ([]int, error) {
	if len(outcomes) == 0 {
		return nil, nil
	}
	var added []int
	err := s.write(ctx, func(tx pgx.Tx) error {
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
func finishNotifyJob(ctx context.Context, tx pgx.Tx, o comment.JobOutcome) (int, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM notify_jobs WHERE id = $1`, o.JobID)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() == 0 {
		return 0, nil
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
		tag, err := tx.Exec(ctx, `INSERT INTO notify_deliveries
			(id, site_id, kind, channel, recipient, comment_id, payload, digest_key, state, attempts, next_at, created_at)
			SELECT $1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, 'due', 0, $9, $10 WHERE `+guard+`
			ON CONFLICT (kind, comment_id, channel, recipient) WHERE comment_id <> '' DO NOTHING`,
			append([]any{d.ID, d.SiteID, string(d.Kind), string(d.Channel), d.Recipient, d.CommentID, string(d.Payload),
				d.DigestKey, d.NextAt, d.CreatedAt}, guardArgs...)...)
		if err != nil {
			return 0, err
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// deliveryGuard returns the condition (and its arguments after the ten of
// the insert, where $2 is the site and $6 the comment) under which a
// delivery is written: a confirmation request while its comment still
// asks for replies from the recipient's address, a reply email while the
// reply's parent does. The comment row is locked (FOR SHARE): an erasure,
// which locks the author's comments first, either waits for this
// transaction and then deletes what it wrote, or commits first and the
// condition, read again on the row it left, fails. Held-comment
// notifications go to moderators and need none.
func deliveryGuard(d comment.NotifyDelivery) (string, []any) {
	switch d.Kind {
	case comment.NotifyConfirm:
		return `EXISTS (SELECT 1 FROM comments WHERE id = $6 AND site_id = $2 AND notify_replies AND author_email_lower = $11 FOR SHARE)`,
			[]any{strings.ToLower(d.Recipient)}
	case comment.NotifyReply:
		return `EXISTS (SELECT 1 FROM comments r JOIN comments p ON p.id = r.parent_id
			WHERE r.id = $6 AND p.site_id = $2 AND p.notify_replies AND p.author_email_lower = $11 FOR SHARE OF p)`,
			[]any{strings.ToLower(d.Recipient)}
	}
	return `true`, nil
}

// requestConfirm records that a confirmation is asked of an address, if
// its comment still asks for replies from it (the comment row is locked,
// as in deliveryGuard), the address has no state or is unconfirmed (a
// confirmed one needs none, an unsubscribed one is not asked again), and
// none was asked since c.NotSince; it reports whether it wrote anything.
// Concurrent requests for one address wait for each other on the row, and
// only the first writes.
func requestConfirm(ctx context.Context, tx pgx.Tx, c comment.ConfirmRequest) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO reader_addresses AS r (site_id, email_lower, state, confirm_sent_at, changed_at)
		SELECT $1, $2, 'unconfirmed', $3, $3
		WHERE EXISTS (SELECT 1 FROM comments WHERE id = $5 AND site_id = $1 AND notify_replies AND author_email_lower = $2 FOR SHARE)
		ON CONFLICT (site_id, email_lower) DO UPDATE SET confirm_sent_at = excluded.confirm_sent_at
		WHERE r.state = 'unconfirmed' AND coalesce(r.confirm_sent_at, '-infinity') <= $4`,
		c.SiteID, strings.ToLower(c.EmailLower), c.At, c.NotSince, c.CommentID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// NotifySubject returns the comment with id and its page (see
// comment.NotifyStore).
func (s *Store) NotifySubject(ctx context.Context, id string) (comment.NotifySubject, error) {
	var (
		sub comment.NotifySubject
		err error
	)
	sub.Comment, err = findComment(ctx, s.pool, id, false)
	if err == nil {
		sub.Page, err = findPage(ctx, s.pool, sub.Comment.SiteID, sub.Comment.PageKey)
	}
	if err != nil {
		return comment.NotifySubject{}, fmt.Errorf("notify subject %s: %w", id, mapErr(err))
	}
	return sub, nil
}

// deliveryColumns is the column list of notify_deliveries in the order
// scanDeliveries reads them.
const deliveryColumns = `id, site_id, kind, channel, recipient, comment_id, payload::text, digest_key,
	state, attempts, next_at, last_error, created_at, done_at`

func scanDeliveries(rows pgx.Rows) ([]comment.NotifyDelivery, error) {
	defer rows.Close()
	var out []comment.NotifyDelivery
	for rows.Next() {
		var (
			d                             comment.NotifyDelivery
			kind, channel, state, payload string
			done                          *time.Time
		)
		err := rows.Scan(&d.ID, &d.SiteID, &kind, &channel, &d.Recipient, &d.CommentID, &payload, &d.DigestKey,
			&state, &d.Attempts, &d.NextAt, &d.LastError, &d.CreatedAt, &done)
		if err != nil {
			return nil, err
		}
		d.Kind, d.Channel, d.State, d.Payload = comment.NotifyKind(kind), comment.NotifyChannel(channel), comment.DeliveryState(state), []byte(payload)
		d.NextAt, d.CreatedAt = d.NextAt.UTC(), d.CreatedAt.UTC()
		if done != nil {
			d.DoneAt = done.UTC()
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimNotifyDeliveries leases due deliveries, whole digest groups at a
// time (see comment.NotifyStore). Deliveries another transaction is
// claiming are skipped. A digest group is claimed under a transaction-level
// advisory lock on its key, and only when no member of it is leased or
// being claimed elsewhere, so that instances claiming at once never split
// a digest between them.
func (s *Store) ClaimNotifyDeliveries(ctx context.Context, now, until time.Time, limit int) ([]comment.NotifyDelivery, error) {
	var out []comment.NotifyDelivery
	err := s.write(ctx, func(tx pgx.Tx) error {
		out = nil
		// Candidates, read without locking: digest members are locked
		// only by the holder of their key's advisory lock, so that no
		// two claimers wait for each other.
		rows, err := tx.Query(ctx, `SELECT id, digest_key FROM notify_deliveries
			WHERE state = 'due' AND next_at <= $1 AND claimed_until < $1
			ORDER BY next_at, id LIMIT $2`, now, limit)
		if err != nil {
			return err
		}
		var (
			single []string
			keys   []string
			seen   = map[string]bool{}
		)
		for rows.Next() {
			var id, key string
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return err
			}
			switch {
			case key == "":
				single = append(single, id)
			case !seen[key]:
				seen[key] = true
				keys = append(keys, key)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(single) > 0 {
			rows, err := tx.Query(ctx, `UPDATE notify_deliveries SET claimed_until = $2 WHERE id IN (
					SELECT id FROM notify_deliveries
					WHERE id = ANY($3) AND state = 'due' AND next_at <= $1 AND claimed_until < $1
					FOR UPDATE SKIP LOCKED)
				RETURNING `+deliveryColumns, now, until, single)
			if err != nil {
				return err
			}
			ds, err := scanDeliveries(rows)
			if err != nil {
				return err
			}
			out = append(out, ds...)
		}
		for _, key := range keys {
			group, err := claimDigest(ctx, tx, key, now, until)
			if err != nil {
				return err
			}
			out = append(out, group...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notify deliveries: %w", err)
	}
	comment.SortDeliveries(out)
	return out, nil
}

// claimDigest leases every due delivery with the digest key, if one of
// them is due and none is leased elsewhere; another transaction holding
// the key's advisory lock makes it claim nothing.
func claimDigest(ctx context.Context, tx pgx.Tx, key string, now, until time.Time) ([]comment.NotifyDelivery, error) {
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('commentd notify digest ' || $1))`, key).Scan(&locked); err != nil {
		return nil, err
	}
	if !locked {
		return nil, nil
	}
	var leased, due int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE claimed_until >= $2),
			count(*) FILTER (WHERE next_at <= $2 AND claimed_until < $2)
		FROM notify_deliveries WHERE state = 'due' AND digest_key = $1`, key, now).Scan(&leased, &due); err != nil {
		return nil, err
	}
	if leased > 0 || due == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `UPDATE notify_deliveries SET claimed_until = $3
		WHERE state = 'due' AND digest_key = $1 AND claimed_until < $2
		RETURNING `+deliveryColumns, key, now, until)
	if err != nil {
		return nil, err
	}
	return scanDeliveries(rows)
}

// MarkNotifyDeliveries records attempts' results, each ending its lease,
// in one transaction (see comment.NotifyStore).
func (s *Store) MarkNotifyDeliveries(ctx context.Context, rs []comment.DeliveryResult) ([]string, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	var skipped []string
	err := s.write(ctx, func(tx pgx.Tx) error {
		skipped = nil
		for _, r := range rs {
			var done *time.Time
			if r.State != comment.DeliveryDue {
				done = &r.At
			}
			var lease *time.Time
			if !r.Lease.IsZero() {
				lease = &r.Lease
			}
			// A result recorded late (its lease ran out and another
			// worker took the delivery) must not overwrite a newer one.
			tag, err := tx.Exec(ctx, `UPDATE notify_deliveries
				SET state = $1, attempts = $2, next_at = $3, last_error = $4, done_at = $5, claimed_until = '-infinity'
				WHERE id = $6 AND state = 'due' AND ($7::timestamptz IS NULL OR claimed_until = $7)`,
				string(r.State), r.Attempts, r.NextAt, r.Error, done, r.ID, lease)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				skipped = append(skipped, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mark notify deliveries: %w", mapErr(err))
	}
	return skipped, nil
}

// LastNotifyDigest returns when a delivery with the digest key was last
// sent (see comment.NotifyStore).
func (s *Store) LastNotifyDigest(ctx context.Context, digestKey string) (time.Time, error) {
	var last *time.Time
	// Served by the index notify_deliveries_digest (digest_key, done_at).
	err := s.pool.QueryRow(ctx, `SELECT max(done_at) FROM notify_deliveries
		WHERE digest_key = $1 AND digest_key <> '' AND state = 'sent'`, digestKey).Scan(&last)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("last notify digest: %w", mapErr(err))
	}
	if last == nil {
		return time.Time{}, nil
	}
	return last.UTC(), nil
}

// CountDueNotifyDeliveries returns the number of due deliveries.
func (s *Store) CountDueNotifyDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM notify_deliveries WHERE state = 'due'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count due notify deliveries: %w", mapErr(err))
	}
	return n, nil
}

// PurgeNotifyDeliveries deletes up to limit deliveries finished before the
// given time.
func (s *Store) PurgeNotifyDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notify_deliveries WHERE id IN (
		SELECT id FROM notify_deliveries WHERE state <> 'due' AND done_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge notify deliveries: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
