package comment

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"
)

// NormalizeEmail returns the form in which an author's email is compared
// when a reader asks for their data: trimmed and lower-cased.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// EmailSubject returns the audit subject for an email: an HMAC-SHA256 (hex)
// of NormalizeEmail(email) keyed with key (the server secret), so that the
// audit log can tell requests about one reader apart without holding the
// address, and someone who reads the log but lacks the secret cannot test
// guessed addresses against it.
func EmailSubject(key []byte, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("commentd-gdpr-subject\x00" + NormalizeEmail(email)))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// The audit actions of readers' data requests.
const (
	AuditGDPRExport = "gdpr.export"
	AuditGDPRErase  = "gdpr.erase"
)

// AuditActorCLI is the actor of audit entries written by the command line.
const AuditActorCLI = "cli"

// AuditEntry is one line of the audit log. Subject must not hold personal
// data (use EmailSubject); Details is a small JSON object of counts.
type AuditEntry struct {
	At      time.Time
	Actor   string // a user id, or AuditActorCLI
	Action  string // one of the Audit* actions
	Subject string
	Details map[string]int
}

// PersonalComment is a comment as a reader's data export shows it.
type PersonalComment struct {
	ID            string    `json:"id"`
	SiteID        string    `json:"site"`
	PageKey       string    `json:"page_key"`
	PageURL       string    `json:"page_url"`
	PageTitle     string    `json:"page_title"`
	ParentID      string    `json:"parent_id,omitempty"`
	Status        Status    `json:"status"`
	AuthorName    string    `json:"name"`
	AuthorEmail   string    `json:"email"`
	AuthorWebsite string    `json:"website"`
	Body          string    `json:"body"`
	BodyHTML      string    `json:"body_html"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent"`
	Reasons       []Reason  `json:"reasons"`
	NotifyReplies bool      `json:"notify_replies"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// PersonalRevision is an earlier version of one of the reader's comments.
type PersonalRevision struct {
	CommentID     string    `json:"comment_id"`
	AuthorName    string    `json:"name"`
	AuthorWebsite string    `json:"website"`
	Body          string    `json:"body"`
	EditedAt      time.Time `json:"edited_at"`
}

// PersonalListEntry is a site list entry naming the reader's email.
type PersonalListEntry struct {
	SiteID    string    `json:"site"`
	List      string    `json:"list"`
	CreatedAt time.Time `json:"created_at"`
}

// PersonalUser is the moderator account registered with the reader's
// email. It never carries password or token hashes.
type PersonalUser struct {
	ID        string          `json:"id"`
	Email     string          `json:"email"`
	Admin     bool            `json:"admin"`
	Roles     map[string]Role `json:"roles"`
	CreatedAt time.Time       `json:"created_at"`
}

// PersonalReaderAddress is the reader's address's state for reply
// notifications on one site (see ReaderStore). ConfirmSentAt is null when
// no confirmation was ever asked for.
type PersonalReaderAddress struct {
	SiteID        string      `json:"site"`
	State         ReaderState `json:"state"`
	ConfirmSentAt *time.Time  `json:"confirm_sent_at"`
	ChangedAt     time.Time   `json:"changed_at"`
}

// PersonalDelivery is a notification email sent, or to be sent, to the
// reader's address. It leaves out the message and the comment it was
// about, which may be someone else's reply. DoneAt is null while due.
type PersonalDelivery struct {
	SiteID    string        `json:"site"`
	Kind      NotifyKind    `json:"kind"`
	Channel   NotifyChannel `json:"channel"`
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	CreatedAt time.Time     `json:"created_at"`
	DoneAt    *time.Time    `json:"done_at"`
}

// PersonalData is everything stored about one email address. The slices
// are empty, never nil, when nothing is stored, so that they encode as [].
type PersonalData struct {
	Email       string              `json:"email"`
	Comments    []PersonalComment   `json:"comments"`
	Revisions   []PersonalRevision  `json:"revisions"`
	ListEntries []PersonalListEntry `json:"list_entries"`
	User        *PersonalUser       `json:"user"`
	// ReaderAddresses are the address's states for reply notifications,
	// one per site, ordered by site.
	ReaderAddresses []PersonalReaderAddress `json:"reader_addresses"`
	// NotifyDeliveries are the notification emails to the address, oldest
	// first.
	NotifyDeliveries []PersonalDelivery `json:"notify_deliveries"`
}

// EraseSummary counts what ErasePersonalData changed.
type EraseSummary struct {
	// Scrubbed comments keep their content but lost email, IP and user agent.
	Scrubbed int `json:"scrubbed"`
	// Deleted comments were removed with their history and revisions.
	Deleted int `json:"deleted"`
	// Tombstoned comments had replies by others: they stay as deleted
	// comments with every author field and their content emptied.
	Tombstoned int `json:"tombstoned"`
	// Revisions is the number of revisions removed.
	Revisions int `json:"revisions"`
	// ListEntries is the number of site list entries removed.
	ListEntries int `json:"list_entries"`
	// ReaderAddresses is the number of sites' records of the address for
	// reply notifications removed.
	ReaderAddresses int `json:"reader_addresses"`
	// NotifyDeliveries is the number of notification emails to the
	// address, and, when comments are deleted, of notifications about
	// them, removed.
	NotifyDeliveries int `json:"notify_deliveries"`
	// Sites lists the sites whose comments or lists changed, in order.
	Sites []string `json:"sites"`
	// Pages lists the pages whose public threads may have changed (those
	// of deleted comments and tombstones), ordered by site and key, so
	// that cached threads can be dropped. It is not part of the JSON: it
	// names the reader's pages.
	Pages []Page `json:"-"`
}

// Counts returns the summary as audit details.
func (s EraseSummary) Counts() map[string]int {
	return map[string]int{
		"scrubbed": s.Scrubbed, "deleted": s.Deleted, "tombstoned": s.Tombstoned,
		"revisions": s.Revisions, "list_entries": s.ListEntries, "sites": len(s.Sites),
		"reader_addresses": s.ReaderAddresses, "notify_deliveries": s.NotifyDeliveries,
	}
}

// PersonalCounts returns the size of an export as audit details.
func (d PersonalData) PersonalCounts() map[string]int {
	user := 0
	if d.User != nil {
		user = 1
	}
	return map[string]int{
		"comments": len(d.Comments), "revisions": len(d.Revisions),
		"list_entries": len(d.ListEntries), "user": user,
		"reader_addresses": len(d.ReaderAddresses), "notify_deliveries": len(d.NotifyDeliveries),
	}
}

// PrivacyStore answers readers' requests for their data and its erasure.
// Emails are matched after NormalizeEmail, against comment authors and the
// email lists of every site.
type PrivacyStore interface {
	// PersonalData returns everything stored about email: the comments it
	// wrote (oldest first) with their pages, their revisions, the site list
	// entries naming it, the moderator account registered with it, its
	// states for reply notifications and the notification emails to it.
	PersonalData(ctx context.Context, email string) (PersonalData, error)
	// ErasePersonalData removes email's personal data in one transaction
	// that also writes audit. Without deleteComments, its comments keep
	// their name and content but lose email, IP and user agent, and their
	// reasons are rewritten as ClientDataDelete does. With it, its comments
	// are removed with their events and revisions, except those that others
	// replied to, which become tombstones (status deleted, every author and
	// content field emptied). Comments kept either way no longer ask for
	// reply notifications. Its entries on the sites' email lists are
	// removed and those sites' rules versions incremented. Its states for
	// reply notifications and the notification emails to it are removed,
	// and with deleteComments also the notifications about its deleted
	// and tombstoned comments. The moderator account, if any, is left
	// alone. It returns ErrUnavailable when the
	// database cannot take the write now.
	ErasePersonalData(ctx context.Context, email string, deleteComments bool, audit AuditEntry) (EraseSummary, error)
	// AddAudit writes one audit entry.
	AddAudit(ctx context.Context, e AuditEntry) error
	// AuditEntries returns the newest limit audit entries, newest first.
	AuditEntries(ctx context.Context, limit int) ([]AuditEntry, error)
}

// ExportPersonalData returns everything stored about email and records the
// export, by actor at now, in the audit log under EmailSubject(key, email).
// It returns a ValidationError for a blank email; the export is not returned
// if it cannot be recorded.
func ExportPersonalData(ctx context.Context, store PrivacyStore, key []byte, actor string, now time.Time, email string) (PersonalData, error) {
	if NormalizeEmail(email) == "" {
		return PersonalData{}, Invalid("email", "Enter an email address.")
	}
	d, err := store.PersonalData(ctx, email)
	if err != nil {
		return PersonalData{}, err
	}
	err = store.AddAudit(ctx, AuditEntry{At: now, Actor: actor, Action: AuditGDPRExport,
		Subject: EmailSubject(key, email), Details: d.PersonalCounts()})
	if err != nil {
		return PersonalData{}, err
	}
	return d, nil
}

// ErasePersonalData erases email's personal data (see
// PrivacyStore.ErasePersonalData) and records it, by actor at now, in the
// audit log, under EmailSubject(key, email), in the same transaction. It
// returns a ValidationError for a blank email.
func ErasePersonalData(ctx context.Context, store PrivacyStore, key []byte, actor string, now time.Time, email string, deleteComments bool) (EraseSummary, error) {
	if NormalizeEmail(email) == "" {
		return EraseSummary{}, Invalid("email", "Enter an email address.")
	}
	return store.ErasePersonalData(ctx, email, deleteComments,
		AuditEntry{At: now, Actor: actor, Action: AuditGDPRErase, Subject: EmailSubject(key, email)})
}

// SitesOf returns the distinct sites of entries, in order.
func SitesOf(entries []ListEntry) []string {
	m := map[string]bool{}
	for _, e := range entries {
		m[e.SiteID] = true
	}
	return slices.Sorted(maps.Keys(m))
}

// AddPage adds the page to pages, kept ordered by site and key, unless it
// is there already.
func AddPage(pages []Page, siteID, key string) []Page {
	p := Page{SiteID: siteID, Key: key}
	i, found := slices.BinarySearchFunc(pages, p, func(a, b Page) int {
		return cmp.Or(strings.Compare(a.SiteID, b.SiteID), strings.Compare(a.Key, b.Key))
	})
	if found {
		return pages
	}
	return slices.Insert(pages, i, p)
}
