package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// maxBatch is how many keys one statement of a batched lookup carries;
// longer lists take several statements.
const maxBatch = 500

// EditComment replaces the comment's author name, website, body and
// rendered body and sets its UpdatedAt to e.At. In the same transaction,
// holding the comment's row lock, it keeps the previous content as a
// revision and records an "edit" event by e.Actor that leaves the status as
// it is. It returns the comment afterwards, or an error wrapping
// comment.ErrNotFound.
func (s *Store) EditComment(ctx context.Context, e comment.Edit) (comment.Comment, error) {
	if !storable(e.ID) {
		return comment.Comment{}, fmt.Errorf("edit comment %q: %w", e.ID, comment.ErrNotFound)
	}
	var c comment.Comment
	err := s.write(ctx, func(tx pgx.Tx) (err error) {
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
	if !storable(id) {
		return nil, fmt.Errorf("revisions of comment %q: %w", id, comment.ErrNotFound)
	}
	revs, err := findRevisions(ctx, s.pool, id)
	if err != nil {
		return nil, fmt.Errorf("revisions of comment %s: %w", id, mapErr(err))
	}
	return revs, nil
}

// CommentsByID returns the comments among ids that exist, keyed by id.
func (s *Store) CommentsByID(ctx context.Context, ids []string) (map[string]comment.Comment, error) {
	out := make(map[string]comment.Comment, len(ids))
	ids = dedupe(keep(ids, storable))
	for part := range slices.Chunk(ids, maxBatch) {
		cs, err := queryComments(ctx, s.pool, `SELECT `+commentColumns+` FROM comments WHERE id = ANY($1)`, part)
		if err != nil {
			return nil, fmt.Errorf("comments by id: %w", mapErr(err))
		}
		for _, c := range cs {
			out[c.ID] = c
		}
	}
	return out, nil
}

// PagesByRef returns the pages among refs that exist, keyed by ref.
func (s *Store) PagesByRef(ctx context.Context, refs []comment.PageRef) (map[comment.PageRef]comment.Page, error) {
	out := make(map[comment.PageRef]comment.Page, len(refs))
	refs = dedupe(refs)
	refs = slices.DeleteFunc(refs, func(r comment.PageRef) bool { return !storable(r.SiteID) || !storable(r.Key) })
	for part := range slices.Chunk(refs, maxBatch) {
		if err := pagesByRef(ctx, s.pool, part, out); err != nil {
			return nil, fmt.Errorf("pages by ref: %w", mapErr(err))
		}
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
		if !storable(a.SiteID) || !storable(a.Email) {
			continue
		}
		k := comment.AuthorKey{SiteID: a.SiteID, Email: strings.ToLower(a.Email)}
		if _, ok := asked[k]; !ok {
			keys = append(keys, k)
		}
		asked[k] = append(asked[k], a)
	}
	counted := make(map[comment.AuthorKey]comment.AuthorStats, len(keys))
	for part := range slices.Chunk(keys, maxBatch) {
		if err := authorStats(ctx, s.pool, part, counted); err != nil {
			return nil, fmt.Errorf("author stats: %w", mapErr(err))
		}
	}
	for k, st := range counted {
		for _, a := range asked[k] {
			out[a] = maps.Clone(st)
		}
	}
	return out, nil
}

// AddListEntry puts e.Value on the site's list e.List and increments the
// site's rules version, in one transaction holding the site's rules lock
// (see lockSite), unless the value is there already (then nothing changes
// and the stored entry is kept as it is). An unknown list or an empty value
// is a *comment.ValidationError, an unknown site wraps comment.ErrNotFound.
func (s *Store) AddListEntry(ctx context.Context, e comment.ListEntry) error {
	if err := checkListEntry(e); err != nil {
		return err
	}
	if !storable(e.SiteID) {
		return fmt.Errorf("add to %s of site %q: %w", e.List, e.SiteID, comment.ErrNotFound)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockSite(ctx, tx, e.SiteID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO site_lists (site_id, list, value, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (site_id, list, value) DO NOTHING`,
			e.SiteID, e.List, e.Value, e.CreatedBy, e.CreatedAt)
		if err != nil || tag.RowsAffected() == 0 {
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
// site's rules version, in one transaction holding the site's rules lock
// (see lockSite), if the value is there; if not, nothing changes and it is
// not an error, not even for an unknown site.
func (s *Store) DeleteListEntry(ctx context.Context, siteID, list, value string) error {
	if !storable(siteID) || !storable(list) || !storable(value) {
		return nil
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockSite(ctx, tx, siteID); err != nil {
			if errors.Is(err, comment.ErrNotFound) {
				return nil
			}
			return err
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM site_lists WHERE site_id = $1 AND list = $2 AND value = $3`, siteID, list, value)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return bumpRules(ctx, tx, siteID)
	})
	if err != nil {
		return fmt.Errorf("remove from %s of site %q: %w", list, siteID, err)
	}
	return nil
}

// ListEntries returns the entries of the site's list ordered by value in
// byte order; none for an unknown site or list.
func (s *Store) ListEntries(ctx context.Context, siteID, list string) ([]comment.ListEntry, error) {
	if !storable(siteID) || !storable(list) {
		return nil, nil
	}
	es, err := findListEntries(ctx, s.pool, siteID, list)
	if err != nil {
		return nil, fmt.Errorf("%s of site %q: %w", list, siteID, mapErr(err))
	}
	return es, nil
}

func editComment(ctx context.Context, tx dbtx, e comment.Edit) (comment.Comment, error) {
	// Lock the row, so that concurrent edits each keep the version they
	// really replaced.
	c, err := findComment(ctx, tx, e.ID, true)
	if err != nil {
		return comment.Comment{}, err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO comment_revisions (comment_id, author_name, author_website, body, edited_by, edited_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.AuthorName, c.AuthorWebsite, c.Body, e.Actor, e.At)
	if err != nil {
		return comment.Comment{}, fmt.Errorf("keep revision: %w", err)
	}
	_, err = tx.Exec(ctx, `
		UPDATE comments SET author_name = $1, author_website = $2, body = $3, body_html = $4,
			updated_at = $5, search = strip(to_tsvector('simple', $6))
		WHERE id = $7`,
		e.AuthorName, e.AuthorWebsite, e.Body, e.BodyHTML, e.At, searchText(e.AuthorName, e.Body), c.ID)
	if err != nil {
		return comment.Comment{}, err
	}
	err = insertEvent(ctx, tx, comment.Event{
		CommentID: c.ID, Actor: e.Actor, Action: "edit",
		FromStatus: c.Status, ToStatus: c.Status, At: e.At,
	})
	if err != nil {
		return comment.Comment{}, err
	}
	return findComment(ctx, tx, c.ID, false)
}

func findRevisions(ctx context.Context, tx dbtx, id string) ([]comment.Revision, error) {
	rows, err := tx.Query(ctx, `
		SELECT comment_id, author_name, author_website, body, edited_by, edited_at
		FROM comment_revisions WHERE comment_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	revs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (comment.Revision, error) {
		var r comment.Revision
		err := row.Scan(&r.CommentID, &r.AuthorName, &r.AuthorWebsite, &r.Body, &r.EditedBy, &r.EditedAt)
		r.EditedAt = r.EditedAt.UTC()
		return r, err
	})
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		// Tell "never edited" from "no such comment".
		if _, err := findComment(ctx, tx, id, false); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return revs, nil
}

func pagesByRef(ctx context.Context, tx dbtx, refs []comment.PageRef, out map[comment.PageRef]comment.Page) error {
	sites, keys := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		sites[i], keys[i] = r.SiteID, r.Key
	}
	// One probe of the pages primary key per ref.
	rows, err := tx.Query(ctx, `
		SELECT p.site_id, p.key, p.url, p.title
		FROM unnest($1::text[], $2::text[]) AS r (site_id, key)
		JOIN pages p ON p.site_id = r.site_id AND p.key = r.key`, sites, keys)
	if err != nil {
		return err
	}
	var p comment.Page
	_, err = pgx.ForEachRow(rows, []any{&p.SiteID, &p.Key, &p.URL, &p.Title}, func() error {
		out[comment.PageRef{SiteID: p.SiteID, Key: p.Key}] = p
		return nil
	})
	return err
}

func authorStats(ctx context.Context, tx dbtx, keys []comment.AuthorKey, out map[comment.AuthorKey]comment.AuthorStats) error {
	sites, emails := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		sites[i], emails[i] = k.SiteID, k.Email
	}
	// Each key is a range of the comments_author index, counted in it
	// (an index-only scan once the table is vacuumed).
	rows, err := tx.Query(ctx, `
		SELECT c.site_id, c.author_email_lower, c.status, count(*)
		FROM unnest($1::text[], $2::text[]) AS r (site_id, email)
		JOIN comments c ON c.author_email_lower = r.email AND c.site_id = r.site_id
		GROUP BY c.site_id, c.author_email_lower, c.status`, sites, emails)
	if err != nil {
		return err
	}
	var (
		k      comment.AuthorKey
		status string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&k.SiteID, &k.Email, &status, &n}, func() error {
		if out[k] == nil {
			out[k] = comment.AuthorStats{}
		}
		out[k][comment.Status(status)] = n
		return nil
	})
	return err
}

func findListEntries(ctx context.Context, tx dbtx, siteID, list string) ([]comment.ListEntry, error) {
	rows, err := tx.Query(ctx, `
		SELECT site_id, list, value, created_by, created_at FROM site_lists
		WHERE site_id = $1 AND list = $2 ORDER BY value COLLATE "C"`, siteID, list)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (comment.ListEntry, error) {
		var e comment.ListEntry
		err := row.Scan(&e.SiteID, &e.List, &e.Value, &e.CreatedBy, &e.CreatedAt)
		e.CreatedAt = e.CreatedAt.UTC()
		return e, err
	})
}

func checkListEntry(e comment.ListEntry) error {
	switch e.List {
	case comment.ListTrustedEmails, comment.ListBlockedEmails, comment.ListBlockedIPs:
	default:
		return comment.Invalid("list", "Choose one of trusted_email, blocked_email or blocked_ip.")
	}
	if e.Value == "" || !storable(e.Value) {
		return comment.Invalid("value", "A list entry needs a value.")
	}
	return nil
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
