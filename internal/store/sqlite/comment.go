package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
// comment.ErrUnavailable if another writer holds the database longer than
// the busy timeout.
func (s *Store) CreateComment(ctx context.Context, c comment.Comment, p comment.Page) error {
	p.SiteID, p.Key = c.SiteID, c.PageKey
	// Submissions arrive in waves: they share transactions (group.go).
	if err := s.group.write(ctx, c, p, nil); err != nil {
		return fmt.Errorf("create comment %s: %w", c.ID, err)
	}
	return nil
}

// createComment writes one new comment as CreateComment describes.
func createComment(ctx context.Context, tx querier, c comment.Comment, p comment.Page) error {
	if _, err := findSite(ctx, tx, c.SiteID); err != nil {
		return fmt.Errorf("site %q: %w", c.SiteID, err)
	}
	if err := upsertPage(ctx, tx, p, c.CreatedAt); err != nil {
		return fmt.Errorf("page %q: %w", p.Key, err)
	}
	if err := insertComment(ctx, tx, c); err != nil {
		return err
	}
	err := insertEvent(ctx, tx, comment.Event{
		CommentID: c.ID, Actor: "system", Action: "submit",
		ToStatus: c.Status, At: c.CreatedAt,
	})
	if err != nil {
		return err
	}
	return addRuleHits(ctx, tx, c.SiteID, firedRules(reasonRules(c.Reasons)))
}

// Comment returns the comment with id, or an error wrapping
// comment.ErrNotFound.
func (s *Store) Comment(ctx context.Context, id string) (comment.Comment, error) {
	var c comment.Comment
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		c, err = findComment(ctx, tx, id)
		return err
	})
	if err != nil {
		return comment.Comment{}, fmt.Errorf("comment %s: %w", id, err)
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
	var c comment.Comment
	err := s.write(ctx, func(tx *sql.Tx) (err error) {
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
	var events []comment.Event
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		events, err = findEvents(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("history of comment %s: %w", id, err)
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
	var cs []comment.Comment
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		cs, err = listComments(ctx, tx, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s comments: %w", f.Status, err)
	}
	return cs, nil
}

// Approved returns the approved comments of one page, oldest first.
func (s *Store) Approved(ctx context.Context, siteID, pageKey string) ([]comment.Comment, error) {
	var cs []comment.Comment
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		cs, err = queryComments(ctx, tx, `SELECT `+commentColumns+` FROM comments
			WHERE site_id = ? AND page_key = ? AND status = ?
			ORDER BY created_at, id`, siteID, pageKey, comment.StatusApproved)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("approved comments of page %q of site %q: %w", pageKey, siteID, err)
	}
	return cs, nil
}

// CountApproved returns the number of approved comments of each of the given
// pages of site siteID; pages without any are absent from the map.
func (s *Store) CountApproved(ctx context.Context, siteID string, pageKeys []string) (map[string]int, error) {
	counts := make(map[string]int)
	if len(pageKeys) == 0 {
		return counts, nil
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		return countApproved(ctx, tx, siteID, pageKeys, counts)
	})
	if err != nil {
		return nil, fmt.Errorf("count approved comments of site %q: %w", siteID, err)
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

const insertCommentSQL = `INSERT INTO comments (` + commentColumns + `, author_email_lower)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func insertComment(ctx context.Context, tx querier, c comment.Comment) error {
	args, err := commentValues(c)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertCommentSQL, args...)
	return mapErr(err)
}

// commentValues returns the values insertCommentSQL takes for c.
func commentValues(c comment.Comment) ([]any, error) {
	reasons, err := marshalList(c.Reasons)
	if err != nil {
		return nil, fmt.Errorf("encode reasons: %w", err)
	}
	var parent sql.NullString
	if c.ParentID != "" {
		parent = sql.NullString{String: c.ParentID, Valid: true}
	}
	return []any{c.ID, c.SiteID, c.PageKey, parent, c.Depth, c.AuthorName, c.AuthorEmail,
		c.AuthorWebsite, c.Body, c.BodyHTML, string(c.Status), c.IP, c.UserAgent, reasons,
		micros(c.CreatedAt), micros(c.UpdatedAt), c.NotifyReplies, strings.ToLower(c.AuthorEmail)}, nil
}

const insertEventSQL = `
	INSERT INTO comment_events (comment_id, actor, action, from_status, to_status, at)
	VALUES (?, ?, ?, ?, ?, ?)`

func insertEvent(ctx context.Context, tx querier, e comment.Event) error {
	_, err := tx.ExecContext(ctx, insertEventSQL,
		e.CommentID, e.Actor, e.Action, string(e.FromStatus), string(e.ToStatus), micros(e.At))
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Action, mapErr(err))
	}
	return nil
}

func setStatus(ctx context.Context, tx *sql.Tx, ch comment.StatusChange) (comment.Comment, error) {
	c, err := findComment(ctx, tx, ch.ID)
	if err != nil {
		return comment.Comment{}, err
	}
	if c.Status == ch.To {
		return c, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE comments SET status = ?, updated_at = ? WHERE id = ?`,
		string(ch.To), micros(ch.At), ch.ID); err != nil {
		return comment.Comment{}, mapErr(err)
	}
	err = insertEvent(ctx, tx, comment.Event{
		CommentID: ch.ID, Actor: ch.Actor, Action: ch.Action,
		FromStatus: c.Status, ToStatus: ch.To, At: ch.At,
	})
	if err != nil {
		return comment.Comment{}, err
	}
	return findComment(ctx, tx, ch.ID)
}

func findComment(ctx context.Context, tx *sql.Tx, id string) (comment.Comment, error) {
	c, err := scanComment(tx.QueryRowContext(ctx, `SELECT `+commentColumns+` FROM comments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return comment.Comment{}, comment.ErrNotFound
	}
	return c, err
}

func findEvents(ctx context.Context, tx *sql.Tx, id string) ([]comment.Event, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT comment_id, actor, action, from_status, to_status, at
		FROM comment_events WHERE comment_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var events []comment.Event
	for rows.Next() {
		var (
			e        comment.Event
			from, to string
			at       int64
		)
		if err := rows.Scan(&e.CommentID, &e.Actor, &e.Action, &from, &to, &at); err != nil {
			return nil, mapErr(err)
		}
		e.FromStatus, e.ToStatus, e.At = comment.Status(from), comment.Status(to), fromMicros(at)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if len(events) == 0 {
		// Every stored comment has its submit event, so none means no comment;
		// check rather than assume, to tell "not found" from "no history".
		if _, err := findComment(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	return events, nil
}

func listComments(ctx context.Context, tx *sql.Tx, f comment.ListFilter) ([]comment.Comment, error) {
	plan, err := planList(ctx, tx, f)
	if err != nil {
		return nil, err
	}
	query, args := listQuery(f, plan)
	return queryComments(ctx, tx, query, args...)
}

// fewMatches is the number of search matches below which List starts from
// the matches (looking each up by rowid and sorting them) rather than walk
// a queue index in order until a page is full, which for a rare word means
// reading most of the queue. With 100,000 comments the two cost the same
// at about 500 matches.
const fewMatches = 1000

// listPlan is how List finds the rows, stated in the statement because
// SQLite, without statistics, cannot tell a rare author or word from a
// common one.
type listPlan int

const (
	// planQueue leaves the choice to SQLite: comments_queue,
	// comments_site_queue or comments_thread, walked in (created_at, id)
	// order from the cursor.
	planQueue listPlan = iota
	// planAuthor and planIP read the author's or address's range of
	// comments_author or comments_ip. On one site the range is in
	// (created_at, id) order; across sites its rows are sorted. SQLite would
	// otherwise prefer the ordered comments_queue and read the whole queue
	// to find a rare author's comments.
	planAuthor
	planIP
	// planMatches starts from the search matches, fewer than fewMatches.
	planMatches
)

// planList chooses how List finds the comments matching f.
func planList(ctx context.Context, tx *sql.Tx, f comment.ListFilter) (listPlan, error) {
	if m := matchExpr(f.Query); m != "" {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (
			SELECT 1 FROM comments_fts WHERE comments_fts MATCH ? LIMIT ?)`, m, fewMatches).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count search matches: %w", mapErr(err))
		}
		if n < fewMatches {
			return planMatches, nil
		}
	}
	switch {
	case f.AuthorEmail != "":
		return planAuthor, nil
	case f.IP != "":
		return planIP, nil
	}
	return planQueue, nil
}

// listQuery builds the statement List runs for f with the given plan. The
// filters are equalities on the leading columns of the queue indexes, then
// the keyset condition on their trailing (created_at, id); words are looked
// up in comments_fts.
func listQuery(f comment.ListFilter, plan listPlan) (string, []any) {
	var (
		where = []string{"status = ?"}
		args  = []any{string(f.Status)}
	)
	if len(f.SiteIDs) > 0 {
		where = append(where, "site_id IN ("+placeholders(len(f.SiteIDs))+")")
		for _, id := range f.SiteIDs {
			args = append(args, id)
		}
	}
	if f.PageKey != "" {
		where = append(where, "page_key = ?")
		args = append(args, f.PageKey)
	}
	if f.AuthorEmail != "" {
		where = append(where, "author_email_lower = ?")
		args = append(args, strings.ToLower(f.AuthorEmail))
	}
	if f.IP != "" {
		where = append(where, "ip = ?")
		args = append(args, f.IP)
	}
	if m := matchExpr(f.Query); m != "" {
		where = append(where, "rowid IN (SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?)")
		args = append(args, m)
	}
	if f.After != nil {
		where = append(where, "(created_at, id) > (?, ?)")
		args = append(args, micros(f.After.CreatedAt), f.After.ID)
	}
	args = append(args, f.Limit)
	from := map[listPlan]string{
		planQueue:   "comments",
		planAuthor:  "comments INDEXED BY comments_author",
		planIP:      "comments INDEXED BY comments_ip",
		planMatches: "comments NOT INDEXED", // rowid lookups only
	}[plan]
	return `SELECT ` + commentColumns + ` FROM ` + from + `
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY created_at, id LIMIT ?`, args
}

func countApproved(ctx context.Context, tx *sql.Tx, siteID string, keys []string, counts map[string]int) error {
	args := []any{siteID, string(comment.StatusApproved)}
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT page_key, count(*) FROM comments
		WHERE site_id = ? AND status = ? AND page_key IN (`+placeholders(len(keys))+`)
		GROUP BY page_key`, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key string
			n   int
		)
		if err := rows.Scan(&key, &n); err != nil {
			return mapErr(err)
		}
		counts[key] = n
	}
	return mapErr(rows.Err())
}

func queryComments(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]comment.Comment, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
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
	return cs, mapErr(rows.Err())
}

// scanComment reads one row of commentColumns.
func scanComment(row interface{ Scan(...any) error }) (comment.Comment, error) {
	var (
		c                comment.Comment
		parent           sql.NullString
		status, reasons  string
		created, updated int64
	)
	err := row.Scan(&c.ID, &c.SiteID, &c.PageKey, &parent, &c.Depth, &c.AuthorName, &c.AuthorEmail,
		&c.AuthorWebsite, &c.Body, &c.BodyHTML, &status, &c.IP, &c.UserAgent, &reasons, &created, &updated,
		&c.NotifyReplies)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return comment.Comment{}, err
		}
		return comment.Comment{}, mapErr(err)
	}
	if c.Reasons, err = unmarshalList[comment.Reason](reasons); err != nil {
		return comment.Comment{}, fmt.Errorf("decode reasons of comment %s: %w", c.ID, err)
	}
	c.ParentID = parent.String
	c.Status = comment.Status(status)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

// placeholders returns n comma-separated question marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
