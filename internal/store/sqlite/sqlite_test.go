package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
)

func openTemp(t *testing.T, opt Options) (*Store, string) {
	t.Helper()
	// A directory that does not exist yet: Open must create it.
	path := filepath.Join(t.TempDir(), "data", "commentd.db")
	s, err := Open(context.Background(), path, opt)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) comment.Store {
		s, _ := openTemp(t, Options{})
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	site := comment.Site{ID: "blog", Name: "Blog", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.UpsertSite(ctx, site); err != nil {
		t.Fatalf("UpsertSite: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := Open(ctx, path, Options{}) // migrations already applied: a no-op
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Site(ctx, "blog")
	if err != nil {
		t.Fatalf("Site after reopen: %v", err)
	}
	if got.Name != "Blog" {
		t.Errorf("Name = %q, want %q", got.Name, "Blog")
	}
}

func TestSecretSharedByStoresOnOneFile(t *testing.T) {
	a, path := openTemp(t, Options{})
	defer a.Close()
	// A second instance on the same file, as another process would open it.
	b, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("second Open(%s): %v", path, err)
	}
	defer b.Close()
	storetest.CheckSameSecret(t, a, b)
}

func TestPragmas(t *testing.T) {
	s, _ := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := s.writer.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if strings.ToLower(got) != tt.want {
				t.Errorf("writer PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestLockedDatabaseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{BusyTimeout: 200 * time.Millisecond})
	defer s.Close()
	site := comment.Site{ID: "blog", Name: "Blog"}
	if err := s.UpsertSite(ctx, site); err != nil {
		t.Fatalf("UpsertSite: %v", err)
	}

	// Another process's writer, holding the write lock.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("open second connection: %v", err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatalf("second connection: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	c := comment.Comment{
		ID: uuid.Must(uuid.NewV7()).String(), SiteID: "blog", PageKey: "/a", Depth: 1,
		AuthorName: "Ada", AuthorEmail: "ada@example.org", Body: "Hi", BodyHTML: "<p>Hi</p>",
		Status: comment.StatusPending, CreatedAt: now, UpdatedAt: now,
	}
	page := comment.Page{SiteID: "blog", Key: "/a"}

	start := time.Now()
	err = s.CreateComment(ctx, c, page)
	if !errors.Is(err, comment.ErrUnavailable) {
		t.Fatalf("CreateComment while locked: error = %v, want ErrUnavailable", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("CreateComment gave up after %v, want it to wait about the 200ms busy timeout", waited)
	}
	if _, err := s.Comment(ctx, c.ID); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("Comment after the failed write: error = %v, want ErrNotFound", err)
	}

	_, err = s.Secret(ctx, "hmac", func() ([]byte, error) { return []byte("k"), nil })
	if !errors.Is(err, comment.ErrUnavailable) {
		t.Errorf("Secret while locked: error = %v, want ErrUnavailable", err)
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("ROLLBACK: %v", err)
	}
	if err := s.CreateComment(ctx, c, page); err != nil {
		t.Fatalf("CreateComment after the lock was released: %v", err)
	}
	if _, err := s.Comment(ctx, c.ID); err != nil {
		t.Errorf("Comment after the successful write: %v", err)
	}
}
