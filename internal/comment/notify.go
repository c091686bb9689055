package comment

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// NotifyKind is why a notification is sent.
type NotifyKind string

// The kinds of notification jobs and deliveries.
const (
	// NotifyHeld: a comment was submitted and held for moderation; the
	// site's moderators are told.
	NotifyHeld NotifyKind = "held"
	// NotifyReply: a reply was approved; the parent's author may be told.
	NotifyReply NotifyKind = "reply"
	// NotifyConfirm: a comment was submitted with "notify me of replies";
	// its author is asked to confirm the address.
	NotifyConfirm NotifyKind = "confirm"
)

// NotifyChannel is how a delivery reaches its recipient.
type NotifyChannel string

// The delivery channels.
const (
	ChannelEmail   NotifyChannel = "email"
	ChannelWebhook NotifyChannel = "webhook"
)

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states. Only DeliveryDue deliveries are ever tried.
const (
	DeliveryDue     DeliveryState = "due"
	DeliverySent    DeliveryState = "sent"
	DeliveryFailed  DeliveryState = "failed"  // out of attempts, or refused for good
	DeliveryDropped DeliveryState = "dropped" // no longer called for when its turn came
)

// NotifyJob is a job recorded by the database when a comment event may call
// for notifications (see the migration 00008_notify.sql).
type NotifyJob struct {
	ID        int64
	Kind      NotifyKind
	CommentID string
	CreatedAt time.Time
	// Attempts is how many times the job was claimed, this claim included.
	Attempts int
}

// NotifySubject is a comment as planning a notification sees it: the whole
// comment (private fields included, NotifyReplies among them) and its page.
type NotifySubject struct {
	Comment Comment
	Page    Page
}

// NotifyDelivery is one message to one recipient.
type NotifyDelivery struct {
	ID        string // time-ordered (UUIDv7), set by the caller
	SiteID    string
	Kind      NotifyKind
	Channel   NotifyChannel
	Recipient string // an email address or a webhook URL
	CommentID string
	// Payload is the message as planned (JSON), sent as it is on every
	// attempt.
	Payload []byte
	// DigestKey, when not empty, groups due deliveries that are sent as one
	// message.
	DigestKey string
	State     DeliveryState
	Attempts  int
	NextAt    time.Time
	LastError string
	CreatedAt time.Time
	DoneAt    time.Time // zero while due
}

// ConfirmRequest records, with the confirmation delivery it comes with,
// that a confirmation is asked of an address.
type ConfirmRequest struct {
	SiteID     string
	EmailLower string
	// CommentID is the comment that asked for reply notifications: the
	// request is written only while that comment still asks for them from
	// this address (an erasure may have scrubbed or deleted it since it
	// was read).
	CommentID string
	At        time.Time
	// NotSince: the confirmation is written only if none was asked of
	// the address since this time (and the address has no state yet or is
	// unconfirmed).
	NotSince time.Time
}

// JobOutcome is what planning a job decided.
type JobOutcome struct {
	JobID int64
	// Deliveries are inserted, except those that repeat one already
	// stored (same kind, comment, channel and recipient), and except
	// reader emails no longer called for when they are written: a
	// NotifyConfirm delivery only while its comment has NotifyReplies and
	// the recipient's address (lower-cased), a NotifyReply delivery only
	// while the reply's parent does. So an erasure that commits after the
	// comment was read leaves nothing to write.
	Deliveries []NotifyDelivery
	// Confirm, when set, goes with the one NotifyConfirm delivery among
	// Deliveries: both are written only if its comment still asks for
	// replies from the address, the address has no state on the site or
	// is unconfirmed (a confirmed address needs none; an unsubscribed one
	// asked for no more email and is not asked again), and no confirmation
	// was asked of it since Confirm.NotSince; then its state is
	// unconfirmed and its confirm_sent_at Confirm.At.
	Confirm *ConfirmRequest
}

// DeliveryResult is the outcome of one attempt at a delivery.
type DeliveryResult struct {
	ID       string
	State    DeliveryState // DeliveryDue to try again at NextAt
	Attempts int
	NextAt   time.Time
	Error    string
	At       time.Time
	// Lease is the lease under which the delivery was claimed (the until
	// of ClaimNotifyDeliveries). When not zero, the result is recorded
	// only while the delivery is still held under that lease.
	Lease time.Time
}

// NotifyStore keeps notification jobs and deliveries. Claims are leases:
// what one caller claimed is not returned to another caller until the
// lease ends, also across processes sharing the database; a caller that
// dies holding a lease loses it when it ends, and the work is claimed again.
type NotifyStore interface {
	// ClaimNotifyJobs leases up to limit jobs not leased at now until the
	// given time, counts the claim as an attempt of each, and returns
	// them, oldest first.
	ClaimNotifyJobs(ctx context.Context, now, until time.Time, limit int) ([]NotifyJob, error)
	// FinishNotifyJobs writes the outcomes of jobs and deletes the jobs,
	// all in one transaction, and returns how many deliveries it inserted
	// for each outcome, in order. A job already deleted (finished by
	// another caller whose lease ran out) makes its outcome write nothing
	// (0). An outcome with no deliveries just deletes its job.
	FinishNotifyJobs(ctx context.Context, outcomes []JobOutcome) ([]int, error)
	// NotifySubject returns the comment with id as planning sees it, or
	// ErrNotFound.
	NotifySubject(ctx context.Context, id string) (NotifySubject, error)
	// ClaimNotifyDeliveries leases up to limit due deliveries whose NextAt
	// is not after now, and with each of them that has a digest key every
	// other due delivery with that key, whatever its NextAt, until the
	// given time, and returns them ordered by (NextAt, ID).
	ClaimNotifyDeliveries(ctx context.Context, now, until time.Time, limit int) ([]NotifyDelivery, error)
	// MarkNotifyDeliveries records the results of attempts, each ending
	// its delivery's lease, all in one transaction. A result is recorded
	// only if its delivery is still due and, when the result names a
	// Lease, still held under it; it returns the IDs of the results not
	// recorded (unknown deliveries, or ones finished or claimed again
	// meanwhile).
	MarkNotifyDeliveries(ctx context.Context, rs []DeliveryResult) (skipped []string, err error)
	// LastNotifyDigest returns when a delivery with the digest key was
	// last sent (zero if never, or if it was purged since).
	LastNotifyDigest(ctx context.Context, digestKey string) (time.Time, error)
	// CountDueNotifyDeliveries returns the number of due deliveries.
	CountDueNotifyDeliveries(ctx context.Context) (int, error)
	// PurgeNotifyDeliveries deletes up to limit deliveries finished before
	// the given time and returns how many.
	PurgeNotifyDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
}

// SortDeliveries orders deliveries by (NextAt, ID), the order in which
// NotifyStore.ClaimNotifyDeliveries returns them.
func SortDeliveries(ds []NotifyDelivery) {
	slices.SortFunc(ds, func(a, b NotifyDelivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), strings.Compare(a.ID, b.ID))
	})
}
