package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

var _ comment.ReaderStore = (*Store)(nil)

// ConfirmReader makes the address confirmed on the site, as
// comment.ReaderStore describes.
func (s *Store) ConfirmReader(ctx context.Context, siteID, email string, at time.Time) (comment.ReaderState, error) {
	return s.setReaderState(ctx, siteID, email, comment.ReaderConfirmed, at)
}

// UnsubscribeReader makes the address unsubscribed on the site, as
// comment.ReaderStore describes.
func (s *Store) UnsubscribeReader(ctx context.Context, siteID, email string, at time.Time) (comment.ReaderState, error) {
	return s.setReaderState(ctx, siteID, email, comment.ReaderUnsubscribed, at)
}

// ReaderState returns the address's state on the site, or
// comment.ReaderUnknown if there is no record of it.
func (s *Store) ReaderState(ctx context.Context, siteID, email string) (comment.ReaderState, error) {
	state, err := readerState(ctx, s.pool, siteID, strings.ToLower(email), false)
	if err != nil {
		return comment.ReaderUnknown, fmt.Errorf("reader state on site %q: %w", siteID, mapErr(err))
	}
	return state, nil
}

// setReaderState moves the address to state unless it is there already,
// and returns the state it had. Unsubscribing creates the record if there
// is none (the reader asks for no email); confirming needs one: an
// address with no record (never asked for, or erased since) stays so.
// The record is locked while it is read, so that of two concurrent calls
// the second sees what the first wrote.
func (s *Store) setReaderState(ctx context.Context, siteID, email string, state comment.ReaderState, at time.Time) (comment.ReaderState, error) {
	lower := strings.ToLower(email)
	var prev comment.ReaderState
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := findSite(ctx, tx, siteID); err != nil {
			return err
		}
		var err error
		if prev, err = readerState(ctx, tx, siteID, lower, true); err != nil || prev == state {
			return err
		}
		if prev == comment.ReaderUnknown && state == comment.ReaderConfirmed {
			return nil
		}
		// Two first calls for one address may both find no record: the
		// second then updates the first's, unless it holds that state.
		_, err = tx.Exec(ctx, `
			INSERT INTO reader_addresses (site_id, email_lower, state, changed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (site_id, email_lower) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at
			WHERE reader_addresses.state <> excluded.state`,
			siteID, lower, string(state), at)
		return err
	})
	if err != nil {
		return comment.ReaderUnknown, fmt.Errorf("make reader %s on site %q: %w", state, siteID, mapErr(err))
	}
	return prev, nil
}

func readerState(ctx context.Context, tx dbtx, siteID, lower string, lock bool) (comment.ReaderState, error) {
	q := `SELECT state FROM reader_addresses WHERE site_id = $1 AND email_lower = $2`
	if lock {
		q += ` FOR UPDATE`
	}
	var state string
	err := tx.QueryRow(ctx, q, siteID, lower).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.ReaderUnknown, nil
	}
	if err != nil {
		return comment.ReaderUnknown, err
	}
	return comment.ReaderState(state), nil
}
