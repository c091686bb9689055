package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/commentd/commentd/internal/comment"
)

// TestPlainVector checks plainVector against what the database makes of
// the same words: it must give the very same tsvector when it claims to
// know it, and must not claim to for words the parser splits or that are
// beyond ASCII.
func TestPlainVector(t *testing.T) {
	s := openSchema(t)
	defer s.Close()
	ctx := context.Background()

	words := []string{
		"", "hello", "hello world", "abc 123 00123 zz", "0 00 007", "a b c", strings.Repeat("x", maxWordBytes),
		"12345678901234567890123456789", "the quick brown fox jumps over the lazy dog",
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		var ws []string
		for range 1 + rng.IntN(12) {
			alphabet := "abcdefghijklmnopqrstuvwxyz"
			if rng.IntN(3) == 0 {
				alphabet = "0123456789"
			}
			var w strings.Builder
			for range 1 + rng.IntN(9) {
				w.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
			ws = append(ws, w.String())
		}
		words = append(words, searchWords(strings.Join(ws, " ")))
	}
	var server []pgtype.TSVector
	err := s.pool.QueryRow(ctx, `SELECT array_agg(strip(to_tsvector('simple', w)) ORDER BY n)
		FROM unnest($1::text[]) WITH ORDINALITY AS u (w, n)`, words).Scan(&server)
	if err != nil {
		t.Fatalf("to_tsvector: %v", err)
	}
	for i, w := range words {
		got, ok := plainVector(w)
		if !ok {
			t.Errorf("plainVector(%.40q) is not sure; want it to be", w)
			continue
		}
		if !slices.Equal(lexemes(got), lexemes(server[i])) {
			t.Errorf("plainVector(%.40q) = %.80q, the database makes %.80q", w, lexemes(got), lexemes(server[i]))
		}
	}

	for _, w := range []string{
		"1e5e6", "v2", "abc123", "café", "zoë", "x1f", strings.Repeat("y", maxWordBytes+1),
		"fine words and one 5e3x", strings.Repeat("word ", maxPlainText/5+1),
	} {
		if _, ok := plainVector(w); ok {
			t.Errorf("plainVector(%.40q) claims to know the tsvector; want it to leave it to the database", w)
		}
	}
}

func lexemes(v pgtype.TSVector) []string {
	out := make([]string, len(v.Lexemes))
	for i, l := range v.Lexemes {
		out[i] = l.Word
	}
	return out
}

// schemaOf returns the definitions of the indexes and constraints of the
// comment tables.
func schemaOf(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `
		SELECT indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename IN ('comments', 'comment_events')
		UNION ALL
		SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid IN ('comments'::regclass, 'comment_events'::regclass)
		ORDER BY 1`)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBulkLoadKeepsSchema: a load into an empty store, which rebuilds the
// indexes and foreign keys, leaves them as they were, whether it fails (on
// a foreign key checked only at the end) or succeeds.
func TestBulkLoadKeepsSchema(t *testing.T) {
	ctx := context.Background()
	s := openSchema(t)
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("UpsertSite: %v", err)
	}
	before := schemaOf(t, s)
	if len(before) < 10 {
		t.Fatalf("schema has %d indexes and constraints; the query misses some", len(before))
	}
	mk := func(key, parent string) comment.Comment {
		return comment.Comment{
			ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: key, ParentID: parent, Depth: 1,
			AuthorName: "Reader", AuthorEmail: "reader@example.org", Body: "Hello.",
			Status: comment.StatusPending, CreatedAt: now, UpdatedAt: now,
		}
	}
	pages := []comment.Page{{SiteID: "blog", Key: "/a"}}
	tests := []struct {
		name string
		cs   []comment.Comment
		want error
	}{
		{"unknown parent", []comment.Comment{mk("/a", ""), mk("/a", uuid.NewString())}, comment.ErrNotFound},
		{"unknown page", []comment.Comment{mk("/a", ""), mk("/missing", "")}, comment.ErrNotFound},
		{"loaded", []comment.Comment{mk("/a", ""), mk("/a", "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.BulkLoad(ctx, pages, slices.Values(tt.cs)); !errors.Is(err, tt.want) {
				t.Fatalf("BulkLoad error = %v, want %v", err, tt.want)
			}
			if got := schemaOf(t, s); !slices.Equal(got, before) {
				t.Errorf("schema after the load:\n%q\nwant:\n%q", got, before)
			}
		})
	}
}
