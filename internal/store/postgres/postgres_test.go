package postgres

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
	"github.com/commentd/commentd/internal/testenv"
)

// openSchema opens a store on a fresh schema of the test database, dropped
// when the test ends.
func openSchema(t *testing.T) *Store {
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
