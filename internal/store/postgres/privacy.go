package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// personalCommentsSQL selects an author's comments with their pages, oldest
// first, by comments_author.
const personalCommentsSQL = `SELECT c.id, c.site_id, c.page_key, coalesce(p.url, ''), coalesce(p.title, ''),
	c.parent_id, c.status, c.author_name, c.author_email, c.author_website, c.body, c.body_html,
	c.ip, c.user_agent, c.reasons, c.created_at, c.updated_at, c.notify_replies
	FROM comments c LEFT JOIN pages p ON p.site_id = c.site_id AND p.key = c.page_key
	WHERE c.author_email_lower = $1 ORDER BY c.created_at, c.id`

// PersonalData returns everything stored about email (see
// comment.PrivacyStore), read in one repeatable-read snapshot.
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
	if norm == "" || !storable(norm) {
		return d, nil
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
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
		return comment.PersonalData{}, fmt.Errorf("personal data: %w", mapErr(err))
	}
	return d, nil
}

func personalComments(ctx context.Context, tx dbtx, norm string) ([]comment.PersonalComment, error) {
	rows, err := tx.Query(ctx, personalCommentsSQL, norm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []comment.PersonalComment{}
	for rows.Next() {
		var (
			c       comment.PersonalComment
			parent  *string
			status  string
			reasons []byte
		)
		if err := rows.Scan(&c.ID, &c.SiteID, &c.PageKey, &c.PageURL, &c.PageTitle, &parent, &status,
			&c.AuthorName, &c.AuthorEmail, &c.AuthorWebsite, &c.Body, &c.BodyHTML, &c.IP, &c.UserAgent,
			&reasons, &c.CreatedAt, &c.UpdatedAt, &c.NotifyReplies); err != nil {
			return nil, err
		}
		if c.Reasons, err = unmarshalList[comment.Reason](reasons); err != nil {
			return nil, fmt.Errorf("decode reasons of comment %s: %w", c.ID, err)
		}
		if c.Reasons == nil {
			c.Reasons = []comment.Reason{}
		}
		if parent != nil {
			c.ParentID = *parent
		}
		c.Status = comment.Status(status)
		c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func personalRevisions(ctx context.Context, tx dbtx, norm string) ([]comment.PersonalRevision, error) {
	rows, err := tx.Query(ctx, `SELECT r.comment_id, r.author_name, r.author_website, r.body, r.edited_at
		FROM comment_revisions r JOIN comments c ON c.id = r.comment_id
		WHERE c.author_email_lower = $1 ORDER BY r.comment_id, r.id`, norm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []comment.PersonalRevision{}
	for rows.Next() {
		var r comment.PersonalRevision
		if err := rows.Scan(&r.CommentID, &r.AuthorName, &r.AuthorWebsite, &r.Body, &r.EditedAt); err != nil {
			return nil, err
		}
		r.EditedAt = r.EditedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// emailListEntries returns the entries of every site's email lists whose
// value is norm once normalised, compared in Go as the SQLite store does.
func emailListEntries(ctx context.Context, tx dbtx, norm string) ([]comment.ListEntry, error) {
	rows, err := tx.Query(ctx, `SELECT site_id, list, value, created_at FROM site_lists
		WHERE list IN ($1, $2) ORDER BY site_id, list`, comment.ListTrustedEmails, comment.ListBlockedEmails)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []comment.ListEntry
	for rows.Next() {
		var e comment.ListEntry
		if err := rows.Scan(&e.SiteID, &e.List, &e.Value, &e.CreatedAt); err != nil {
			return nil, err
		}
		if comment.NormalizeEmail(e.Value) != norm {
			continue
		}
		e.CreatedAt = e.CreatedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

func personalUser(ctx context.Context, tx dbtx, norm string) (*comment.PersonalUser, error) {
	var u comment.PersonalUser
	err := tx.QueryRow(ctx, `SELECT id, email, admin, created_at FROM users WHERE email = $1`, norm).
		Scan(&u.ID, &u.Email, &u.Admin, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	u.Roles = map[string]comment.Role{}
	rows, err := tx.Query(ctx, `SELECT site_id, role FROM site_members WHERE user_id = $1`, u.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var site, role string
		if err := rows.Scan(&site, &role); err != nil {
			return nil, err
		}
		u.Roles[site] = comment.Role(role)
	}
	return &u, rows.Err()
}

// lockEmailListSites locks the sites whose email lists hold norm, as every
// list change locks its site first (see lockSite), and returns those entries
// as they are once locked, with their sites in order. An entry added after
// the first read, on a site not locked yet, is found by the read that
// follows locking: reading and locking repeat until no new site turns up.
func lockEmailListSites(ctx context.Context, tx dbtx, norm string) ([]comment.ListEntry, []string, error) {
	locked := map[string]bool{}
	for {
		entries, err := emailListEntries(ctx, tx, norm)
		if err != nil {
			return nil, nil, err
		}
		sites := comment.SitesOf(entries)
		grew := false
		for _, site := range sites {
			if locked[site] {
				continue
			}
			if err := lockSite(ctx, tx, site); err != nil {
				return nil, nil, err
			}
			locked[site] = true
			grew = true
		}
		if !grew {
			return entries, sites, nil
		}
	}
}

// personalReaderAddresses returns the address's states for reply
// notifications, by site.
func personalReaderAddresses(ctx context.Context, tx dbtx, norm string) ([]comment.PersonalReaderAddress, error) {
	rows, err := tx.Query(ctx, `SELECT site_id, state, confirm_sent_at, changed_at FROM reader_addresses
		WHERE email_lower = $1 ORDER BY site_id`, norm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []comment.PersonalReaderAddress{}
	for rows.Next() {
		var (
			a     comment.PersonalReaderAddress
			state string
			sent  *time.Time
		)
		if err := rows.Scan(&a.SiteID, &state, &sent, &a.ChangedAt); err != nil {
			return nil, err
		}
		a.State, a.ChangedAt = comment.ReaderState(state), a.ChangedAt.UTC()
		if sent != nil {
			at := sent.UTC()
			a.ConfirmSentAt = &at
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// personalDeliveries returns the notification emails to the address,
// oldest first, and their ids. Recipients are
// compared in Go, as in emailListEntries: they are kept as written (a
// moderator's address from the config, an author's as typed).
func personalDeliveries(ctx context.Context, tx dbtx, norm string) ([]comment.PersonalDelivery, []string, error) {
	rows, err := tx.Query(ctx, `SELECT id, recipient, site_id, kind, channel, state, attempts, created_at, done_at
		FROM notify_deliveries WHERE channel = $1 ORDER BY created_at, id`, string(comment.ChannelEmail))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out, ids := []comment.PersonalDelivery{}, []string{}
	for rows.Next() {
		var (
			d                       comment.PersonalDelivery
			id, to, kind, ch, state string
			done                    *time.Time
		)
		if err := rows.Scan(&id, &to, &d.SiteID, &kind, &ch, &state, &d.Attempts, &d.CreatedAt, &done); err != nil {
			return nil, nil, err
		}
		if comment.NormalizeEmail(to) != norm {
			continue
		}
		d.Kind, d.Channel, d.State = comment.NotifyKind(kind), comment.NotifyChannel(ch), comment.DeliveryState(state)
		d.CreatedAt = d.CreatedAt.UTC()
		if done != nil {
			at := done.UTC()
			d.DoneAt = &at
		}
		out, ids = append(out, d), append(ids, id)
	}
	return out, ids, rows.Err()
}

// eraseNotifyData deletes the address's states for reply notifications and
// the notification emails to it.
func eraseNotifyData(ctx context.Context, tx dbtx, norm string, sum *comment.EraseSummary) error {
	tag, err := tx.Exec(ctx, `DELETE FROM reader_addresses WHERE email_lower = $1`, norm)
	if err != nil {
		return err
	}
	sum.ReaderAddresses += int(tag.RowsAffected())
	_, ids, err := personalDeliveries(ctx, tx, norm)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	tag, err = tx.Exec(ctx, `DELETE FROM notify_deliveries WHERE id = ANY($1::text[])`, ids)
	if err != nil {
		return err
	}
	sum.NotifyDeliveries += int(tag.RowsAffected())
	return nil
}

// eraseCommentDeliveries deletes the notifications about a comment, whose
// messages quote it.
func eraseCommentDeliveries(ctx context.Context, tx dbtx, id string, sum *comment.EraseSummary) error {
	tag, err := tx.Exec(ctx, `DELETE FROM notify_deliveries WHERE comment_id = $1`, id)
	if err != nil {
		return err
	}
	sum.NotifyDeliveries += int(tag.RowsAffected())
	return nil
}

// erasing is one of the author's comments as erasure sees it.
type erasing struct {
	id, siteID, pageKey, ip string
	reasons                 []byte
}

// ErasePersonalData removes email's personal data and writes audit, in one
// transaction (see comment.PrivacyStore).
func (s *Store) ErasePersonalData(ctx context.Context, email string, deleteComments bool, audit comment.AuditEntry) (comment.EraseSummary, error) {
	norm := comment.NormalizeEmail(email)
	if norm == "" {
		return comment.EraseSummary{}, comment.Invalid("email", "Enter an email address.")
	}
	var sum comment.EraseSummary
	err := s.write(ctx, func(tx pgx.Tx) error {
		sum = comment.EraseSummary{}
		sites := map[string]bool{}
		if storable(norm) {
			entries, listSites, err := lockEmailListSites(ctx, tx, norm)
			if err != nil {
				return err
			}
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
			for _, e := range entries {
				tag, err := tx.Exec(ctx, `DELETE FROM site_lists WHERE site_id = $1 AND list = $2 AND value = $3`,
					e.SiteID, e.List, e.Value)
				if err != nil {
					return err
				}
				sum.ListEntries += int(tag.RowsAffected())
				sites[e.SiteID] = true
			}
			// The spam rules read the lists: their caches follow the version.
			for _, site := range listSites {
				if err := bumpRules(ctx, tx, site); err != nil {
					return err
				}
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

func authorComments(ctx context.Context, tx dbtx, norm string) ([]erasing, error) {
	rows, err := tx.Query(ctx, `SELECT id, site_id, page_key, ip, reasons FROM comments WHERE author_email_lower = $1 FOR UPDATE`, norm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []erasing
	for rows.Next() {
		var c erasing
		if err := rows.Scan(&c.id, &c.siteID, &c.pageKey, &c.ip, &c.reasons); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// scrubAuthorComments empties the email, IP and user agent of the author's
// comments and takes the client data out of their reasons.
func scrubAuthorComments(ctx context.Context, tx dbtx, norm string, sum *comment.EraseSummary, sites map[string]bool) error {
	cs, err := authorComments(ctx, tx, norm)
	if err != nil {
		return err
	}
	for _, c := range cs {
		_, reasons, err := expireRow(comment.ClientDataDelete, c.ip, c.reasons)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE comments SET author_email = '', author_email_lower = '',
			ip = '', user_agent = '', reasons = $1::jsonb, client_data_state = 2, notify_replies = false WHERE id = $2`, reasons, c.id); err != nil {
			return err
		}
		sum.Scrubbed++
		sites[c.siteID] = true
	}
	return nil
}

// deleteAuthorComments removes the author's comments from the leaves up, so
// that the author's own replies go first; those that others replied to are
// left as tombstones.
func deleteAuthorComments(ctx context.Context, tx dbtx, norm string, sum *comment.EraseSummary, sites map[string]bool) error {
	if _, err := authorComments(ctx, tx, norm); err != nil { // locks the rows
		return err
	}
	for {
		rows, err := tx.Query(ctx, `SELECT id, site_id, page_key FROM comments c WHERE author_email_lower = $1
			AND NOT EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id)`, norm)
		if err != nil {
			return err
		}
		var leaves []erasing
		for rows.Next() {
			var c erasing
			if err := rows.Scan(&c.id, &c.siteID, &c.pageKey); err != nil {
				rows.Close()
				return err
			}
			leaves = append(leaves, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(leaves) == 0 {
			break
		}
		for _, c := range leaves {
			tag, err := tx.Exec(ctx, `DELETE FROM comment_revisions WHERE comment_id = $1`, c.id)
			if err != nil {
				return err
			}
			sum.Revisions += int(tag.RowsAffected())
			if _, err := tx.Exec(ctx, `DELETE FROM comment_events WHERE comment_id = $1`, c.id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM comments WHERE id = $1`, c.id); err != nil {
				return err
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
		tag, err := tx.Exec(ctx, `DELETE FROM comment_revisions WHERE comment_id = $1`, c.id)
		if err != nil {
			return err
		}
		sum.Revisions += int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `UPDATE comments SET author_name = '', author_email = '',
			author_email_lower = '', author_website = '', body = '', body_html = '', ip = '', user_agent = '',
			reasons = '[]'::jsonb, search = ''::tsvector, status = $1, client_data_state = 2, notify_replies = false
			WHERE id = $2`, string(comment.StatusDeleted), c.id); err != nil {
			return err
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
	if err := s.write(ctx, func(tx pgx.Tx) error { return addAudit(ctx, tx, e) }); err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.Action, err)
	}
	return nil
}

// AuditEntries returns the newest limit audit entries, newest first.
func (s *Store) AuditEntries(ctx context.Context, limit int) ([]comment.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, actor, action, subject, details FROM audit_log
		ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", mapErr(err))
	}
	defer rows.Close()
	var out []comment.AuditEntry
	for rows.Next() {
		var (
			e       comment.AuditEntry
			details []byte
		)
		if err := rows.Scan(&e.At, &e.Actor, &e.Action, &e.Subject, &details); err != nil {
			return nil, fmt.Errorf("audit entries: %w", mapErr(err))
		}
		if err := json.Unmarshal(details, &e.Details); err != nil {
			return nil, fmt.Errorf("decode audit details: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries: %w", mapErr(err))
	}
	return out, nil
}

func addAudit(ctx context.Context, tx dbtx, e comment.AuditEntry) error {
	details := []byte("{}")
	if e.Details != nil {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("encode audit details: %w", err)
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (at, actor, action, subject, details) VALUES ($1, $2, $3, $4, $5::jsonb)`,
		e.At, e.Actor, e.Action, e.Subject, string(details))
	return err
}
