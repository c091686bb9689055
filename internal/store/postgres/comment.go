package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// commentColumns is the column list every comment query selects, in the
// order scanComment reads them.
const commentColumns = `id, site_id, page_key, parent_id, depth, author_name, author_email,
	author_website, body, body_html, status, ip, user_agent, reasons, created_at, updated_at, notify_replies`

// maxListLimit bounds ListFilter.Limit.
const maxListLimit = 500

// CreateComment stores c, its page p (keyed by c.SiteID and c.PageKey,
// whatever p says; created if new, an empty stored URL or title filled in
// from p), a "submit" event by "system" at c.CreatedAt and one hit for each
// distinct non-empty rule named in c.Reasons, in one transaction. Errors wrap comment.ErrNotFound if the site (or the parent)
// does not exist, comment.ErrConflict if the ID does, and
// comment.ErrUnavailable if the database cannot take the write now.
func (s *Store) CreateComment(ctx context.Context, c comment.Comment, p comment.Page) error {
	if err := s.createComment(ctx, c, p, nil); err != nil {
		return fmt.Errorf("create comment %s: %w", c.ID, err)
	}
	return nil
}

// CreateKeyedComment stores c as CreateComment does and k with it, in the
// same transaction, with k.SiteID and k.CommentID taken from c. An expired
// record of the same site and key (one whose ExpiresAt is at or before
// k.CreatedAt) is replaced. Errors are CreateComment's, and one wrapping
// comment.ErrConflict if the key is held unexpired, also by a concurrent
// caller that commits first; nothing is stored then.
func (s *Store) CreateKeyedComment(ctx context.Context, c comment.Comment, p comment.Page, k comment.IdempotencyKey) error {
	k.SiteID, k.CommentID = c.SiteID, c.ID
	if !storable(k.Key) || !storable(k.RequestHash) {
		return fmt.Errorf("create comment %s: idempotency key: %w", c.ID, comment.Invalid("idempotency_key", "The key holds characters that cannot be stored."))
	}
	if err := s.createComment(ctx, c, p, &k); err != nil {
		return fmt.Errorf("create comment %s with idempotency key: %w", c.ID, err)
	}
	return nil
}

// createComment writes c, p, the submit event, the rule hits and k (unless
// nil) as one batch.
func (s *Store) createComment(ctx context.Context, c comment.Comment, p comment.Page, k *comment.IdempotencyKey) error {
	p.SiteID, p.Key = c.SiteID, c.PageKey
	// The statements go to the server together, in one round trip, and run
	// as one implicit transaction (the batch ends in a single Sync): a wave
	// of submissions is bound by round trips, not by the server. An unknown
	// site fails the page's foreign key. A key held by another transaction
	// that has not committed yet makes the key's insert wait for it, and
	// fail with a unique violation if it commits: the whole batch is then
	// rolled back.
	b := &pgx.Batch{}
	q := queue{b}
	err := upsertPage(ctx, q, p, c.CreatedAt)
	if err == nil {
		err = insertComment(ctx, q, c)
	}
	if err == nil {
		err = insertEvent(ctx, q, comment.Event{CommentID: c.ID, Actor: "system", Action: "submit", ToStatus: c.Status, At: c.CreatedAt})
	}
	if err == nil && k != nil {
		err = insertKey(ctx, q, *k)
	}
	if err == nil {
		err = addRuleHits(ctx, q, c.SiteID, keep(firedRules(reasonRules(c.Reasons)), storable))
	}
	if err == nil {
		err = s.pool.SendBatch(ctx, b).Close()
	}
	return mapErr(err)
}

// Comment returns the comment with id, or an error wrapping
// comment.ErrNotFound.
func (s *Store) Comment(ctx context.Context, id string) (comment.Comment, error) {
	if !storable(id) {
		return comment.Comment{}, fmt.Errorf("comment %q: %w", id, comment.ErrNotFound)
	}
	c, err := findComment(ctx, s.pool, id, false)
	if err != nil {
		return comment.Comment{}, fmt.Errorf("comment %s: %w", id, mapErr(err))
	}
	return c, nil
}

// SetStatus moves the comment to ch.To, sets its UpdatedAt to ch.At and
// records the change in its history, in one transaction. If the comment
// already has that status nothing is written. It returns the comment as it
// is afterwards, or an error wrapping comment.ErrNotFound.
func (s *Store) SetStatus(ctx context.Context, ch comment.StatusChange) (comment.Comment, error) {
	if !ch.To.Valid() {
		return comment.Comment{}, comment.Invalid("status", "Unknown status.")
	}
	if !storable(ch.ID) {
		return comment.Comment{}, fmt.Errorf("set status of comment %q: %w", ch.ID, comment.ErrNotFound)
	}
	var c comment.Comment
	err := s.write(ctx, func(tx pgx.Tx) (err error) {
		c, err = setStatus(ctx, tx, ch)
		return err
	})
	if err != nil {
		return comment.Comment{}, fmt.Errorf("set status of comment %s to %s: %w", ch.ID, ch.To, err)
	}
	return c, nil
}

// History returns the comment's events in the order they were recorded, or
// an error wrapping comment.ErrNotFound if the comment does not exist.
func (s *Store) History(ctx context.Context, id string) ([]comment.Event, error) {
	if !storable(id) {
		return nil, fmt.Errorf("history of comment %q: %w", id, comment.ErrNotFound)
	}
	events, err := findEvents(ctx, s.pool, id)
	if err != nil {
		return nil, fmt.Errorf("history of comment %s: %w", id, mapErr(err))
	}
	return events, nil
}

// List returns the comments matching f, ordered by (CreatedAt, ID) and
// starting strictly after f.After. f.AuthorEmail is compared with the
// author's email lower-cased (strings.ToLower), f.IP exactly; every word of
// f.Query (a run of letters and digits; anything else only separates words)
// must occur in the author's name or the body, in any case but with the same
// accents, and a query without words filters nothing. Nothing in f.Query
// is read as search syntax, so no query is an error. An invalid status or a
// limit outside 1..500 is a *comment.ValidationError.
func (s *Store) List(ctx context.Context, f comment.ListFilter) ([]comment.Comment, error) {
	if err := checkFilter(f); err != nil {
		return nil, err
	}
	cs, err := listComments(ctx, s.pool, f)
	if err != nil {
		return nil, fmt.Errorf("list %s comments: %w", f.Status, mapErr(err))
	}
	return cs, nil
}

// Approved returns the approved comments of one page, oldest first.
func (s *Store) Approved(ctx context.Context, siteID, pageKey string) ([]comment.Comment, error) {
	if !storable(siteID) || !storable(pageKey) {
		return nil, nil
	}
	cs, err := queryComments(ctx, s.pool, `SELECT `+commentColumns+` FROM comments
		WHERE site_id = $1 AND page_key = $2 AND status = $3
		ORDER BY created_at, id`, siteID, pageKey, string(comment.StatusApproved))
	if err != nil {
		return nil, fmt.Errorf("approved comments of page %q of site %q: %w", pageKey, siteID, mapErr(err))
	}
	return cs, nil
}

// CountApproved returns the number of approved comments of each of the given
// pages of site siteID; pages without any are absent from the map.
func (s *Store) CountApproved(ctx context.Context, siteID string, pageKeys []string) (map[string]int, error) {
	counts := make(map[string]int)
	keys := keep(pageKeys, storable)
	if len(keys) == 0 || !storable(siteID) {
		return counts, nil
	}
	if err := countApproved(ctx, s.pool, siteID, keys, counts); err != nil {
		return nil, fmt.Errorf("count approved comments of site %q: %w", siteID, mapErr(err))
	}
	return counts, nil
}

func checkFilter(f comment.ListFilter) error {
	if !f.Status.Valid() {
		return comment.Invalid("status", "Choose one of pending, approved, rejected, spam or deleted.")
	}
	if f.Limit < 1 || f.Limit > maxListLimit {
		return comment.Invalid("limit", fmt.Sprintf("The limit must be between 1 and %d.", maxListLimit))
	}
	return nil
}

func insertComment(ctx context.Context, tx execer, c comment.Comment) error {
	reasons, err := marshalList(c.Reasons)
	if err != nil {
		return fmt.Errorf("encode reasons: %w", err)
	}
	var parent *string
	if c.ParentID != "" {
		parent = &c.ParentID
	}
	_, err = tx.Exec(ctx, `INSERT INTO comments (`+commentColumns+`, author_email_lower, search)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
			$17, $18, strip(to_tsvector('simple', $19)))`,
		c.ID, c.SiteID, c.PageKey, parent, c.Depth, c.AuthorName, c.AuthorEmail,
		c.AuthorWebsite, c.Body, c.BodyHTML, string(c.Status), c.IP, c.UserAgent, reasons,
		c.CreatedAt, c.UpdatedAt, c.NotifyReplies, strings.ToLower(c.AuthorEmail), searchText(c.AuthorName, c.Body))
	return err
}

func insertEvent(ctx context.Context, tx execer, e comment.Event) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO comment_events (comment_id, actor, action, from_status, to_status, at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		e.CommentID, e.Actor, e.Action, string(e.FromStatus), string(e.ToStatus), e.At)
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Action, err)
	}
	return nil
}

func setStatus(ctx context.Context, tx dbtx, ch comment.StatusChange) (comment.Comment, error) {
	// Lock the row, so that concurrent moderators record one change each
	// against the status it really replaced.
	c, err := findComment(ctx, tx, ch.ID, true)
	if err != nil {
		return comment.Comment{}, err
	}
	if c.Status == ch.To {
		return c, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE comments SET status = $1, updated_at = $2 WHERE id = $3`,
		string(ch.To), ch.At, ch.ID); err != nil {
		return comment.Comment{}, err
	}
	err = insertEvent(ctx, tx, comment.Event{
		CommentID: ch.ID, Actor: ch.Actor, Action: ch.Action,
		FromStatus: c.Status, ToStatus: ch.To, At: ch.At,
	})
	if err != nil {
		return comment.Comment{}, err
	}
	return findComment(ctx, tx, ch.ID, false)
}

func findComment(ctx context.Context, tx dbtx, id string, forUpdate bool) (comment.Comment, error) {
	q := `SELECT ` + commentColumns + ` FROM comments WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	c, err := scanComment(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.Comment{}, comment.ErrNotFound
	}
	return c, err
}

func findEvents(ctx context.Context, tx dbtx, id string) ([]comment.Event, error) {
	rows, err := tx.Query(ctx, `
		SELECT comment_id, actor, action, from_status, to_status, at
		FROM comment_events WHERE comment_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []comment.Event
	for rows.Next() {
		var (
			e        comment.Event
			from, to string
		)
		if err := rows.Scan(&e.CommentID, &e.Actor, &e.Action, &from, &to, &e.At); err != nil {
			return nil, err
		}
		e.FromStatus, e.ToStatus, e.At = comment.Status(from), comment.Status(to), e.At.UTC()
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		// Every stored comment has its submit event, so none means no comment;
		// check rather than assume, to tell "not found" from "no history".
		if _, err := findComment(ctx, tx, id, false); err != nil {
			return nil, err
		}
	}
	return events, nil
}

func listComments(ctx context.Context, tx dbtx, f comment.ListFilter) ([]comment.Comment, error) {
	query, args, ok := listQuery(f)
	if !ok {
		return nil, nil
	}
	return queryComments(ctx, tx, query, args...)
}

// listQuery builds the statement List runs for f, or reports false if f
// names a value PostgreSQL cannot hold, which no comment has. Each filter is
// an equality on a column of one of the queue indexes (comments_queue,
// comments_site_queue, comments_author for an email, comments_ip for an IP),
// so that the planner can walk one in (created_at, id) order from the
// cursor; words are looked up in the comments_search GIN index.
func listQuery(f comment.ListFilter) (string, []any, bool) {
	var (
		where = []string{"status = $1"}
		args  = []any{string(f.Status)}
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.SiteIDs) > 0 {
		sites := keep(f.SiteIDs, storable)
		switch len(sites) {
		case 0:
			return "", nil, false
		case 1:
			// An equality, unlike = ANY, lets an index whose later columns
			// are (created_at, id) return the rows in that order.
			where = append(where, "site_id = "+arg(sites[0]))
		default:
			where = append(where, "site_id = ANY("+arg(sites)+")")
		}
	}
	for _, eq := range []struct{ column, value string }{
		{"page_key", f.PageKey},
		{"author_email_lower", strings.ToLower(f.AuthorEmail)},
		{"ip", f.IP},
	} {
		if eq.value == "" {
			continue
		}
		if !storable(eq.value) {
			return "", nil, false
		}
		where = append(where, eq.column+" = "+arg(eq.value))
	}
	words, ok := searchQuery(f.Query)
	if !ok {
		return "", nil, false
	}
	if words != "" {
		where = append(where, "search @@ plainto_tsquery('simple', "+arg(words)+")")
	}
	if f.After != nil {
		if !storable(f.After.ID) {
			return "", nil, false
		}
		where = append(where, "(created_at, id) > ("+arg(f.After.CreatedAt)+", "+arg(f.After.ID)+")")
	}
	// Appended before args is returned: the order in which a return
	// statement reads a variable and calls a function is unspecified.
	limit := arg(f.Limit)
	return `SELECT ` + commentColumns + ` FROM comments
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY created_at, id LIMIT ` + limit, args, true
}

func countApproved(ctx context.Context, tx dbtx, siteID string, keys []string, counts map[string]int) error {
	rows, err := tx.Query(ctx, `
		SELECT page_key, count(*) FROM comments
		WHERE site_id = $1 AND status = $2 AND page_key = ANY($3)
		GROUP BY page_key`, siteID, string(comment.StatusApproved), keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key string
			n   int
		)
		if err := rows.Scan(&key, &n); err != nil {
			return err
		}
		counts[key] = n
	}
	return rows.Err()
}

func queryComments(ctx context.Context, tx dbtx, query string, args ...any) ([]comment.Comment, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []comment.Comment
	for rows.Next() {
		c, err := scanComment(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// scanComment reads one row of commentColumns.
func scanComment(row pgx.Row) (comment.Comment, error) {
	var (
		c       comment.Comment
		parent  *string
		status  string
		reasons []byte
	)
	err := row.Scan(&c.ID, &c.SiteID, &c.PageKey, &parent, &c.Depth, &c.AuthorName, &c.AuthorEmail,
		&c.AuthorWebsite, &c.Body, &c.BodyHTML, &status, &c.IP, &c.UserAgent, &reasons, &c.CreatedAt, &c.UpdatedAt,
		&c.NotifyReplies)
	if err != nil {
		return comment.Comment{}, err
	}
	if c.Reasons, err = unmarshalList[comment.Reason](reasons); err != nil {
		return comment.Comment{}, fmt.Errorf("decode reasons of comment %s: %w", c.ID, err)
	}
	if parent != nil {
		c.ParentID = *parent
	}
	c.Status = comment.Status(status)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// keep returns the elements of s for which ok is true.
func keep(s []string, ok func(string) bool) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if ok(v) {
			out = append(out, v)
		}
	}
	return out
}
