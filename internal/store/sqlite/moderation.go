package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/commentd/commentd/internal/comment"
)

// maxBatch is how many keys one statement of a batched lookup carries;
// longer lists take several statements (in one read transaction).
const maxBatch = 500

// EditComment replaces the comment's author name, website, body and
// rendered body and sets its UpdatedAt to e.At. In the same transaction it
// keeps the previous content as a revision and records an "edit" event by
// e.Actor that leaves the status as it is. It returns the comment
// afterwards, or an error wrapping comment.ErrNotFound.
func (s *Store) EditComment(ctx context.Context, e comment.Edit) (comment.Comment, error) {
	var c comment.Comment
	err := s.write(ctx, func(tx *sql.Tx) (err error) {
		c, err = editComment(ctx, tx, e)
		return err
	})
	if err != nil {
		return comment.Comment{}, fmt.Errorf("edit comment %s: %w", e.ID, err)
	}
	return c, nil
}

// Revisions returns the comment's earlier versions, oldest first, or an
// error wrapping comment.ErrNotFound if the comment does not exist.
func (s *Store) Revisions(ctx context.Context, id string) ([]comment.Revision, error) {
	var revs []comment.Revision
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		revs, err = findRevisions(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revisions of comment %s: %w", id, err)
	}
	return revs, nil
}

// CommentsByID returns the comments among ids that exist, keyed by id.
func (s *Store) CommentsByID(ctx context.Context, ids []string) (map[string]comment.Comment, error) {
	out := make(map[string]comment.Comment, len(ids))
	ids = dedupe(ids)
	if len(ids) == 0 {
		return out, nil
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		for part := range slices.Chunk(ids, maxBatch) {
			if err := commentsByID(ctx, tx, part, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("comments by id: %w", err)
	}
	return out, nil
}

// PagesByRef returns the pages among refs that exist, keyed by ref.
func (s *Store) PagesByRef(ctx context.Context, refs []comment.PageRef) (map[comment.PageRef]comment.Page, error) {
	out := make(map[comment.PageRef]comment.Page, len(refs))
	refs = dedupe(refs)
	if len(refs) == 0 {
		return out, nil
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		for part := range slices.Chunk(refs, maxBatch) {
			if err := pagesByRef(ctx, tx, part, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pages by ref: %w", err)
	}
	return out, nil
}

// AuthorStats counts, for each author, their comments on the author's site
// by status. Emails are compared lower-cased; the result is keyed by the
// keys as given. Authors without comments, and statuses without any, are
// absent.
func (s *Store) AuthorStats(ctx context.Context, authors []comment.AuthorKey) (map[comment.AuthorKey]comment.AuthorStats, error) {
	out := make(map[comment.AuthorKey]comment.AuthorStats, len(authors))
	// Several keys may differ only in case: count once, answer each.
	asked := make(map[comment.AuthorKey][]comment.AuthorKey, len(authors))
	var keys []comment.AuthorKey
	for _, a := range authors {
		k := comment.AuthorKey{SiteID: a.SiteID, Email: strings.ToLower(a.Email)}
		if _, ok := asked[k]; !ok {
			keys = append(keys, k)
		}
		asked[k] = append(asked[k], a)
	}
	if len(keys) == 0 {
		return out, nil
	}
	counted := make(map[comment.AuthorKey]comment.AuthorStats, len(keys))
	err := s.read(ctx, func(tx *sql.Tx) error {
		for part := range slices.Chunk(keys, maxBatch) {
			if err := authorStats(ctx, tx, part, counted); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("author stats: %w", err)
	}
	for k, st := range counted {
		for _, a := range asked[k] {
			out[a] = maps.Clone(st)
		}
	}
	return out, nil
}

// AddListEntry puts e.Value on the site's list e.List and increments the
// site's rules version, in one transaction, unless the value is there
// already (then nothing changes and the stored entry is kept as it is). An
// unknown list or an empty value is a *comment.ValidationError, an unknown
// site wraps comment.ErrNotFound.
func (s *Store) AddListEntry(ctx context.Context, e comment.ListEntry) error {
	if err := checkListEntry(e); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		added, err := changed(tx.ExecContext(ctx, `
			INSERT INTO site_lists (site_id, list, value, created_by, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (site_id, list, value) DO NOTHING`,
			e.SiteID, e.List, e.Value, e.CreatedBy, micros(e.CreatedAt)))
		if err != nil || !added {
			return err
		}
		return bumpRules(ctx, tx, e.SiteID)
	})
	if err != nil {
		return fmt.Errorf("add to %s of site %q: %w", e.List, e.SiteID, err)
	}
	return nil
}

// DeleteListEntry removes value from the site's list and increments the
// site's rules version, in one transaction, if the value is there; if not,
// nothing changes and it is not an error.
func (s *Store) DeleteListEntry(ctx context.Context, siteID, list, value string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		removed, err := changed(tx.ExecContext(ctx, `
			DELETE FROM site_lists WHERE site_id = ? AND list = ? AND value = ?`, siteID, list, value))
		if err != nil || !removed {
			return err
		}
		return bumpRules(ctx, tx, siteID)
	})
	if err != nil {
		return fmt.Errorf("remove from %s of site %q: %w", list, siteID, err)
	}
	return nil
}

// ListEntries returns the entries of the site's list ordered by value (byte
// order); none for an unknown site or list.
func (s *Store) ListEntries(ctx context.Context, siteID, list string) ([]comment.ListEntry, error) {
	var es []comment.ListEntry
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		es, err = findListEntries(ctx, tx, siteID, list)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s of site %q: %w", list, siteID, err)
	}
	return es, nil
}

func editComment(ctx context.Context, tx *sql.Tx, e comment.Edit) (comment.Comment, error) {
	c, err := findComment(ctx, tx, e.ID)
	if err != nil {
		return comment.Comment{}, err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO comment_revisions (comment_id, author_name, author_website, body, edited_by, edited_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.AuthorName, c.AuthorWebsite, c.Body, e.Actor, micros(e.At))
	if err != nil {
		return comment.Comment{}, fmt.Errorf("keep revision: %w", mapErr(err))
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE comments SET author_name = ?, author_website = ?, body = ?, body_html = ?, updated_at = ?
		WHERE id = ?`,
		e.AuthorName, e.AuthorWebsite, e.Body, e.BodyHTML, micros(e.At), c.ID)
	if err != nil {
		return comment.Comment{}, mapErr(err)
	}
	err = insertEvent(ctx, tx, comment.Event{
		CommentID: c.ID, Actor: e.Actor, Action: "edit",
		FromStatus: c.Status, ToStatus: c.Status, At: e.At,
	})
	if err != nil {
		return comment.Comment{}, err
	}
	return findComment(ctx, tx, c.ID)
}

func findRevisions(ctx context.Context, tx *sql.Tx, id string) ([]comment.Revision, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT comment_id, author_name, author_website, body, edited_by, edited_at
		FROM comment_revisions WHERE comment_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var revs []comment.Revision
	for rows.Next() {
		var (
			r  comment.Revision
			at int64
		)
		if err := rows.Scan(&r.CommentID, &r.AuthorName, &r.AuthorWebsite, &r.Body, &r.EditedBy, &at); err != nil {
			return nil, mapErr(err)
		}
		r.EditedAt = fromMicros(at)
		revs = append(revs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if len(revs) == 0 {
		// Tell "never edited" from "no such comment".
		if _, err := findComment(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	return revs, nil
}

func commentsByID(ctx context.Context, tx *sql.Tx, ids []string, out map[string]comment.Comment) error {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	cs, err := queryComments(ctx, tx, `SELECT `+commentColumns+` FROM comments
		WHERE id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return err
	}
	for _, c := range cs {
		out[c.ID] = c
	}
	return nil
}

func pagesByRef(ctx context.Context, tx *sql.Tx, refs []comment.PageRef, out map[comment.PageRef]comment.Page) error {
	args := make([]any, 0, 2*len(refs))
	for _, r := range refs {
		args = append(args, r.SiteID, r.Key)
	}
	// One probe of the pages primary key per ref.
	rows, err := tx.QueryContext(ctx, `
		SELECT p.site_id, p.key, p.url, p.title
		FROM (VALUES `+pairs(len(refs))+`) AS r
		JOIN pages p ON p.site_id = r.column1 AND p.key = r.column2`, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p comment.Page
		if err := rows.Scan(&p.SiteID, &p.Key, &p.URL, &p.Title); err != nil {
			return mapErr(err)
		}
		out[comment.PageRef{SiteID: p.SiteID, Key: p.Key}] = p
	}
	return mapErr(rows.Err())
}

func authorStats(ctx context.Context, tx *sql.Tx, keys []comment.AuthorKey, out map[comment.AuthorKey]comment.AuthorStats) error {
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k.SiteID, k.Email)
	}
	// Each key is a range of the comments_author index, counted in it
	// without reading the rows.
	rows, err := tx.QueryContext(ctx, `
		SELECT r.column1, r.column2, c.status, count(*)
		FROM (VALUES `+pairs(len(keys))+`) AS r
		JOIN comments c ON c.author_email_lower = r.column2 AND c.site_id = r.column1
		GROUP BY r.column1, r.column2, c.status`, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k      comment.AuthorKey
			status string
			n      int
		)
		if err := rows.Scan(&k.SiteID, &k.Email, &status, &n); err != nil {
			return mapErr(err)
		}
		if out[k] == nil {
			out[k] = comment.AuthorStats{}
		}
		out[k][comment.Status(status)] = n
	}
	return mapErr(rows.Err())
}

func findListEntries(ctx context.Context, tx *sql.Tx, siteID, list string) ([]comment.ListEntry, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT site_id, list, value, created_by, created_at FROM site_lists
		WHERE site_id = ? AND list = ? ORDER BY value`, siteID, list)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var es []comment.ListEntry
	for rows.Next() {
		var (
			e  comment.ListEntry
			at int64
		)
		if err := rows.Scan(&e.SiteID, &e.List, &e.Value, &e.CreatedBy, &at); err != nil {
			return nil, mapErr(err)
		}
		e.CreatedAt = fromMicros(at)
		es = append(es, e)
	}
	return es, mapErr(rows.Err())
}

func checkListEntry(e comment.ListEntry) error {
	switch e.List {
	case comment.ListTrustedEmails, comment.ListBlockedEmails, comment.ListBlockedIPs:
	default:
		return comment.Invalid("list", "Choose one of trusted_email, blocked_email or blocked_ip.")
	}
	if e.Value == "" {
		return comment.Invalid("value", "A list entry needs a value.")
	}
	return nil
}

// pairs returns n comma-separated "(?, ?)".
func pairs(n int) string {
	return strings.TrimSuffix(strings.Repeat("(?, ?),", n), ",")
}

// dedupe returns s without repeated elements, in first-seen order.
func dedupe[T comparable](s []T) []T {
	seen := make(map[T]bool, len(s))
	out := make([]T, 0, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
