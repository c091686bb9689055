package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// querier is what the statement helpers need of a transaction: *sql.Tx, or
// a preparedTx on the hot paths.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ querier = (*sql.Tx)(nil)
	_ querier = preparedTx{}
)

// statements keeps prepared statements of one pool by their SQL text.
// SQLite spends longer parsing the statements of a new comment than running
// them; database/sql prepares a statement once per connection and reuses it
// inside any transaction on that connection. The statements are prepared
// when the store opens: preparing later, from inside a transaction, would
// wait for a free connection of a pool that may have none (the writer pool
// has exactly one, held by that transaction).
type statements struct {
	m map[string]*sql.Stmt // read-only after newStatements
}

// Hot statements: a new comment's writes, and the idempotency key and
// duplicate checks that precede them.
var (
	hotWrites = []string{findSiteSQL, upsertPageSQL, insertCommentSQL, insertEventSQL, addRuleHitSQL, addRuleHitsSQL,
		savepointSQL, rollbackToSavepointSQL, releaseSavepointSQL, deleteExpiredKeySQL, insertKeySQL}
	hotReads = []string{duplicateQuery, findKeySQL}
)

func newStatements(ctx context.Context, db *sql.DB, queries []string) (*statements, error) {
	s := &statements{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", q, mapErr(err))
		}
		s.m[q] = st
	}
	return s, nil
}

// get returns the prepared statement for query, if it is one of them.
func (s *statements) get(query string) (*sql.Stmt, bool) {
	st, ok := s.m[query]
	return st, ok
}

// close finalises every statement.
func (s *statements) close() {
	for _, st := range s.m {
		_ = st.Close()
	}
}

// preparedTx runs statements through the cache inside tx.
type preparedTx struct {
	tx *sql.Tx
	st *statements
}

// The methods use the prepared statement when query is one, and run query
// on tx as it is otherwise.

func (p preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st, ok := p.st.get(query); ok {
		return p.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, query, args...)
}

func (p preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := p.st.get(query); ok {
		return p.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return p.tx.QueryContext(ctx, query, args...)
}

func (p preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := p.st.get(query); ok {
		return p.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, query, args...)
}
