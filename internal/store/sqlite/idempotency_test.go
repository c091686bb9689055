package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/storetest"
)

// TestGroupWithConflictingKeys: writes queued while the writer is busy are
// committed as one group. A key conflict in it (two writes of the group
// with one key, or a key already stored) fails the multi-row insert; the
// group is then written one by one, and only the conflicting writes fail,
// each leaving nothing behind, while the others are stored with their keys,
// including one that replaces an expired key.
func TestGroupWithConflictingKeys(t *testing.T) {
	s, _ := openTemp(t, Options{})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	n := 0
	newC := func() comment.Comment {
		n++
		c := comment.Comment{ID: fmt.Sprintf("c%03d", n), SiteID: "blog", PageKey: fmt.Sprintf("/p%d", n%4), Depth: 1, AuthorName: "A",
			AuthorEmail: "a@example.org", Body: "b", BodyHTML: "<p>b</p>", Status: comment.StatusPending,
			CreatedAt: at.Add(time.Duration(n) * time.Millisecond)}
		c.UpdatedAt = c.CreatedAt
		return c
	}
	keyOf := func(c comment.Comment, key string, ttl time.Duration) comment.IdempotencyKey {
		return comment.IdempotencyKey{Key: key, RequestHash: "h-" + c.ID, Status: comment.StatusPending, CreatedAt: c.CreatedAt, ExpiresAt: c.CreatedAt.Add(ttl)}
	}

	held, stale := newC(), newC()
	if err := s.CreateKeyedComment(ctx, held, comment.Page{}, keyOf(held, "held", time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Expired by the time the group is written.
	if err := s.CreateKeyedComment(ctx, stale, comment.Page{}, keyOf(stale, "stale", time.Millisecond)); err != nil {
		t.Fatal(err)
	}

	type write struct {
		c       comment.Comment
		key     string // "" for none
		wantErr error
	}
	var writes []write
	for i := range 30 {
		w := write{c: newC()}
		switch i {
		case 3:
			w.key = "twice" // the first of the group with this key: stored
		case 17:
			w.key, w.wantErr = "twice", comment.ErrConflict
		case 9:
			w.key, w.wantErr = "held", comment.ErrConflict
		case 12:
			w.key = "stale"
		default:
			if i%2 == 0 {
				w.key = fmt.Sprintf("own-%d", i)
			}
		}
		writes = append(writes, w)
	}

	// Hold the writer's only connection: the committer takes one write
	// and waits for the connection, and every later write queues behind
	// it, to be taken up as one group.
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := newC()
	firstDone := make(chan error, 1)
	go func() { firstDone <- s.CreateComment(ctx, first, comment.Page{}) }()
	waitFor(t, "the committer to wait for the connection", func() bool { return s.writer.Stats().WaitCount > 0 })

	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		// One at a time into the queue, so that the group keeps this order.
		wg.Go(func() {
			if w.key == "" {
				errs[i] = s.CreateComment(ctx, w.c, comment.Page{})
				return
			}
			errs[i] = s.CreateKeyedComment(ctx, w.c, comment.Page{}, keyOf(w.c, w.key, time.Hour))
		})
		waitFor(t, "the write to be queued", func() bool { return len(s.group.queue) == i+1 })
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatalf("the write before the group: %v", err)
	}

	for i, w := range writes {
		switch {
		case w.wantErr == nil && errs[i] != nil:
			t.Errorf("write %d (key %q): %v, want it stored", i, w.key, errs[i])
		case w.wantErr != nil && !errors.Is(errs[i], w.wantErr):
			t.Errorf("write %d (key %q): %v, want %v", i, w.key, errs[i], w.wantErr)
		}
		_, err := s.Comment(ctx, w.c.ID)
		if stored := err == nil; stored != (w.wantErr == nil) {
			t.Errorf("write %d (key %q): Comment = %v, want stored: %v", i, w.key, err, w.wantErr == nil)
		}
		if w.key == "" || w.wantErr != nil {
			continue
		}
		k, err := s.FindIdempotencyKey(ctx, "blog", w.key, w.c.CreatedAt)
		if err != nil || k.CommentID != w.c.ID {
			t.Errorf("write %d: FindIdempotencyKey(%q) = %+v, %v; want comment %s", i, w.key, k, err, w.c.ID)
		}
	}
	if k, err := s.FindIdempotencyKey(ctx, "blog", "held", at); err != nil || k.CommentID != held.ID {
		t.Errorf("FindIdempotencyKey(held) = %+v, %v; want the comment stored before", k, err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestKeySurvivesReopen: a key is committed with its comment, so a store
// opened afresh on the file (as after a crash that followed the commit)
// finds both.
func TestKeySurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	if err := s.UpsertSite(ctx, comment.Site{ID: "blog", Name: "Blog"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	c := comment.Comment{ID: "c1", SiteID: "blog", PageKey: "/p", Depth: 1, AuthorName: "A", AuthorEmail: "a@example.org",
		Body: "b", BodyHTML: "<p>b</p>", Status: comment.StatusSpam, CreatedAt: at, UpdatedAt: at}
	k := comment.IdempotencyKey{Key: "k1", RequestHash: "h", Status: comment.StatusPending, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
	if err := s.CreateKeyedComment(ctx, c, comment.Page{}, k); err != nil {
		t.Fatal(err)
	}
	// A second store on the file, as a restarted process would open.
	again, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got, err := again.FindIdempotencyKey(ctx, "blog", "k1", at)
	if err != nil || got.CommentID != "c1" || got.Status != comment.StatusPending || got.RequestHash != "h" {
		t.Errorf("FindIdempotencyKey on the reopened file = %+v, %v; want the key of c1, told pending", got, err)
	}
	if _, err := again.Comment(ctx, "c1"); err != nil {
		t.Errorf("Comment on the reopened file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPurgeInBatches: more expired keys than one purge transaction takes
// are all deleted, across several transactions, and live keys stay.
func TestPurgeInBatches(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	defer s.Close()
	fx := storetest.NewQueueFixture(1, 1)
	seedQueue(t, s, fx)
	site := fx.Sites[0].ID
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	const expired, live = 2*purgeBatch + 17, 3
	for i := range expired + live {
		exp := now.Add(-time.Minute)
		if i >= expired {
			exp = now.Add(time.Hour)
		}
		if _, err := s.writer.ExecContext(ctx, `INSERT INTO idempotency_keys (site_id, key, request_hash, comment_id, status, created_at, expires_at)
			VALUES (?, ?, 'h', 'c', 'pending', ?, ?)`, site, fmt.Sprintf("k%d", i), micros(exp.Add(-24*time.Hour)), micros(exp)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteIdempotencyKeysBefore(ctx, now)
	if err != nil {
		t.Fatalf("DeleteIdempotencyKeysBefore: %v", err)
	}
	if n != expired {
		t.Errorf("deleted %d keys, want %d", n, expired)
	}
	var left int
	if err := s.writer.QueryRowContext(ctx, "SELECT count(*) FROM idempotency_keys").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != live {
		t.Errorf("%d keys left, want the %d live ones", left, live)
	}
}
