package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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
	var state comment.ReaderState
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		state, err = readerState(ctx, tx, siteID, strings.ToLower(email))
		return err
	})
	if err != nil {
		return comment.ReaderUnknown, fmt.Errorf("reader state on site %q: %w", siteID, err)
	}
	return state, nil
}

// setReaderState moves the address to state unless it is there already,
// and returns the state it had. Unsubscribing creates the record if there
// is none (the reader asks for no email); confirming needs one: an
// address with no record (never asked for, or erased since) stays so.
func (s *Store) setReaderState(ctx context.Context, siteID, email string, state comment.ReaderState, at time.Time) (comment.ReaderState, error) {
	lower := strings.ToLower(email)
	var prev comment.ReaderState
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := findSite(ctx, tx, siteID); err != nil {
			return err
		}
		var err error
		if prev, err = readerState(ctx, tx, siteID, lower); err != nil || prev == state {
			return err
		}
		if prev == comment.ReaderUnknown && state == comment.ReaderConfirmed {
			return nil
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO reader_addresses (site_id, email_lower, state, changed_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (site_id, email_lower) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at`,
			siteID, lower, string(state), micros(at))
		return mapErr(err)
	})
	if err != nil {
		return comment.ReaderUnknown, fmt.Errorf("make reader %s on site %q: %w", state, siteID, err)
	}
	return prev, nil
}

func readerState(ctx context.Context, tx *sql.Tx, siteID, lower string) (comment.ReaderState, error) {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM reader_addresses WHERE site_id = ? AND email_lower = ?`,
		siteID, lower).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return comment.ReaderUnknown, nil
	}
	if err != nil {
		return comment.ReaderUnknown, mapErr(err)
	}
	return comment.ReaderState(state), nil
}
