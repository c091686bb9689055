package postgres

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
	"github.com/commentd/commentd/internal/testenv"
)

// openSchema opens a store on a fresh schema of the test database, dropped
// when the test ends.
func openSchema(t testing.TB) *Store {
	t.Helper()
	base := testenv.PostgresURL(t)
	schema := testenv.UniqueName("t_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) comment.Store { return openSchema(t) })
}

// openAgain opens a second store on the schema of s, as another instance
// sharing the database would.
func openAgain(t *testing.T, s *Store) *Store {
	t.Helper()
	ctx := context.Background()
	var schema string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatalf("current_schema: %v", err)
	}
	u, _ := url.Parse(testenv.PostgresURL(t))
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	again, err := Open(ctx, u.String())
	if err != nil {
		t.Fatalf("second Open on a migrated schema: %v", err)
	}
	return again
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	s := openSchema(t)
	defer s.Close()
	again := openAgain(t, s)
	defer again.Close()
	if err := again.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestSecretSharedByStoresOnOneSchema(t *testing.T) {
	a := openSchema(t)
	defer a.Close()
	b := openAgain(t, a)
	defer b.Close()
	storetest.CheckSameSecret(t, a, b)
}

func TestUnreachableIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there, so the connection is refused.
	_, err := Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, comment.ErrUnavailable) {
		t.Errorf("Open(unreachable) error = %v, want ErrUnavailable", err)
	}
}

// TestMigrationFillsNewColumns checks that comments written before the
// accounts and moderation migration can be found by email and by words
// after it.
func TestMigrationFillsNewColumns(t *testing.T) {
	ctx := context.Background()
	s := openSchema(t)
	// Start again from version 2, on the schema openSchema made.
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(lowerEmailsMigration()))
	if err != nil {
		t.Fatalf("goose: %v", err)
	}
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to version 2: %v", err)
	}
	db.Close()
	id := uuid.Must(uuid.NewV7()).String()
	unicodeID := uuid.Must(uuid.NewV7()).String()
	for _, q := range []string{
		`INSERT INTO sites (id, name, created_at, updated_at) VALUES ('blog', 'Blog', now(), now())`,
		`INSERT INTO pages (site_id, key, created_at) VALUES ('blog', '/a', now())`,
		`INSERT INTO comments (id, site_id, page_key, depth, author_name, author_email, body, body_html, status, created_at, updated_at)
			VALUES ('` + id + `', 'blog', '/a', 1, 'Old Timer', 'Old.Timer@Example.ORG', 'Written before the upgrade.', '', 'pending', now(), now())`,
		`INSERT INTO comments (id, site_id, page_key, depth, author_name, author_email, body, body_html, status, created_at, updated_at)
			VALUES ('` + unicodeID + `', 'blog', '/a', 1, 'Ödön', 'ÖDÖN.Ünal@Example.ORG', 'Also before it.', '', 'pending', now(), now())`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	upgraded := openAgain(t, s) // migrates to the latest version
	s.Close()
	s = upgraded
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
	s := openSchema(b)
	defer s.Close()
	fx := storetest.NewQueueFixture(100_000, 4)
	seedQueue(b, s, fx)
	fx.Benchmark(b, s)
}

// seedQueue writes fx with COPY, without the submit events that
// CreateComment would add, then vacuums and analyzes the comments as
// autovacuum would have in a database that grew to this size.
func seedQueue(tb testing.TB, s *Store, fx storetest.QueueFixture) {
	tb.Helper()
	ctx := context.Background()
	for _, site := range fx.Sites {
		if err := s.UpsertSite(ctx, site); err != nil {
			tb.Fatalf("UpsertSite: %v", err)
		}
	}
	columns := []string{"id", "site_id", "page_key", "depth", "author_name", "author_email", "author_website",
		"body", "body_html", "status", "ip", "user_agent", "created_at", "updated_at", "author_email_lower", "search_text"}
	err := s.write(ctx, func(tx pgx.Tx) error {
		for _, p := range fx.Pages {
			if err := upsertPage(ctx, tx, p, fx.Comments[0].CreatedAt); err != nil {
				return err
			}
		}
		// The search column is computed by the database from the words, as
		// insertComment has it computed; COPY cannot call a function.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE staged_comments (LIKE comments INCLUDING DEFAULTS) ON COMMIT DROP;
			ALTER TABLE staged_comments ADD COLUMN search_text text`); err != nil {
			return err
		}
		rows := pgx.CopyFromSlice(len(fx.Comments), func(i int) ([]any, error) {
			c := fx.Comments[i]
			return []any{c.ID, c.SiteID, c.PageKey, c.Depth, c.AuthorName, c.AuthorEmail, c.AuthorWebsite,
				c.Body, c.BodyHTML, string(c.Status), c.IP, c.UserAgent, c.CreatedAt, c.UpdatedAt,
				strings.ToLower(c.AuthorEmail), searchText(c.AuthorName, c.Body)}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_comments"}, columns, rows); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO comments (`+strings.Join(columns[:len(columns)-1], ", ")+`, search)
			SELECT `+strings.Join(columns[:len(columns)-1], ", ")+`, strip(to_tsvector('simple', search_text))
			FROM staged_comments`)
		return err
	})
	if err != nil {
		tb.Fatalf("seed %d comments: %v", len(fx.Comments), err)
	}
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE comments`); err != nil {
		tb.Fatalf("VACUUM ANALYZE: %v", err)
	}
}
