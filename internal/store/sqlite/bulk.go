package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

var _ comment.BulkLoader = (*Store)(nil)

const (
	// bulkTxRows is how many comments BulkLoad writes per transaction into
	// a store that has comments already. Each commit writes every page the
	// batch changed to the WAL and then to the file, and rows spread over
	// the thread, author and IP indexes change most of their pages in any
	// batch, so fewer, larger batches write less.
	bulkTxRows = 100_000
	// bulkStmtRows is how many comments one INSERT carries: a statement
	// costs about the same crossing into SQLite whatever its size. 64 rows
	// of bulkValues values stay far below SQLite's limit of 32,766
	// parameters.
	bulkStmtRows = 64
	// bulkCacheKiB is the writer's page cache during a load (the default
	// is 2 MiB). A load changes hundreds of megabytes of pages, the indexes
	// all over; those that do not fit are written out before the commit,
	// and often read back and written again. The old size is restored
	// afterwards.
	bulkCacheKiB = 512 << 10
)

// bulkInsertColumns is the column list of the comments BulkLoad inserts,
// bulkValues columns long.
const (
	bulkInsertColumns = commentColumns + `, author_email_lower`
	bulkValues        = 18
)

// BulkLoad stores pages and comments as comment.BulkLoader describes. It
// holds the writer connection until it is done, so other writes wait for
// the load (and fail with comment.ErrUnavailable past the busy timeout).
//
// Into a store without comments, it loads everything in one transaction:
// it drops the indexes and triggers of comments, inserts the rows, then
// creates them again as they were and rebuilds the search index, since
// building an index from sorted rows costs far less than inserting rows
// one by one at random places of it. Into a store with comments, it writes
// transactions of bulkTxRows comments, each staged in a temporary table and
// then inserted with one statement (see bulkInsert).
func (s *Store) BulkLoad(ctx context.Context, pages []comment.Page, comments iter.Seq[comment.Comment]) error {
	return s.bulkLoad(ctx, pages, comments, bulkTxRows)
}

// bulkLoad is BulkLoad in batches of txRows comments.
func (s *Store) bulkLoad(ctx context.Context, pages []comment.Page, comments iter.Seq[comment.Comment], txRows int) error {
	next, stop := iter.Pull(comments)
	defer stop()
	src := &source{next: next}
	batch := src.take(txRows)
	at := time.Now()
	if len(batch) > 0 {
		at = batch[0].CreatedAt
	}

	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bulk load: %w", mapErr(err))
	}
	defer conn.Close()
	restore, err := loadSettings(ctx, conn)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer restore()

	loaded := 0
	err = runConn(ctx, conn, func(tx *sql.Tx) error {
		for _, p := range pages {
			if err := upsertPage(ctx, tx, p, at); err != nil {
				return fmt.Errorf("page %q of site %q: %w", p.Key, p.SiteID, err)
			}
		}
		if len(batch) == 0 {
			return nil
		}
		var empty bool
		if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM comments)`).Scan(&empty); err != nil {
			return fmt.Errorf("count comments: %w", mapErr(err))
		}
		if !empty {
			return nil
		}
		n, err := initialLoad(ctx, tx, batch, src, txRows)
		loaded, batch = n, nil
		return err
	})
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	for len(batch) > 0 {
		if err := runConn(ctx, conn, func(tx *sql.Tx) error { return bulkInsert(ctx, tx, batch) }); err != nil {
			return fmt.Errorf("bulk load comments %d to %d: %w", loaded+1, loaded+len(batch), err)
		}
		loaded += len(batch)
		batch = src.take(txRows)
	}
	return nil
}

// source hands out the comments of a load in batches.
type source struct {
	next func() (comment.Comment, bool)
	done bool
}

// take returns up to n more comments, none when there are no more.
func (s *source) take(n int) []comment.Comment {
	var out []comment.Comment
	for !s.done && len(out) < n {
		c, ok := s.next()
		if !ok {
			s.done = true
			break
		}
		out = append(out, c)
	}
	return out
}

// loadSettings gives the connection a page cache of bulkCacheKiB for a
// load and returns a function that sets it back and truncates the WAL,
// which a large transaction grows to the size of everything it wrote.
func loadSettings(ctx context.Context, conn *sql.Conn) (restore func(), err error) {
	var cache, busy int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return nil, fmt.Errorf("read cache size: %w", mapErr(err))
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
		return nil, fmt.Errorf("read busy timeout: %w", mapErr(err))
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -bulkCacheKiB)); err != nil {
		return nil, fmt.Errorf("grow cache: %w", mapErr(err))
	}
	return func() {
		// Even when ctx is cancelled: the connection goes back to the pool.
		ctx := context.WithoutCancel(ctx)
		_, _ = conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
		// Without waiting: a reader still on an older snapshot makes the
		// checkpoint give up at once, leaving the WAL as it is, which is
		// harmless.
		_, _ = conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`)
		_, _ = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		_, _ = conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, busy))
	}, nil
}

// runConn is run on a connection taken from the writer pool.
func runConn(ctx context.Context, conn *sql.Conn, fn func(tx *sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// initialLoad inserts batch and the rest of src into the empty comments
// table, without its indexes and triggers, then puts them back and fills
// the search index and the submit events from the rows, and deletes the
// notification jobs those events' trigger recorded (see bulkInsert). It
// returns how many comments it inserted.
func initialLoad(ctx context.Context, tx *sql.Tx, batch []comment.Comment, src *source, txRows int) (int, error) {
	// Every index and trigger of comments but the primary key, which the
	// replies' foreign key needs, and which has no SQL of its own.
	rows, err := tx.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
		WHERE tbl_name = 'comments' AND type IN ('index', 'trigger') AND sql IS NOT NULL
		ORDER BY type, name`)
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", mapErr(err))
	}
	defer rows.Close()
	type object struct{ kind, name, sql string }
	var objects []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.kind, &o.name, &o.sql); err != nil {
			return 0, fmt.Errorf("read schema: %w", mapErr(err))
		}
		objects = append(objects, o)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read schema: %w", mapErr(err))
	}
	for _, o := range objects {
		if _, err := tx.ExecContext(ctx, `DROP `+strings.ToUpper(o.kind)+` "`+o.name+`"`); err != nil {
			return 0, fmt.Errorf("drop %s %s: %w", o.kind, o.name, mapErr(err))
		}
	}

	n := 0
	for ; len(batch) > 0; batch = src.take(txRows) {
		if err := insertChunks(ctx, tx, "comments", batch); err != nil {
			return n, err
		}
		n += len(batch)
	}

	for _, o := range objects {
		if _, err := tx.ExecContext(ctx, o.sql); err != nil {
			return n, fmt.Errorf("create %s %s: %w", o.kind, o.name, mapErr(err))
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO comments_fts (comments_fts) VALUES ('rebuild')`); err != nil {
		return n, fmt.Errorf("rebuild search index: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO comment_events (comment_id, actor, action, from_status, to_status, at)
		SELECT id, 'system', 'submit', '', status, created_at FROM comments ORDER BY rowid`); err != nil {
		return n, fmt.Errorf("record submit events: %w", mapErr(err))
	}
	// The table was empty: every comment in it is the load's.
	if _, err := tx.ExecContext(ctx, `DELETE FROM notify_jobs WHERE comment_id IN (SELECT id FROM comments)`); err != nil {
		return n, fmt.Errorf("drop the load's notification jobs: %w", mapErr(err))
	}
	return n, nil
}

// bulkInsert inserts cs and their submit events in tx, and deletes the
// notification jobs the events' trigger recorded: loaded comments are
// imports or seeds, and no one is told of them. The rows go first
// into a temporary table, then into comments with one statement: each
// statement that writes to comments fires the search index's trigger and
// ends with the index writing what it gathered to a new segment, and the
// segments are merged as they accumulate, so one statement per batch
// rather than one per few rows saves most of the index's work.
func bulkInsert(ctx context.Context, tx *sql.Tx, cs []comment.Comment) error {
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE bulk_comments (`+bulkInsertColumns+`)`); err != nil {
		return fmt.Errorf("create staging table: %w", mapErr(err))
	}
	if err := insertChunks(ctx, tx, "temp.bulk_comments", cs); err != nil {
		return err
	}
	// In the order given (the staging table's rowid order), so that rowids
	// follow it as they would had the comments been submitted one by one.
	if _, err := tx.ExecContext(ctx, `INSERT INTO comments (`+bulkInsertColumns+`)
		SELECT `+bulkInsertColumns+` FROM temp.bulk_comments ORDER BY rowid`); err != nil {
		return fmt.Errorf("insert comments: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO comment_events (comment_id, actor, action, from_status, to_status, at)
		SELECT id, 'system', 'submit', '', status, created_at FROM temp.bulk_comments ORDER BY rowid`); err != nil {
		return fmt.Errorf("record submit events: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM notify_jobs WHERE comment_id IN (SELECT id FROM temp.bulk_comments)`); err != nil {
		return fmt.Errorf("drop the load's notification jobs: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE temp.bulk_comments`); err != nil {
		return fmt.Errorf("drop staging table: %w", mapErr(err))
	}
	return nil
}

// insertChunks inserts cs into table, bulkStmtRows rows per statement.
func insertChunks(ctx context.Context, tx *sql.Tx, table string, cs []comment.Comment) error {
	full := len(cs) - len(cs)%bulkStmtRows
	if err := insertEvenly(ctx, tx, table, cs[:full], bulkStmtRows); err != nil {
		return err
	}
	return insertEvenly(ctx, tx, table, cs[full:], len(cs)-full)
}

// insertEvenly inserts cs, whose length is a multiple of n, into table, n
// rows per statement.
func insertEvenly(ctx context.Context, tx *sql.Tx, table string, cs []comment.Comment, n int) error {
	if len(cs) == 0 {
		return nil
	}
	row := "(" + placeholders(bulkValues) + ")"
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+table+` (`+bulkInsertColumns+`) VALUES `+
		strings.TrimSuffix(strings.Repeat(row+",", n), ","))
	if err != nil {
		return fmt.Errorf("prepare insert: %w", mapErr(err))
	}
	defer stmt.Close()
	args := make([]any, 0, bulkValues*n)
	for start := 0; start < len(cs); start += n {
		rows := cs[start : start+n]
		args = args[:0]
		for _, c := range rows {
			if args, err = appendCommentArgs(args, c); err != nil {
				return err
			}
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert comments %s to %s: %w", rows[0].ID, rows[n-1].ID, mapErr(err))
		}
	}
	return nil
}

// appendCommentArgs appends the values of c in the order of
// bulkInsertColumns.
func appendCommentArgs(args []any, c comment.Comment) ([]any, error) {
	reasons, err := marshalList(c.Reasons)
	if err != nil {
		return nil, fmt.Errorf("encode reasons of comment %s: %w", c.ID, err)
	}
	var parent sql.NullString
	if c.ParentID != "" {
		parent = sql.NullString{String: c.ParentID, Valid: true}
	}
	return append(args,
		c.ID, c.SiteID, c.PageKey, parent, c.Depth, c.AuthorName, c.AuthorEmail,
		c.AuthorWebsite, c.Body, c.BodyHTML, string(c.Status), c.IP, c.UserAgent, reasons,
		micros(c.CreatedAt), micros(c.UpdatedAt), c.NotifyReplies, strings.ToLower(c.AuthorEmail)), nil
}
