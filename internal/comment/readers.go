package comment

import (
	"context"
	"time"
)

// ReaderState is where a reader's address stands, on one site, for email
// about replies to their comments. Only a confirmed address gets reply
// notifications; the confirmation request is the only mail an unconfirmed
// one gets, and an unsubscribed one gets none, not even a confirmation
// request, until the reader confirms it again from an unsubscribe link.
type ReaderState string

// The states of a reader's address. ReaderUnknown is the state of an
// address the site has no record of.
const (
	ReaderUnknown      ReaderState = ""
	ReaderUnconfirmed  ReaderState = "unconfirmed"
	ReaderConfirmed    ReaderState = "confirmed"
	ReaderUnsubscribed ReaderState = "unsubscribed"
)

// ReaderStore keeps the state of readers' addresses per site. Addresses
// are compared lower-cased (strings.ToLower, as author_email_lower); the
// methods lower-case what they are given.
type ReaderStore interface {
	// ConfirmReader makes an unconfirmed or unsubscribed address
	// confirmed on the site at at, and returns the state it had before.
	// If it is confirmed already, or there is no record of it (never
	// asked for, or erased since), nothing is written: the latter returns
	// ReaderUnknown. It returns ErrNotFound if the site does not exist.
	ConfirmReader(ctx context.Context, siteID, email string, at time.Time) (ReaderState, error)
	// UnsubscribeReader makes the address unsubscribed on the site at at,
	// creating its record if there is none, and returns the state it had
	// before. If it is unsubscribed already nothing is written. It returns
	// ErrNotFound if the site does not exist.
	UnsubscribeReader(ctx context.Context, siteID, email string, at time.Time) (ReaderState, error)
	// ReaderState returns the address's state on the site, ReaderUnknown
	// if there is no record of it (or of the site).
	ReaderState(ctx context.Context, siteID, email string) (ReaderState, error)
}
