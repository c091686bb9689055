package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
)

func openTemp(t testing.TB, opt Options) (*Store, string) {
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

// TestListPlans checks with EXPLAIN QUERY PLAN that each kind of queue
// query reads the index meant for it, and in (created_at, id) order where
// the index can give that order, so that no page reads the whole queue.
func TestListPlans(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(1500, 4)
	seedQueue(t, s, fx)
	one, two := []string{fx.Sites[0].ID}, []string{fx.Sites[0].ID, fx.Sites[1].ID}
	mid := fx.Comments[len(fx.Comments)/2]
	after := &comment.Cursor{CreatedAt: mid.CreatedAt, ID: mid.ID}
	pending := comment.StatusPending

	const sorted = "USE TEMP B-TREE FOR ORDER BY"
	tests := []struct {
		name     string
		f        comment.ListFilter
		wantPlan listPlan
		want     []string // in the plan
		wantNot  []string // not in the plan
	}{
		{"every site", comment.ListFilter{Status: pending}, planQueue,
			[]string{"USING INDEX comments_queue (status=?)"}, []string{sorted}},
		{"every site, deep", comment.ListFilter{Status: pending, After: after}, planQueue,
			[]string{"USING INDEX comments_queue (status=? AND (created_at,id)>(?,?))"}, []string{sorted}},
		{"one site, deep", comment.ListFilter{SiteIDs: one, Status: pending, After: after}, planQueue,
			[]string{"USING INDEX comments_site_queue (site_id=? AND status=? AND (created_at,id)>(?,?))"}, []string{sorted}},
		{"email on one site", comment.ListFilter{SiteIDs: one, Status: pending, AuthorEmail: storetest.SpammerEmail, After: after}, planAuthor,
			[]string{"USING INDEX comments_author (author_email_lower=? AND site_id=? AND status=? AND (created_at,id)>(?,?))"}, []string{sorted}},
		{"email on two sites", comment.ListFilter{SiteIDs: two, Status: pending, AuthorEmail: storetest.SpammerEmail}, planAuthor,
			[]string{"USING INDEX comments_author (author_email_lower=? AND site_id=? AND status=?)"}, nil},
		{"email on every site", comment.ListFilter{Status: pending, AuthorEmail: storetest.SpammerEmail}, planAuthor,
			[]string{"USING INDEX comments_author (author_email_lower=?)"}, nil},
		{"ip on one site", comment.ListFilter{SiteIDs: one, Status: pending, IP: storetest.SpammerIP}, planIP,
			[]string{"USING INDEX comments_ip (ip=? AND site_id=? AND status=?)"}, []string{sorted}},
		{"ip on every site", comment.ListFilter{Status: pending, IP: storetest.SpammerIP}, planIP,
			[]string{"USING INDEX comments_ip (ip=?)"}, nil},
		{"common word", comment.ListFilter{SiteIDs: one, Status: pending, Query: "reader"}, planQueue,
			[]string{"USING INDEX comments_site_queue (site_id=? AND status=?)", "comments_fts VIRTUAL TABLE"}, []string{sorted}},
		{"rare word", comment.ListFilter{SiteIDs: one, Status: pending, Query: "casino " + storetest.RareWord}, planMatches,
			[]string{"USING INTEGER PRIMARY KEY (rowid=?)", "comments_fts VIRTUAL TABLE"}, []string{"comments_queue", "comments_site_queue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Limit = 50
			var (
				plan   listPlan
				detail []string
			)
			err := s.read(ctx, func(tx *sql.Tx) (err error) {
				if plan, err = planList(ctx, tx, tt.f); err != nil {
					return err
				}
				query, args := listQuery(tt.f, plan)
				rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var (
						id, parent, unused int
						d                  string
					)
					if err := rows.Scan(&id, &parent, &unused, &d); err != nil {
						return err
					}
					detail = append(detail, d)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if plan != tt.wantPlan {
				t.Errorf("planList = %d, want %d", plan, tt.wantPlan)
			}
			text := strings.Join(detail, "\n")
			t.Logf("plan %d:\n%s", plan, text)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("query plan lacks %q:\n%s", w, text)
				}
			}
			for _, w := range append(tt.wantNot, "SCAN comments\n") {
				if strings.Contains(text+"\n", w) {
					t.Errorf("query plan has %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestSearchSurvivesVacuum checks that the search index, keyed by the
// comments' implicit rowids, still finds the right comments after VACUUM
// rebuilt the file, also when deletions left gaps in the rowids.
func TestSearchSurvivesVacuum(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(300, 1)
	seedQueue(t, s, fx)
	// Nothing deletes comments yet; a gap in the rowids is what VACUUM
	// would close if it renumbered them.
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM comments WHERE rowid BETWEEN 10 AND 20`); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.writer.ExecContext(ctx, `VACUUM`); err != nil {
		t.Fatalf("VACUUM: %v", err)
	}
	var want []string
	for i, c := range fx.Comments {
		deleted := i+1 >= 10 && i+1 <= 20 // rowids count from 1
		if !deleted && c.IP == storetest.SpammerIP {
			want = append(want, c.ID)
		}
	}
	got, err := s.List(ctx, comment.ListFilter{Status: comment.StatusPending, Query: "casino", Limit: 500})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var gotIDs []string
	for _, c := range got {
		gotIDs = append(gotIDs, c.ID)
		if !strings.Contains(c.Body, "casino") {
			t.Errorf("search for casino found %s: %q", c.ID, c.Body)
		}
	}
	if !slices.Equal(gotIDs, want) {
		t.Errorf("search after VACUUM = %q, want %q", gotIDs, want)
	}
}

// TestMigrationFillsNewColumns checks that comments written before the
// accounts and moderation migration can be found by email and by words
// after it.
func TestMigrationFillsNewColumns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, Options{BusyTimeout: time.Second}, true))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(lowerEmailsMigration()))
	if err != nil {
		t.Fatalf("goose: %v", err)
	}
	// Up and down again, so that the down migration is tried too.
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to version 2: %v", err)
	}
	id := uuid.Must(uuid.NewV7()).String()
	unicodeID := uuid.Must(uuid.NewV7()).String()
	for _, q := range []string{
		`INSERT INTO sites (id, name, created_at, updated_at) VALUES ('blog', 'Blog', 0, 0)`,
		`INSERT INTO pages (site_id, key, created_at) VALUES ('blog', '/a', 0)`,
		`INSERT INTO comments (id, site_id, page_key, depth, author_name, author_email, body, body_html, status, created_at, updated_at)
			VALUES ('` + id + `', 'blog', '/a', 1, 'Old Timer', 'Old.Timer@Example.ORG', 'Written before the upgrade.', '', 'pending', 0, 0)`,
		`INSERT INTO comments (id, site_id, page_key, depth, author_name, author_email, body, body_html, status, created_at, updated_at)
			VALUES ('` + unicodeID + `', 'blog', '/a', 1, 'Ödön', 'ÖDÖN.Ünal@Example.ORG', 'Also before it.', '', 'pending', 0, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	tests := []struct {
		name string
		f    comment.ListFilter
		want string
	}{
		{"email", comment.ListFilter{AuthorEmail: "old.timer@example.org"}, id},
		{"words", comment.ListFilter{Query: "upgrade timer"}, id},
		// Folded in Go by migration 9, whatever lower() of the database does.
		{"email outside ASCII", comment.ListFilter{AuthorEmail: "ödön.ünal@example.org"}, unicodeID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Status, tt.f.Limit = comment.StatusPending, 10
			got, err := s.List(ctx, tt.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(got) != 1 || got[0].ID != tt.want {
				t.Errorf("List found %d comments, want the old one", len(got))
			}
		})
	}
}

// BenchmarkQueue100k times the moderation queue's queries on 100,000
// pending comments over four sites (see storetest.QueueFixture).
func BenchmarkQueue100k(b *testing.B) {
	s, _ := openTemp(b, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(100_000, 4)
	seedQueue(b, s, fx)
	fx.Benchmark(b, s)
}

// seedQueue writes fx in one transaction, without the submit events that
// CreateComment would add; the triggers fill the search index as usual.
func seedQueue(tb testing.TB, s *Store, fx storetest.QueueFixture) {
	tb.Helper()
	ctx := context.Background()
	for _, site := range fx.Sites {
		if err := s.UpsertSite(ctx, site); err != nil {
			tb.Fatalf("UpsertSite: %v", err)
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, p := range fx.Pages {
			if err := upsertPage(ctx, tx, p, fx.Comments[0].CreatedAt); err != nil {
				return err
			}
		}
		for _, c := range fx.Comments {
			if err := insertComment(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("seed %d comments: %v", len(fx.Comments), err)
	}
}
