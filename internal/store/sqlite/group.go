package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/commentd/commentd/internal/comment"
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// Group commit. With synchronous=FULL every commit waits for the disk to
// flush the log, which takes longer than the work of one submission. So
// submissions are not committed one by one: a single committer takes every
// write queued while the previous commit was flushing (at most maxGroup),
// runs them in one transaction, commits once, and only then answers each
// caller. Under light load a group holds one write and waits for nothing;
// under a wave of submissions the groups grow with the wave, and one flush
// acknowledges them all. A write that fails fails alone (see commit); a
// commit that fails fails every write in the group, and none of them is
// acknowledged.

const (
	savepointSQL           = "SAVEPOINT grouped_write"
	rollbackToSavepointSQL = "ROLLBACK TO grouped_write"
	releaseSavepointSQL    = "RELEASE grouped_write"
)

// groupedWrite is one new comment waiting for the committer, with the
// idempotency key it was submitted with, if any.
type groupedWrite struct {
	ctx  context.Context
	c    comment.Comment
	p    comment.Page
	k    *comment.IdempotencyKey // nil: none
	done chan error              // buffered: the committer never blocks on a caller
}

// committer runs group commits for one Store.
type committer struct {
	db       *sql.DB
	stmts    *statements // prepared on db
	queue    chan *groupedWrite
	stop     chan struct{}
	stopOnce sync.Once
	finished chan struct{} // closed when the committer has exited
}

func newCommitter(db *sql.DB, stmts *statements) *committer {
	c := &committer{db: db, stmts: stmts, queue: make(chan *groupedWrite, maxGroup), stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(c.finished)
		c.loop()
	}()
	return c
}

// close ends the committer: the group being written is finished, the
// writes still queued fail. Calling it again does nothing.
func (c *committer) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.finished
}

// write queues a new comment, its page and its idempotency key (nil for
// none) and waits until the group holding them is committed (nil) or has
// failed. If ctx ends before the committer takes them up, nothing is
// written and ctx's error is returned; after that, the caller waits for the
// commit, so that a write is never reported lost while it may yet be
// committed.
func (c *committer) write(ctx context.Context, cm comment.Comment, p comment.Page, k *comment.IdempotencyKey) error {
	w := &groupedWrite{ctx: ctx, c: cm, p: p, k: k, done: make(chan error, 1)}
	select {
	case c.queue <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errClosed
	}
	select {
	case err := <-w.done:
		return err
	case <-c.finished:
		// The committer exited; it answers every write it took up before
		// it does, so one still unanswered was never run.
		select {
		case err := <-w.done:
			return err
		default:
			return errClosed
		}
	}
}

var errClosed = fmt.Errorf("sqlite store is closed: %w", comment.ErrUnavailable)

func (c *committer) loop() {
	group := make([]*groupedWrite, 0, maxGroup)
	for {
		select {
		case w := <-c.queue:
			group = append(group[:0], w)
		case <-c.stop:
			c.drain()
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-c.queue:
				group = append(group, w)
			default:
				break more
			}
		}
		c.commit(group)
	}
}

// drain fails the writes still queued at close.
func (c *committer) drain() {
	for {
		select {
		case w := <-c.queue:
			w.done <- errClosed
		default:
			return
		}
	}
}

// commit writes the group in one transaction. The fast way inserts every
// comment, page and event of the group with one statement per table (the
// full-text index, among others, is then updated once per group rather than
// once per comment). If that fails, the transaction is rolled back and the
// group written again one comment at a time, each in a savepoint, so that a
// failing comment fails alone. The transaction and every statement in it
// run under a context that is never cancelled: SQLite answers an
// interrupted statement by rolling back the whole transaction, which would
// take the other callers' writes with it. A comment's idempotency key goes
// with it both ways: in the fast way's statements, and in its savepoint.
// Two writes of one group with the same key fail the fast way; one by
// one, the first is stored and the second fails alone with
// comment.ErrConflict, as it would have in a group of its own.
func (c *committer) commit(group []*groupedWrite) {
	results := make([]error, len(group))
	err := c.runGroup(group, results, false)
	if errors.Is(err, errBatchFailed) {
		clear(results)
		err = c.runGroup(group, results, true)
	}
	for i, w := range group {
		switch {
		case results[i] != nil:
			w.done <- results[i]
		case err != nil:
			w.done <- err
		default:
			w.done <- nil
		}
	}
}

// errBatchFailed ends a fast group run whose statements failed.
var errBatchFailed = errors.New("batched insert failed")

// runGroup writes every comment of the group whose caller is still waiting
// in one transaction and commits it, setting results[i] to the error of
// comment i. The fast way (one by one false) returns errBatchFailed if its
// statements fail. Any other error is the transaction's, and nothing of the
// group is committed.
func (c *committer) runGroup(group []*groupedWrite, results []error, oneByOne bool) error {
	ctx := context.Background()
	return run(ctx, c.db, func(sqlTx *sql.Tx) error {
		tx := preparedTx{sqlTx, c.stmts}
		live := make([]*groupedWrite, 0, len(group))
		for i, w := range group {
			if err := w.ctx.Err(); err != nil {
				results[i] = err // its caller has gone: do not start it
				continue
			}
			live = append(live, w)
		}
		if !oneByOne {
			if err := insertBatch(ctx, tx, live); err != nil {
				return fmt.Errorf("%w: %w", errBatchFailed, err)
			}
			return nil
		}
		for i, w := range group {
			if results[i] != nil {
				continue
			}
			failed, err := savepoint(ctx, tx, func(ctx context.Context, tx querier) error {
				if err := createComment(ctx, tx, w.c, w.p); err != nil {
					return err
				}
				if w.k == nil {
					return nil
				}
				return insertKey(ctx, tx, *w.k)
			})
			if err != nil {
				return err // the transaction is in doubt: fail the group
			}
			results[i] = failed
		}
		return nil
	})
}

// savepoint runs fn so that, if it fails, what it wrote is undone and the
// rest of the transaction stands: failed is fn's error. err is set when the
// savepoint itself could not be made, undone or released, and then the
// whole transaction must be abandoned.
func savepoint(ctx context.Context, tx querier, fn func(ctx context.Context, tx querier) error) (failed, err error) {
	if _, err := tx.ExecContext(ctx, savepointSQL); err != nil {
		return nil, fmt.Errorf("savepoint: %w", mapErr(err))
	}
	if failed = fn(ctx, tx); failed != nil {
		if _, err := tx.ExecContext(ctx, rollbackToSavepointSQL); err != nil {
			return failed, fmt.Errorf("roll back to savepoint after %w: %w", failed, mapErr(err))
		}
	}
	if _, err := tx.ExecContext(ctx, releaseSavepointSQL); err != nil {
		return failed, fmt.Errorf("release savepoint: %w", mapErr(err))
	}
	return failed, nil
}

// insertBatch writes the comments of a group, their pages, their submit
// events, their idempotency keys and their rule hits with one statement per
// table. A key already stored, even an expired one, fails the statement:
// the group is then written one by one, where an expired key is replaced.
func insertBatch(ctx context.Context, tx querier, group []*groupedWrite) error {
	if len(group) == 0 {
		return nil
	}
	var (
		pages, comments, events, keys strings.Builder
		pageArgs, commentArgs         []any
		eventArgs, keyArgs            []any
		hits                          = map[[2]string]int{}
	)
	pages.WriteString(`INSERT INTO pages (site_id, key, url, title, created_at) VALUES `)
	comments.WriteString(`INSERT INTO comments (` + commentColumns + `, author_email_lower) VALUES `)
	events.WriteString(`INSERT INTO comment_events (comment_id, actor, action, from_status, to_status, at) VALUES `)
	for i, w := range group {
		if i > 0 {
			pages.WriteByte(',')
			comments.WriteByte(',')
			events.WriteByte(',')
		}
		c := w.c
		pages.WriteString(`(?, ?, ?, ?, ?)`)
		pageArgs = append(pageArgs, c.SiteID, c.PageKey, w.p.URL, w.p.Title, micros(c.CreatedAt))
		args, err := commentValues(c)
		if err != nil {
			return err
		}
		comments.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		commentArgs = append(commentArgs, args...)
		events.WriteString(`(?, 'system', 'submit', '', ?, ?)`)
		eventArgs = append(eventArgs, c.ID, string(c.Status), micros(c.CreatedAt))
		for _, rule := range firedRules(reasonRules(c.Reasons)) {
			hits[[2]string{c.SiteID, rule}]++
		}
		if w.k != nil {
			if len(keyArgs) == 0 {
				keys.WriteString(insertKeyPrefix)
			} else {
				keys.WriteByte(',')
			}
			keys.WriteString(keyValuesRow)
			keyArgs = append(keyArgs, keyValues(*w.k)...)
		}
	}
	pages.WriteString(upsertPageConflict)
	type statement struct {
		sql  string
		args []any
	}
	stmts := []statement{{pages.String(), pageArgs}, {comments.String(), commentArgs}, {events.String(), eventArgs}}
	if len(keyArgs) > 0 {
		stmts = append(stmts, statement{keys.String(), keyArgs})
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt.sql, stmt.args...); err != nil {
			return mapErr(err)
		}
	}
	return addRuleHitCounts(ctx, tx, hits)
}
