package comment

import (
	"cmp"
	"context"
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

// EmailSubject returns the audit subject for an email: the SHA-256 (hex) of
// NormalizeEmail(email) with a fixed prefix, so that the audit log can tell
// requests about one reader apart without holding the address itself.
func EmailSubject(email string) string {
	sum := sha256.Sum256([]byte("commentd-gdpr-subject\x00" + NormalizeEmail(email)))
	return "sha256:" + hex.EncodeToString(sum[:])
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

// PersonalData is everything stored about one email address. The slices
// are empty, never nil, when nothing is stored, so that they encode as [].
type PersonalData struct {
	Email       string              `json:"email"`
	Comments    []PersonalComment   `json:"comments"`
	Revisions   []PersonalRevision  `json:"revisions"`
	ListEntries []PersonalListEntry `json:"list_entries"`
	User        *PersonalUser       `json:"user"`
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
	}
}

// PrivacyStore answers readers' requests for their data and its erasure.
// Emails are matched after NormalizeEmail, against comment authors and the
// email lists of every site.
type PrivacyStore interface {
	// PersonalData returns everything stored about email: the comments it
	// wrote (oldest first) with their pages, their revisions, the site list
	// entries naming it and the moderator account registered with it.
	PersonalData(ctx context.Context, email string) (PersonalData, error)
	// ErasePersonalData removes email's personal data in one transaction
	// that also writes audit. Without deleteComments, its comments keep
	// their name and content but lose email, IP and user agent, and their
	// reasons are rewritten as ClientDataDelete does. With it, its comments
	// are removed with their events and revisions, except those that others
	// replied to, which become tombstones (status deleted, every author and
	// content field emptied). Its entries on the sites' email lists are
	// removed and those sites' rules versions incremented. The moderator
	// account, if any, is left alone. It returns ErrUnavailable when the
	// database cannot take the write now.
	ErasePersonalData(ctx context.Context, email string, deleteComments bool, audit AuditEntry) (EraseSummary, error)
	// AddAudit writes one audit entry.
	AddAudit(ctx context.Context, e AuditEntry) error
	// AuditEntries returns the newest limit audit entries, newest first.
	AuditEntries(ctx context.Context, limit int) ([]AuditEntry, error)
}

// ExportPersonalData returns everything stored about email and records the
// export, by actor at now, in the audit log. It returns a ValidationError
// for a blank email; the export is not returned if it cannot be recorded.
func ExportPersonalData(ctx context.Context, store PrivacyStore, actor string, now time.Time, email string) (PersonalData, error) {
	if NormalizeEmail(email) == "" {
		return PersonalData{}, Invalid("email", "Enter an email address.")
	}
	d, err := store.PersonalData(ctx, email)
	if err != nil {
		return PersonalData{}, err
	}
	err = store.AddAudit(ctx, AuditEntry{At: now, Actor: actor, Action: AuditGDPRExport,
		Subject: EmailSubject(email), Details: d.PersonalCounts()})
	if err != nil {
		return PersonalData{}, err
	}
	return d, nil
}

// ErasePersonalData erases email's personal data (see
// PrivacyStore.ErasePersonalData) and records it, by actor at now, in the
// audit log in the same transaction. It returns a ValidationError for a
// blank email.
func ErasePersonalData(ctx context.Context, store PrivacyStore, actor string, now time.Time, email string, deleteComments bool) (EraseSummary, error) {
	if NormalizeEmail(email) == "" {
		return EraseSummary{}, Invalid("email", "Enter an email address.")
	}
	return store.ErasePersonalData(ctx, email, deleteComments,
		AuditEntry{At: now, Actor: actor, Action: AuditGDPRErase, Subject: EmailSubject(email)})
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
