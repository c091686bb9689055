package postgres

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/commentd/commentd/internal/comment"
)

var _ comment.BulkLoader = (*Store)(nil)

// copyColumns are the columns of comments that BulkLoad copies, in the
// order of the values it sends.
var copyColumns = []string{
	"id", "site_id", "page_key", "parent_id", "depth", "author_name", "author_email",
	"author_website", "body", "body_html", "status", "ip", "user_agent", "reasons",
	"created_at", "updated_at", "notify_replies", "author_email_lower", "search",
}

// BulkLoad stores pages and comments as comment.BulkLoader describes, in
// one transaction: the comments, then their submit events, are copied into
// their tables (COPY, binary), streamed as comments yields them. COPY
// cannot compute the search column as insertComment has the database do,
// so BulkLoad builds it where it can tell what the database would make of
// the words (see plainVector), and has the database compute it for the
// other comments afterwards.
//
// Into a store without comments, it drops the foreign keys and secondary
// indexes of comments and comment_events and creates them again once the
// rows are in (see initialLoad). After the commit it vacuums and analyzes
// the tables it wrote to.
func (s *Store) BulkLoad(ctx context.Context, pages []comment.Page, comments iter.Seq[comment.Comment]) error {
	next, stop := iter.Pull(comments)
	defer stop()
	first, ok := next()
	at := time.Now()
	if ok {
		at = first.CreatedAt
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		for _, p := range pages {
			if err := upsertPage(ctx, tx, p, at); err != nil {
				return fmt.Errorf("page %q of site %q: %w", p.Key, p.SiteID, err)
			}
		}
		if !ok {
			return nil
		}
		rebuild, err := initialLoad(ctx, tx)
		if err != nil {
			return err
		}
		if err := bulkInsert(ctx, tx, first, next); err != nil {
			return err
		}
		for _, def := range rebuild {
			if _, err := tx.Exec(ctx, def); err != nil {
				return fmt.Errorf("%s: %w", def, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	// As autovacuum would, but before the first request rather than up to
	// a minute later (or never, where it is off): statistics that know the
	// new rows for the planner, and the visibility map set on their pages
	// so that index-only scans need not visit them.
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) comments, comment_events, pages`); err != nil {
		return fmt.Errorf("bulk load: stored, but vacuum failed: %w", mapErr(err))
	}
	return nil
}

// initialLoad prepares tx for loading into comments when it has no rows
// (so that comment_events has none either): it locks both tables (readers
// too wait for the load), drops their foreign keys and the indexes that
// back no constraint, and returns the statements that create them again as
// they were. Building an index from all its rows at once sorts them, and
// checking a foreign key for all rows at once joins the tables, which costs
// far less than inserting each row at a random place of every index and
// looking up each row's references one by one. Primary keys stay, so that
// a duplicate id fails as it would otherwise. For a table with rows it does
// nothing.
func initialLoad(ctx context.Context, tx pgx.Tx) ([]string, error) {
	empty := func() (bool, error) {
		var empty bool
		err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM comments)`).Scan(&empty)
		return empty, err
	}
	if ok, err := empty(); err != nil || !ok {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE comments, comment_events IN ACCESS EXCLUSIVE MODE`); err != nil {
		return nil, fmt.Errorf("lock comments: %w", err)
	}
	// Another load may have written rows before the lock was granted.
	if ok, err := empty(); err != nil || !ok {
		return nil, err
	}
	// Foreign keys first: they are dropped first and created last, once
	// the indexes that their checks may use are there again.
	rows, err := tx.Query(ctx, `
		SELECT 1, 'ALTER TABLE ' || conrelid::regclass::text || ' DROP CONSTRAINT ' || quote_ident(conname),
			'ALTER TABLE ' || conrelid::regclass::text || ' ADD CONSTRAINT ' || quote_ident(conname)
				|| ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint
		WHERE conrelid IN ('comments'::regclass, 'comment_events'::regclass) AND contype = 'f'
		UNION ALL
		SELECT 2, 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid IN ('comments'::regclass, 'comment_events'::regclass)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	type object struct{ drop, create string }
	objects, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (object, error) {
		var (
			o     object
			order int
		)
		err := r.Scan(&order, &o.drop, &o.create)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	create := make([]string, len(objects))
	for i, o := range objects {
		if _, err := tx.Exec(ctx, o.drop); err != nil {
			return nil, fmt.Errorf("%s: %w", o.drop, err)
		}
		create[len(objects)-1-i] = o.create
	}
	// Memory for sorting while building the indexes, for this transaction.
	if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
		return nil, fmt.Errorf("set maintenance_work_mem: %w", err)
	}
	return create, nil
}

// submit is what a comment's submit event needs.
type submit struct {
	id     string
	status comment.Status
	at     time.Time
}

// bulkInsert copies first and the comments next returns into comments, then
// their submit events into comment_events, and deletes the notification
// jobs the events' trigger recorded: loaded comments are imports or seeds,
// and no one is told of them.
func bulkInsert(ctx context.Context, tx pgx.Tx, first comment.Comment, next func() (comment.Comment, bool)) error {
	var (
		events     []submit
		ids, texts []string // comments whose words the database must index
		pending    = &first
	)
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		c, ok := comment.Comment{}, true
		if pending != nil {
			c, pending = *pending, nil
		} else if c, ok = next(); !ok {
			return nil, nil
		}
		reasons, err := marshalList(c.Reasons)
		if err != nil {
			return nil, fmt.Errorf("encode reasons of comment %s: %w", c.ID, err)
		}
		var parent *string
		if c.ParentID != "" {
			parent = &c.ParentID
		}
		words := searchText(c.AuthorName, c.Body)
		search, plain := plainVector(words)
		if !plain {
			// Empty for now; filled in after the copy.
			search = pgtype.TSVector{Valid: true}
			ids, texts = append(ids, c.ID), append(texts, words)
		}
		events = append(events, submit{id: c.ID, status: c.Status, at: c.CreatedAt})
		return []any{
			c.ID, c.SiteID, c.PageKey, parent, c.Depth, c.AuthorName, c.AuthorEmail,
			c.AuthorWebsite, c.Body, c.BodyHTML, string(c.Status), c.IP, c.UserAgent, reasons,
			c.CreatedAt, c.UpdatedAt, c.NotifyReplies, strings.ToLower(c.AuthorEmail), search,
		}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"comments"}, copyColumns, rows); err != nil {
		return fmt.Errorf("copy comments: %w", err)
	}
	if len(ids) > 0 {
		_, err := tx.Exec(ctx, `UPDATE comments AS c SET search = strip(to_tsvector('simple', u.words))
			FROM unnest($1::text[], $2::text[]) AS u (id, words) WHERE c.id = u.id`, ids, texts)
		if err != nil {
			return fmt.Errorf("index the words of %d comments: %w", len(ids), err)
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"comment_events"},
		[]string{"comment_id", "actor", "action", "from_status", "to_status", "at"},
		pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
			e := events[i]
			return []any{e.id, "system", "submit", "", string(e.status), e.at}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy submit events: %w", err)
	}
	loaded := make([]string, len(events))
	for i, e := range events {
		loaded[i] = e.id
	}
	if _, err := tx.Exec(ctx, `DELETE FROM notify_jobs WHERE comment_id = ANY($1::text[])`, loaded); err != nil {
		return fmt.Errorf("drop the load's notification jobs: %w", err)
	}
	return nil
}

// maxPlainText bounds the words plainVector turns into a tsvector itself,
// far below the 1 MB a tsvector may take, which the database enforces.
const maxPlainText = 64 << 10

// plainVector returns the tsvector that strip(to_tsvector('simple', words))
// gives for words (lower-cased, as searchText returns them), or false if
// it cannot be sure of it. It is sure only when every word is all ASCII
// letters or all ASCII digits: the text search parser reads such a word
// whole (an ASCII word or an unsigned integer), and the simple dictionary
// keeps it as it is. Other words are not safe: the parser reads "1e5e6" as
// "1e5" and "e6", and what it takes for a letter beyond ASCII depends on
// the database's locale. TestPlainVector holds it to the database's word.
func plainVector(words string) (pgtype.TSVector, bool) {
	if len(words) > maxPlainText {
		return pgtype.TSVector{}, false
	}
	list := strings.Fields(words)
	for _, w := range list {
		if len(w) > maxWordBytes || !(allIn(w, 'a', 'z') || allIn(w, '0', '9')) {
			return pgtype.TSVector{}, false
		}
	}
	// A tsvector's lexemes are distinct and sorted by their bytes.
	slices.Sort(list)
	list = slices.Compact(list)
	lexemes := make([]pgtype.TSVectorLexeme, len(list))
	for i, w := range list {
		lexemes[i] = pgtype.TSVectorLexeme{Word: w}
	}
	return pgtype.TSVector{Lexemes: lexemes, Valid: true}, true
}

// allIn reports whether every byte of s is in lo..hi.
func allIn(s string, lo, hi byte) bool {
	for i := range len(s) {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}
