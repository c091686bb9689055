package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/commentd/commentd/internal/comment"
)

// personalCommentsSQL selects an author's comments with their pages, oldest
// first, by comments_author.
const personalCommentsSQL = `SELECT c.id, c.site_id, c.page_key, coalesce(p.url, ''), coalesce(p.title, ''),
	c.parent_id, c.status, c.author_name, c.author_email, c.author_website, c.body, c.body_html,
	c.ip, c.user_agent, c.reasons, c.created_at, c.updated_at, c.notify_replies
	FROM comments c LEFT JOIN pages p ON p.site_id = c.site_id AND p.key = c.page_key
	WHERE c.author_email_lower = ? ORDER BY c.created_at, c.id`

// PersonalData returns everything stored about email (see
// comment.PrivacyStore), read in one snapshot.
func (s *Store) PersonalData(ctx context.Context, email string) (comment.PersonalData, error) {
	norm := comment.NormalizeEmail(email)
	d := comment.PersonalData{
		Email:       norm,
		Comments:    []comment.PersonalComment{},
		Revisions:   []comment.PersonalRevision{},
		ListEntries: []comment.PersonalListEntry{},

		ReaderAddresses:  []comment.PersonalReaderAddress{},
		NotifyDeliveries: []comment.PersonalDelivery{},
	}
	if norm == "" {
		return d, nil
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if d.Comments, err = personalComments(ctx, tx, norm); err != nil {
			return err
		}
		if d.Revisions, err = personalRevisions(ctx, tx, norm); err != nil {
			return err
		}
		entries, err := emailListEntries(ctx, tx, norm)
		if err != nil {
			return err
		}
		for _, e := range entries {
			d.ListEntries = append(d.ListEntries, comment.PersonalListEntry{SiteID: e.SiteID, List: e.List, CreatedAt: e.CreatedAt})
		}
		if d.User, err = personalUser(ctx, tx, norm); err != nil {
			return err
		}
		if d.ReaderAddresses, err = personalReaderAddresses(ctx, tx, norm); err != nil {
			return err
		}
		d.NotifyDeliveries, _, err = personalDeliveries(ctx, tx, norm)
		return err
	})
	if err != nil {
		return comment.PersonalData{}, fmt.Errorf("personal data: %w", err)
	}
	return d, nil
}

func personalComments(ctx context.Context, tx *sql.Tx, norm string) ([]comment.PersonalComment, error) {
	rows, err := tx.QueryContext(ctx, personalCommentsSQL, norm)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []comment.PersonalComment{}
	for rows.Next() {
		var (
			c                comment.PersonalComment
			parent           sql.NullString
			status, reasons  string
			created, updated int64
		)
		if err := rows.Scan(&c.ID, &c.SiteID, &c.PageKey, &c.PageURL, &c.PageTitle, &parent, &status,
			&c.AuthorName, &c.AuthorEmail, &c.AuthorWebsite, &c.Body, &c.BodyHTML, &c.IP, &c.UserAgent,
			&reasons, &created, &updated, &c.NotifyReplies); err != nil {
			return nil, mapErr(err)
		}
		if c.Reasons, err = unmarshalList[comment.Reason](reasons); err != nil {
			return nil, fmt.Errorf("decode reasons of comment %s: %w", c.ID, err)
		}
		if c.Reasons == nil {
			c.Reasons = []comment.Reason{}
		}
		c.ParentID, c.Status = parent.String, comment.Status(status)
		c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

func personalRevisions(ctx context.Context, tx *sql.Tx, norm string) ([]comment.PersonalRevision, error) {
	rows, err := tx.QueryContext(ctx, `SELECT r.comment_id, r.author_name, r.author_website, r.body, r.edited_at
		FROM comment_revisions r JOIN comments c ON c.id = r.comment_id
		WHERE c.author_email_lower = ? ORDER BY r.comment_id, r.id`, norm)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []comment.PersonalRevision{}
	for rows.Next() {
		var (
			r  comment.PersonalRevision
			at int64
		)
		if err := rows.Scan(&r.CommentID, &r.AuthorName, &r.AuthorWebsite, &r.Body, &at); err != nil {
			return nil, mapErr(err)
		}
		r.EditedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// personalReaderAddresses returns the address's states for reply
// notifications, by site.
func personalReaderAddresses(ctx context.Context, tx *sql.Tx, norm string) ([]comment.PersonalReaderAddress, error) {
	rows, err := tx.QueryContext(ctx, `SELECT site_id, state, confirm_sent_at, changed_at FROM reader_addresses
		WHERE email_lower = ? ORDER BY site_id`, norm)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []comment.PersonalReaderAddress{}
	for rows.Next() {
		var (
			a             comment.PersonalReaderAddress
			state         string
			sent, changed int64
		)
		if err := rows.Scan(&a.SiteID, &state, &sent, &changed); err != nil {
			return nil, mapErr(err)
		}
		a.State, a.ChangedAt = comment.ReaderState(state), fromMicros(changed)
		if sent != 0 {
			at := fromMicros(sent)
			a.ConfirmSentAt = &at
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err())
}

// personalDeliveries returns the notification emails to the address,
// oldest first, and their ids. Recipients are compared in Go, as in
// emailListEntries: they are kept as written (a moderator's address from
// the config, an author's as typed).
func personalDeliveries(ctx context.Context, tx *sql.Tx, norm string) ([]comment.PersonalDelivery, []string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, recipient, site_id, kind, channel, state, attempts, created_at, done_at
		FROM notify_deliveries WHERE channel = ? ORDER BY created_at, id`, string(comment.ChannelEmail))
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	out, ids := []comment.PersonalDelivery{}, []string{}
	for rows.Next() {
		var (
			d                       comment.PersonalDelivery
			id, to, kind, ch, state string
			created, done           int64
		)
		if err := rows.Scan(&id, &to, &d.SiteID, &kind, &ch, &state, &d.Attempts, &created, &done); err != nil {
			return nil, nil, mapErr(err)
		}
		if comment.NormalizeEmail(to) != norm {
			continue
		}
		d.Kind, d.Channel, d.State = comment.NotifyKind(kind), comment.NotifyChannel(ch), comment.DeliveryState(state)
		d.CreatedAt = fromMicros(created)
		if done != 0 {
			at := fromMicros(done)
			d.DoneAt = &at
		}
		out, ids = append(out, d), append(ids, id)
	}
	return out, ids, mapErr(rows.Err())
}

// eraseNotifyData deletes the address's states for reply notifications and
// the notification emails to it.
func eraseNotifyData(ctx context.Context, tx *sql.Tx, norm string, sum *comment.EraseSummary) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM reader_addresses WHERE email_lower = ?`, norm)
	if err != nil {
		return mapErr(err)
	}
	n, _ := res.RowsAffected()
	sum.ReaderAddresses += int(n)
	_, ids, err := personalDeliveries(ctx, tx, norm)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE id = ?`, id); err != nil {
			return mapErr(err)
		}
		sum.NotifyDeliveries++
	}
	return nil
}

// eraseCommentDeliveries deletes the notifications about a comment, whose
// messages quote it.
func eraseCommentDeliveries(ctx context.Context, tx *sql.Tx, id string, sum *comment.EraseSummary) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE comment_id = ?`, id)
	if err != nil {
		return mapErr(err)
	}
	n, _ := res.RowsAffected()
	sum.NotifyDeliveries += int(n)
	return nil
}

// emailListEntries returns the entries of every site's email lists whose
// value is norm once normalised. Values are compared in Go, since SQLite's
// lower() folds ASCII only.
func emailListEntries(ctx context.Context, tx *sql.Tx, norm string) ([]comment.ListEntry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT site_id, list, value, created_at FROM site_lists
		WHERE list IN (?, ?) ORDER BY site_id, list`, comment.ListTrustedEmails, comment.ListBlockedEmails)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []comment.ListEntry
	for rows.Next() {
		var (
			e  comment.ListEntry
			at int64
		)
		if err := rows.Scan(&e.SiteID, &e.List, &e.Value, &at); err != nil {
			return nil, mapErr(err)
		}
		if comment.NormalizeEmail(e.Value) != norm {
			continue
		}
		e.CreatedAt = fromMicros(at)
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

func personalUser(ctx context.Context, tx *sql.Tx, norm string) (*comment.PersonalUser, error) {
	var (
		u       comment.PersonalUser
		created int64
	)
	err := tx.QueryRowContext(ctx, `SELECT id, email, admin, created_at FROM users WHERE email = ?`, norm).
		Scan(&u.ID, &u.Email, &u.Admin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	u.CreatedAt = fromMicros(created)
	u.Roles = map[string]comment.Role{}
	rows, err := tx.QueryContext(ctx, `SELECT site_id, role FROM site_members WHERE user_id = ?`, u.ID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var site, role string
		if err := rows.Scan(&site, &role); err != nil {
			return nil, mapErr(err)
		}
		u.Roles[site] = comment.Role(role)
	}
	return &u, mapErr(rows.Err())
}

// erasing is one of the author's comments as erasure sees it.
type erasing struct {
	id, siteID, pageKey, ip, reasons string
}

// ErasePersonalData removes email's personal data and writes audit, in one
// transaction (see comment.PrivacyStore).
func (s *Store) ErasePersonalData(ctx context.Context, email string, deleteComments bool, audit comment.AuditEntry) (comment.EraseSummary, error) {
	norm := comment.NormalizeEmail(email)
	if norm == "" {
		return comment.EraseSummary{}, comment.Invalid("email", "Enter an email address.")
	}
	var sum comment.EraseSummary
	err := s.write(ctx, func(tx *sql.Tx) error {
		sum = comment.EraseSummary{}
		sites := map[string]bool{}
		var err error
		if deleteComments {
			err = deleteAuthorComments(ctx, tx, norm, &sum, sites)
		} else {
			err = scrubAuthorComments(ctx, tx, norm, &sum, sites)
		}
		if err != nil {
			return err
		}
		if err := eraseNotifyData(ctx, tx, norm, &sum); err != nil {
			return err
		}
		entries, err := emailListEntries(ctx, tx, norm)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if _, err := tx.ExecContext(ctx, `DELETE FROM site_lists WHERE site_id = ? AND list = ? AND value = ?`,
				e.SiteID, e.List, e.Value); err != nil {
				return mapErr(err)
			}
			sum.ListEntries++
			sites[e.SiteID] = true
		}
		// The spam rules read the lists: their caches follow the version.
		for _, site := range comment.SitesOf(entries) {
			if err := bumpRules(ctx, tx, site); err != nil {
				return err
			}
		}
		sum.Sites = slices.Sorted(maps.Keys(sites))
		audit.Details = sum.Counts()
		return addAudit(ctx, tx, audit)
	})
	if err != nil {
		return comment.EraseSummary{}, fmt.Errorf("erase personal data: %w", err)
	}
	return sum, nil
}

func authorComments(ctx context.Context, tx *sql.Tx, norm string) ([]erasing, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, site_id, page_key, ip, reasons FROM comments WHERE author_email_lower = ?`, norm)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []erasing
	for rows.Next() {
		var c erasing
		if err := rows.Scan(&c.id, &c.siteID, &c.pageKey, &c.ip, &c.reasons); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// scrubAuthorComments empties the email, IP and user agent of the author's
// comments and takes the client data out of their reasons.
func scrubAuthorComments(ctx context.Context, tx *sql.Tx, norm string, sum *comment.EraseSummary, sites map[string]bool) error {
	cs, err := authorComments(ctx, tx, norm)
	if err != nil {
		return err
	}
	for _, c := range cs {
		_, reasons, err := expireRow(comment.ClientDataDelete, expiring{ip: c.ip, reasons: c.reasons})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE comments SET author_email = '', author_email_lower = '',
			ip = '', user_agent = '', reasons = ?, client_data_state = 2, notify_replies = 0 WHERE id = ?`, reasons, c.id); err != nil {
			return mapErr(err)
		}
		sum.Scrubbed++
		sites[c.siteID] = true
	}
	return nil
}

// deleteAuthorComments removes the author's comments from the leaves up, so
// that the author's own replies go first; those that others replied to are
// left as tombstones.
func deleteAuthorComments(ctx context.Context, tx *sql.Tx, norm string, sum *comment.EraseSummary, sites map[string]bool) error {
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, site_id, page_key FROM comments c WHERE author_email_lower = ?
			AND NOT EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id)`, norm)
		if err != nil {
			return mapErr(err)
		}
		var leaves []erasing
		for rows.Next() {
			var c erasing
			if err := rows.Scan(&c.id, &c.siteID, &c.pageKey); err != nil {
				rows.Close()
				return mapErr(err)
			}
			leaves = append(leaves, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(err)
		}
		if len(leaves) == 0 {
			break
		}
		for _, c := range leaves {
			res, err := tx.ExecContext(ctx, `DELETE FROM comment_revisions WHERE comment_id = ?`, c.id)
			if err != nil {
				return mapErr(err)
			}
			n, _ := res.RowsAffected()
			sum.Revisions += int(n)
			if _, err := tx.ExecContext(ctx, `DELETE FROM comment_events WHERE comment_id = ?`, c.id); err != nil {
				return mapErr(err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM comments WHERE id = ?`, c.id); err != nil {
				return mapErr(err)
			}
			if err := eraseCommentDeliveries(ctx, tx, c.id, sum); err != nil {
				return err
			}
			sum.Deleted++
			sites[c.siteID] = true
			sum.Pages = comment.AddPage(sum.Pages, c.siteID, c.pageKey)
		}
	}
	rest, err := authorComments(ctx, tx, norm)
	if err != nil {
		return err
	}
	for _, c := range rest {
		res, err := tx.ExecContext(ctx, `DELETE FROM comment_revisions WHERE comment_id = ?`, c.id)
		if err != nil {
			return mapErr(err)
		}
		n, _ := res.RowsAffected()
		sum.Revisions += int(n)
		if _, err := tx.ExecContext(ctx, `UPDATE comments SET author_name = '', author_email = '',
			author_email_lower = '', author_website = '', body = '', body_html = '', ip = '', user_agent = '',
			reasons = '[]', status = ?, client_data_state = 2, notify_replies = 0 WHERE id = ?`, string(comment.StatusDeleted), c.id); err != nil {
			return mapErr(err)
		}
		if err := eraseCommentDeliveries(ctx, tx, c.id, sum); err != nil {
			return err
		}
		sum.Tombstoned++
		sites[c.siteID] = true
		sum.Pages = comment.AddPage(sum.Pages, c.siteID, c.pageKey)
	}
	return nil
}

// AddAudit writes one audit entry.
func (s *Store) AddAudit(ctx context.Context, e comment.AuditEntry) error {
	if err := s.write(ctx, func(tx *sql.Tx) error { return addAudit(ctx, tx, e) }); err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.Action, err)
	}
	return nil
}

// AuditEntries returns the newest limit audit entries, newest first.
func (s *Store) AuditEntries(ctx context.Context, limit int) ([]comment.AuditEntry, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT at, actor, action, subject, details FROM audit_log
		ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", mapErr(err))
	}
	defer rows.Close()
	var out []comment.AuditEntry
	for rows.Next() {
		var (
			e       comment.AuditEntry
			at      int64
			details string
		)
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Subject, &details); err != nil {
			return nil, fmt.Errorf("audit entries: %w", mapErr(err))
		}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("decode audit details: %w", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries: %w", mapErr(err))
	}
	return out, nil
}

func addAudit(ctx context.Context, tx *sql.Tx, e comment.AuditEntry) error {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("encode audit details: %w", err)
	}
	if e.Details == nil {
		details = []byte("{}")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)`,
		micros(e.At), e.Actor, e.Action, e.Subject, string(details))
	return mapErr(err)
}
