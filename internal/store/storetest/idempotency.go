package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// keyFor returns the record a submission of c with key would store, valid
// for a day from c.CreatedAt.
func keyFor(c comment.Comment, key string) comment.IdempotencyKey {
	return comment.IdempotencyKey{
		SiteID:      c.SiteID,
		Key:         key,
		RequestHash: "hash of " + c.ID,
		CommentID:   c.ID,
		Status:      comment.StatusPending,
		CreatedAt:   c.CreatedAt,
		ExpiresAt:   c.CreatedAt.Add(24 * time.Hour),
	}
}

// checkSameKey reports every field in which got differs from want; times
// must be equal instants, in UTC.
func checkSameKey(t *testing.T, got, want comment.IdempotencyKey) {
	t.Helper()
	for name, pair := range map[string][2]time.Time{
		"CreatedAt": {got.CreatedAt, want.CreatedAt},
		"ExpiresAt": {got.ExpiresAt, want.ExpiresAt},
	} {
		if !pair[0].Equal(pair[1]) || pair[0].Location() != time.UTC {
			t.Errorf("key %s = %v, want %v in UTC", name, pair[0], pair[1])
		}
	}
	got.CreatedAt, got.ExpiresAt, want.CreatedAt, want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("key = %+v, want %+v", got, want)
	}
}

// testIdempotencyKeys: a keyed comment is stored with its key; the key is
// found on its own site until it expires, and never on another site.
func testIdempotencyKeys(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	c := newComment(site.ID, "/keyed", t0)
	k := keyFor(c, "retry-me 01")
	k.Status = comment.StatusApproved
	// The store takes the site and comment from c, whatever k says.
	sent := k
	sent.SiteID, sent.CommentID = other.ID, "not-the-comment"
	if err := s.CreateKeyedComment(ctx, c, comment.Page{SiteID: site.ID, Key: c.PageKey, Title: "Keyed"}, sent); err != nil {
		t.Fatalf("CreateKeyedComment: %v", err)
	}
	got, err := s.Comment(ctx, c.ID)
	if err != nil {
		t.Fatalf("Comment: %v", err)
	}
	checkSameComment(t, got, c)
	if h, err := s.History(ctx, c.ID); err != nil || len(h) != 1 {
		t.Errorf("History = %d events, %v; want the submit event", len(h), err)
	}
	if p, err := s.Page(ctx, site.ID, c.PageKey); err != nil || p.Title != "Keyed" {
		t.Errorf("Page = %+v, %v; want it created with its title", p, err)
	}

	tests := []struct {
		name      string
		site, key string
		now       time.Time
		found     bool
	}{
		{"right away", site.ID, k.Key, t0, true},
		{"just before it expires", site.ID, k.Key, k.ExpiresAt.Add(-time.Microsecond), true},
		{"when it expires", site.ID, k.Key, k.ExpiresAt, false},
		{"after it expired", site.ID, k.Key, k.ExpiresAt.Add(time.Hour), false},
		{"on another site", other.ID, k.Key, t0, false},
		{"on an unknown site", "no-such-site", k.Key, t0, false},
		{"another key", site.ID, "retry-me 02", t0, false},
		{"the key in other case", site.ID, "RETRY-ME 01", t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindIdempotencyKey(ctx, tt.site, tt.key, tt.now)
			if !tt.found {
				if !errors.Is(err, comment.ErrNotFound) {
					t.Errorf("FindIdempotencyKey = %+v, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindIdempotencyKey: %v", err)
			}
			checkSameKey(t, got, k)
		})
	}
}

// testIdempotencyKeyConflict: a key held unexpired refuses a second
// comment with ErrConflict and nothing of it is stored; an expired one is
// replaced; another site's key is no obstacle.
func testIdempotencyKeyConflict(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site, other := mustSite(t, s), mustSite(t, s)
	first := newComment(site.ID, "/p", t0)
	k := keyFor(first, "k")
	if err := s.CreateKeyedComment(ctx, first, comment.Page{}, k); err != nil {
		t.Fatalf("CreateKeyedComment(first): %v", err)
	}

	second := newComment(site.ID, "/a-new-page", t0.Add(time.Hour))
	err := s.CreateKeyedComment(ctx, second, comment.Page{}, keyFor(second, "k"))
	if !errors.Is(err, comment.ErrConflict) {
		t.Fatalf("CreateKeyedComment with a held key = %v, want ErrConflict", err)
	}
	if _, err := s.Comment(ctx, second.ID); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("Comment(refused) = %v, want ErrNotFound", err)
	}
	if _, err := s.Page(ctx, site.ID, second.PageKey); !errors.Is(err, comment.ErrNotFound) {
		t.Errorf("Page of the refused comment = %v, want ErrNotFound (nothing of it stored)", err)
	}
	if got, err := s.FindIdempotencyKey(ctx, site.ID, "k", t0); err != nil || got.CommentID != first.ID {
		t.Errorf("FindIdempotencyKey after the refusal = %+v, %v; want the first comment's", got, err)
	}

	onOther := newComment(other.ID, "/p", t0.Add(time.Minute))
	if err := s.CreateKeyedComment(ctx, onOther, comment.Page{}, keyFor(onOther, "k")); err != nil {
		t.Errorf("CreateKeyedComment of the same key on another site: %v", err)
	}
	if got, err := s.FindIdempotencyKey(ctx, other.ID, "k", t0.Add(time.Minute)); err != nil || got.CommentID != onOther.ID {
		t.Errorf("FindIdempotencyKey on the other site = %+v, %v; want its own comment's", got, err)
	}

	// At the instant the first record expires, the key is free again.
	later := newComment(site.ID, "/p", k.ExpiresAt)
	lk := keyFor(later, "k")
	if err := s.CreateKeyedComment(ctx, later, comment.Page{}, lk); err != nil {
		t.Fatalf("CreateKeyedComment with an expired key: %v", err)
	}
	got, err := s.FindIdempotencyKey(ctx, site.ID, "k", later.CreatedAt)
	if err != nil {
		t.Fatalf("FindIdempotencyKey after replacing: %v", err)
	}
	checkSameKey(t, got, lk)
	if _, err := s.Comment(ctx, first.ID); err != nil {
		t.Errorf("the first comment after its key expired: %v, want it kept", err)
	}
}

// testConcurrentKeyedCreate: of concurrent creations with one key exactly
// one is stored and the others fail with ErrConflict, each alone: writes
// with keys of their own, or none, made at the same time are all stored.
func testConcurrentKeyedCreate(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	site := mustSite(t, s)
	const same, others = 20, 20
	type attempt struct {
		c   comment.Comment
		key string // "" for none
	}
	attempts := make([]attempt, 0, same+others)
	for i := range same + others {
		c := newComment(site.ID, fmt.Sprintf("/p%d", i%3), t0.Add(time.Duration(i)*time.Millisecond))
		key := "shared"
		if i >= same {
			key = fmt.Sprintf("own-%d", i)
			if i%2 == 0 {
				key = ""
			}
		}
		attempts = append(attempts, attempt{c, key})
	}
	errs := make([]error, len(attempts))
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Go(func() {
			if a.key == "" {
				errs[i] = s.CreateComment(ctx, a.c, comment.Page{})
				return
			}
			errs[i] = s.CreateKeyedComment(ctx, a.c, comment.Page{}, keyFor(a.c, a.key))
		})
	}
	wg.Wait()
	winner := ""
	for i, a := range attempts {
		switch {
		case i >= same && errs[i] != nil:
			t.Errorf("attempt %d (key %q): %v, want it stored", i, a.key, errs[i])
		case i < same && errs[i] == nil:
			if winner != "" {
				t.Errorf("attempt %d stored with the shared key, as was %s", i, winner)
			}
			winner = a.c.ID
		case i < same && !errors.Is(errs[i], comment.ErrConflict):
			t.Errorf("attempt %d with the shared key: %v, want ErrConflict", i, errs[i])
		}
	}
	if winner == "" {
		t.Fatal("no attempt with the shared key was stored")
	}
	got, err := s.FindIdempotencyKey(ctx, site.ID, "shared", t0)
	if err != nil || got.CommentID != winner {
		t.Errorf("FindIdempotencyKey(shared) = %+v, %v; want comment %s", got, err, winner)
	}
	listed, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{site.ID}, Status: comment.StatusPending, Limit: 500})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(listed) != others+1 {
		t.Errorf("List: %d comments, want %d (one with the shared key, and the others)", len(listed), others+1)
	}
	for _, a := range attempts[:same] {
		if a.c.ID == winner {
			continue
		}
		if _, err := s.Comment(ctx, a.c.ID); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("comment %s, refused for its key: Comment = %v, want ErrNotFound", a.c.ID, err)
		}
	}
}

// testDeleteIdempotencyKeys: DeleteIdempotencyKeysBefore removes exactly
// the records expired by its time, on every site, and counts them.
func testDeleteIdempotencyKeys(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	a, b := mustSite(t, s), mustSite(t, s)
	type stored struct {
		site, key string
		expires   time.Time
	}
	var all []stored
	for i, site := range []string{a.ID, b.ID, a.ID, b.ID} {
		c := newComment(site, "/p", t0.Add(time.Duration(i)*time.Hour))
		k := keyFor(c, fmt.Sprintf("key-%d", i))
		if err := s.CreateKeyedComment(ctx, c, comment.Page{}, k); err != nil {
			t.Fatalf("CreateKeyedComment %d: %v", i, err)
		}
		all = append(all, stored{site, k.Key, k.ExpiresAt})
	}
	cut := all[1].expires // the first two expire by then
	n, err := s.DeleteIdempotencyKeysBefore(ctx, cut)
	if err != nil {
		t.Fatalf("DeleteIdempotencyKeysBefore: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteIdempotencyKeysBefore deleted %d, want 2", n)
	}
	for i, k := range all {
		// Looked up as of t0, when none had expired: a deleted one is gone.
		_, err := s.FindIdempotencyKey(ctx, k.site, k.key, t0)
		if gone := errors.Is(err, comment.ErrNotFound); gone != (i < 2) || (err != nil && !gone) {
			t.Errorf("key %d after the purge: %v; want it deleted: %v", i, err, i < 2)
		}
	}
	if n, err := s.DeleteIdempotencyKeysBefore(ctx, cut); err != nil || n != 0 {
		t.Errorf("second DeleteIdempotencyKeysBefore = %d, %v; want 0", n, err)
	}
	// The comments stay.
	if cs, err := s.List(ctx, comment.ListFilter{SiteIDs: []string{a.ID, b.ID}, Status: comment.StatusPending, Limit: 10}); err != nil || len(cs) != 4 {
		t.Errorf("List after the purge = %d comments, %v; want all 4", len(cs), err)
	}
}
