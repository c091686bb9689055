package moderation

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// IdempotencyTTL is how long a submission's idempotency key counts: a retry
// within it gets the first answer; after it, the key starts a new
// submission.
const IdempotencyTTL = 24 * time.Hour

// requestHash identifies a submission for its idempotency key: the hex
// SHA-256 of its fields as the submitter gave them (already decoded from
// JSON or form encoding, and trimmed), each prefixed by its length so that
// no two submissions share an encoding. The site is not in it, since keys
// are scoped per site anyway. Left out are what may change between a
// submission and its retry without it being another submission: the
// client's address and user agent (a reader may retry from another
// network) and the form token (a client may fetch a fresh one). A ticked
// "notify me of replies" adds a field at the end, so that the hash of a
// submission without it is what it was before the option existed.
func requestHash(sub Submission) string {
	h := sha256.New()
	h.Write([]byte("commentd submission v1\n"))
	var n [binary.MaxVarintLen64]byte
	for _, f := range []string{sub.PageKey, sub.PageURL, sub.PageTitle, sub.ParentID, sub.Name, sub.Email, sub.Website, sub.Body, sub.Honeypot} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	if sub.NotifyReplies {
		h.Write([]byte("\x00notify_replies"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// errKeyReused answers a key sent again with another submission. (A new
// error each time: callers may add fields to a ValidationError.)
func errKeyReused() error {
	return comment.Invalid("idempotency_key",
		"This Idempotency-Key was already used for a different comment. Send a new key with each new comment.")
}

// replay looks up k (as the submission to answer would store it). found is
// false if the site holds no unexpired record of the key. A record of
// another submission is a *comment.ValidationError; one of the same
// submission gives the receipt the first submitter got, with the comment
// as it is now stored.
func (s *Service) replay(ctx context.Context, k comment.IdempotencyKey) (rec Receipt, found bool, err error) {
	stored, err := s.store.FindIdempotencyKey(ctx, k.SiteID, k.Key, s.clock())
	switch {
	case errors.Is(err, comment.ErrNotFound):
		return Receipt{}, false, nil
	case err != nil:
		return Receipt{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if stored.RequestHash != k.RequestHash {
		return Receipt{}, true, errKeyReused()
	}
	c, err := s.store.Comment(ctx, stored.CommentID)
	switch {
	case errors.Is(err, comment.ErrNotFound):
		return Receipt{}, true, comment.Invalid("idempotency_key",
			"The comment first sent with this Idempotency-Key no longer exists. Send it again with a new key.")
	case err != nil:
		return Receipt{}, true, fmt.Errorf("load comment of idempotency key: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "comment submission replayed",
		slog.String("site", k.SiteID), slog.String("comment_id", c.ID))
	return Receipt{Comment: c.PublicView(), Status: stored.Status, Replayed: true}, true, nil
}

// replayOr answers a submission that failed with err: if it has a key (k
// not nil) that a concurrent submission has stored meanwhile, as replay
// does; otherwise with err.
func (s *Service) replayOr(ctx context.Context, k *comment.IdempotencyKey, err error) (Receipt, error) {
	if k == nil {
		return Receipt{}, err
	}
	rec, found, rerr := s.replay(ctx, *k)
	switch {
	case rerr != nil && !found:
		// The lookup failed: the submission's own error says more.
		s.log.LogAttrs(ctx, slog.LevelWarn, "idempotency key lookup failed",
			slog.String("site", k.SiteID), slog.String("err", rerr.Error()))
		return Receipt{}, err
	case !found:
		return Receipt{}, err
	}
	return rec, rerr
}

// PurgeIdempotencyKeys deletes the idempotency keys that have expired and
// returns how many it deleted.
func (s *Service) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	n, err := s.store.DeleteIdempotencyKeysBefore(ctx, s.clock())
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}

// PurgeIdempotencyKeysEvery calls PurgeIdempotencyKeys every interval until
// ctx ends, logging failures. Expired keys are ignored by lookups anyway;
// this only keeps their table from growing. Instances sharing a database
// may all run it: a delete finds nothing another has deleted.
func (s *Service) PurgeIdempotencyKeysEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.PurgeIdempotencyKeys(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "purging expired idempotency keys failed", slog.String("err", err.Error()))
			}
			continue
		}
		if n > 0 {
			s.log.LogAttrs(ctx, slog.LevelInfo, "expired idempotency keys purged", slog.Int64("keys", n))
		}
	}
}
