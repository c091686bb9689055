package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
)

// schema returns every object of the database with its SQL.
func schema(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.reader.QueryContext(context.Background(),
		`SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIntegrity runs SQLite's own checks of the file and of the search
// index against the comments it indexes.
func checkIntegrity(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	var result string
	if err := s.reader.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		t.Errorf("integrity_check = %q, %v", result, err)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO comments_fts (comments_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("search index integrity-check: %v", err)
	}
}

// TestBulkLoadBatches loads into an empty store and then into one with
// comments, in batches of a few comments with replies across them, and
// checks that the schema, the search index and the writer's settings are
// as before.
func TestBulkLoadBatches(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog", CreatedAt: start, UpdatedAt: start}); err != nil {
		t.Fatalf("UpsertSite: %v", err)
	}
	before := schema(t, s)
	pages := []comment.Page{{SiteID: "blog", Key: "/a"}, {SiteID: "blog", Key: "/b"}}
	var made []comment.Comment
	load := func(count int) []comment.Comment {
		from := len(made)
		for n := from; n < from+count; n++ {
			c := comment.Comment{
				ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: pages[n%2].Key, Depth: 1,
				AuthorName: "Reader", AuthorEmail: "reader@example.org",
				Body: fmt.Sprintf("Comment %d about kelp.", n), Status: comment.StatusApproved,
				CreatedAt: start.Add(time.Duration(n) * time.Minute),
			}
			c.UpdatedAt = c.CreatedAt
			if n >= 2 {
				// A reply to the comment before last, on the same page,
				// which may be in an earlier batch or load.
				c.ParentID, c.Depth = made[n-2].ID, 2
			}
			made = append(made, c)
		}
		return made[from:]
	}
	first, second := load(50), load(30)

	tests := []struct {
		name string
		cs   []comment.Comment
	}{
		{"into the empty store", first},
		{"into the store with comments", second},
	}
	loaded := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.bulkLoad(ctx, pages, slices.Values(tt.cs), 7); err != nil {
				t.Fatalf("bulkLoad: %v", err)
			}
			loaded += len(tt.cs)
			counts, err := s.CountApproved(ctx, "blog", []string{"/a", "/b"})
			if err != nil {
				t.Fatalf("CountApproved: %v", err)
			}
			if got := counts["/a"] + counts["/b"]; got != loaded {
				t.Errorf("CountApproved total = %d, want %d", got, loaded)
			}
			found, err := s.List(ctx, comment.ListFilter{Status: comment.StatusApproved, Query: "kelp", Limit: 500})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(found) != loaded {
				t.Errorf("search found %d comments, want %d", len(found), loaded)
			}
			last := tt.cs[len(tt.cs)-1]
			if h, err := s.History(ctx, last.ID); err != nil || len(h) != 1 || h[0].Action != "submit" {
				t.Errorf("History(last) = %+v, %v; want its submit event", h, err)
			}
			if got := schema(t, s); !slices.Equal(got, before) {
				t.Errorf("schema after the load:\n%q\nwant:\n%q", got, before)
			}
			var cache int
			if err := s.writer.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil || cache != -2000 {
				t.Errorf("writer cache_size = %d, %v; want the default -2000", cache, err)
			}
			checkIntegrity(t, s)
		})
	}
}

// TestBulkLoadFailureKeepsSchema: a load into an empty store that fails
// (here at the last comment, whose page does not exist) leaves nothing
// behind, the indexes and triggers included.
func TestBulkLoadFailureKeepsSchema(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("UpsertSite: %v", err)
	}
	before := schema(t, s)
	var cs []comment.Comment
	for i := range 20 {
		key := "/a"
		if i == 19 {
			key = "/missing"
		}
		cs = append(cs, comment.Comment{
			ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: key, Depth: 1,
			AuthorName: "Reader", AuthorEmail: "reader@example.org", Body: "Hello.",
			Status: comment.StatusPending, CreatedAt: now, UpdatedAt: now,
		})
	}
	err := s.bulkLoad(ctx, []comment.Page{{SiteID: "blog", Key: "/a"}}, slices.Values(cs), 7)
	if !errors.Is(err, comment.ErrNotFound) {
		t.Fatalf("bulkLoad error = %v, want ErrNotFound", err)
	}
	if got := schema(t, s); !slices.Equal(got, before) {
		t.Errorf("schema after the failed load:\n%q\nwant:\n%q", got, before)
	}
	if _, err := s.Comment(ctx, cs[0].ID); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("Comment(first of the failed load) error = %v, want ErrNotFound", err)
	}
	checkIntegrity(t, s)
}
