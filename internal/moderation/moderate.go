package moderation

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/spam"
)

// Action is a moderator's decision on one comment.
type Action string

// The actions a moderator can take.
const (
	ActionApprove         Action = "approve"
	ActionReject          Action = "reject"
	ActionSpam            Action = "spam"
	ActionDelete          Action = "delete"
	ActionRestore         Action = "restore"           // a deleted comment back to where it was
	ActionUndo            Action = "undo"              // the caller's last status change, if recent
	ActionApproveAndTrust Action = "approve-and-trust" // approve; the author's email skips the hold from now on
	ActionSpamAndBlock    Action = "spam-and-block"    // spam; the author's email and IP are blocked
)

// Actions lists every action, in the order a menu shows them.
func Actions() []Action {
	return []Action{ActionApprove, ActionReject, ActionSpam, ActionDelete, ActionRestore, ActionUndo, ActionApproveAndTrust, ActionSpamAndBlock}
}

// directStatus returns the status an action moves a comment to, for the
// actions that always move to the same one.
func (a Action) directStatus() (comment.Status, bool) {
	switch a {
	case ActionApprove, ActionApproveAndTrust:
		return comment.StatusApproved, true
	case ActionReject:
		return comment.StatusRejected, true
	case ActionSpam, ActionSpamAndBlock:
		return comment.StatusSpam, true
	case ActionDelete:
		return comment.StatusDeleted, true
	}
	return "", false
}

// UndoWindow is how long after a status change its author may undo it.
const UndoWindow = 10 * time.Minute

// Page sizes of the moderation queue.
const (
	DefaultQueuePage = 50
	MaxQueuePage     = 200
)

// QueueFilter selects a page of the moderation queue.
type QueueFilter struct {
	SiteID  string // empty: every site the caller may moderate
	Status  comment.Status
	PageKey string
	Email   string
	IP      string
	Query   string // words that must all occur in the body or the author's name
	Cursor  string // from QueuePage.Next
	Limit   int    // 1..MaxQueuePage; anything else means DefaultQueuePage
}

// Item is a comment as a moderator sees it: with its page, the comment it
// replies to, and the author's record on the site.
type Item struct {
	Comment comment.Comment
	Page    comment.Page     // zero when the page is unknown
	Parent  *comment.Comment // nil for a top-level comment
	Author  comment.AuthorStats
}

// QueuePage is one page of the queue, oldest first. Next is empty on the
// last page.
type QueuePage struct {
	Items []Item
	Next  string
}

// Queue lists comments for a moderator. Errors: comment.ErrForbidden when p
// may not moderate f.SiteID, comment.ErrNotFound for an unknown site,
// *comment.ValidationError for a bad cursor.
func (s *Service) Queue(ctx context.Context, p comment.Principal, f QueueFilter) (QueuePage, error) {
	lf := comment.ListFilter{Status: f.Status, PageKey: f.PageKey, AuthorEmail: f.Email, IP: f.IP, Query: f.Query}
	if lf.Status == "" {
		lf.Status = comment.StatusPending
	}
	switch {
	case f.SiteID != "":
		if !p.CanModerate(f.SiteID) {
			return QueuePage{}, comment.ErrForbidden
		}
		if _, err := s.store.Site(ctx, f.SiteID); err != nil {
			return QueuePage{}, fmt.Errorf("queue of site %q: %w", f.SiteID, err)
		}
		lf.SiteIDs = []string{f.SiteID}
	case !p.Admin:
		lf.SiteIDs = p.SiteIDs()
		if len(lf.SiteIDs) == 0 {
			return QueuePage{}, comment.ErrForbidden
		}
	}
	if f.Cursor != "" {
		cur, err := decodeCursor(f.Cursor)
		if err != nil {
			return QueuePage{}, comment.Invalid("cursor", "The cursor is not one this server handed out.")
		}
		lf.After = &cur
	}
	want := f.Limit
	if want <= 0 || want > MaxQueuePage {
		want = DefaultQueuePage
	}
	// Ask for one more than the page holds to learn whether a next page exists.
	lf.Limit = want + 1
	start := time.Now()
	list, err := s.store.List(ctx, lf)
	s.storeCall("queue", start)
	if err != nil {
		return QueuePage{}, fmt.Errorf("list queue: %w", err)
	}
	var page QueuePage
	if len(list) > want {
		list = list[:want]
		last := list[want-1]
		page.Next = encodeCursor(comment.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	page.Items, err = s.items(ctx, list)
	if err != nil {
		return QueuePage{}, err
	}
	return page, nil
}

// items adds to each comment its page, parent and author record, with one
// batched query for each.
func (s *Service) items(ctx context.Context, list []comment.Comment) ([]Item, error) {
	var parentIDs []string
	refs := make([]comment.PageRef, 0, len(list))
	authors := make([]comment.AuthorKey, 0, len(list))
	for _, c := range list {
		if c.ParentID != "" {
			parentIDs = append(parentIDs, c.ParentID)
		}
		refs = append(refs, comment.PageRef{SiteID: c.SiteID, Key: c.PageKey})
		authors = append(authors, authorKey(c))
	}
	parents, err := s.store.CommentsByID(ctx, parentIDs)
	if err != nil {
		return nil, fmt.Errorf("parents: %w", err)
	}
	pages, err := s.store.PagesByRef(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	stats, err := s.store.AuthorStats(ctx, authors)
	if err != nil {
		return nil, fmt.Errorf("author stats: %w", err)
	}
	out := make([]Item, 0, len(list))
	for _, c := range list {
		it := Item{Comment: c, Page: pages[comment.PageRef{SiteID: c.SiteID, Key: c.PageKey}], Author: stats[authorKey(c)]}
		if p, ok := parents[c.ParentID]; ok {
			it.Parent = &p
		}
		out = append(out, it)
	}
	return out, nil
}

func authorKey(c comment.Comment) comment.AuthorKey {
	return comment.AuthorKey{SiteID: c.SiteID, Email: strings.ToLower(c.AuthorEmail)}
}

// Detail is everything a moderator can know of one comment.
type Detail struct {
	Item      Item
	History   []comment.Event
	Revisions []comment.Revision
}

// Get returns one comment in full. Errors: comment.ErrNotFound,
// comment.ErrForbidden when p may not moderate the comment's site.
func (s *Service) Get(ctx context.Context, p comment.Principal, id string) (Detail, error) {
	c, err := s.authorized(ctx, p, id)
	if err != nil {
		return Detail{}, err
	}
	items, err := s.items(ctx, []comment.Comment{c})
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Item: items[0]}
	if d.History, err = s.store.History(ctx, id); err != nil {
		return Detail{}, fmt.Errorf("history of comment %s: %w", id, err)
	}
	if d.Revisions, err = s.store.Revisions(ctx, id); err != nil {
		return Detail{}, fmt.Errorf("revisions of comment %s: %w", id, err)
	}
	return d, nil
}

// Act applies a moderator's action. Repeating an action changes nothing and
// records nothing new. Errors: comment.ErrNotFound, comment.ErrForbidden,
// *comment.ValidationError for an unknown action or nothing to undo.
func (s *Service) Act(ctx context.Context, p comment.Principal, id string, a Action) (comment.Comment, error) {
	c, err := s.authorized(ctx, p, id)
	if err != nil {
		return comment.Comment{}, err
	}
	to, ok := a.directStatus()
	switch {
	case ok:
	case a == ActionRestore:
		if to, err = s.restoreTarget(ctx, c); err != nil {
			return comment.Comment{}, err
		}
	case a == ActionUndo:
		var undone Action
		if to, undone, err = s.undoTarget(ctx, p, c); err != nil {
			return comment.Comment{}, err
		}
		if err := s.undoSideEffects(ctx, c, undone); err != nil {
			return comment.Comment{}, err
		}
	default:
		return comment.Comment{}, comment.Invalid("action", "Unknown action.")
	}
	if err := s.sideEffects(ctx, p, c, a); err != nil {
		return comment.Comment{}, err
	}
	at := s.clock()
	start := time.Now()
	updated, err := s.store.SetStatus(ctx, comment.StatusChange{ID: id, To: to, Actor: p.Name, Action: string(a), At: at})
	s.storeCall("set_status", start)
	if err != nil {
		return comment.Comment{}, fmt.Errorf("%s comment %s: %w", a, id, err)
	}
	// Whatever this call found, the comment may have moved in or out of
	// the approved status since it was read (another moderator at once).
	s.pageChanged(ctx, c.SiteID, c.PageKey)
	// Only the call whose change was written announces it: of several
	// moderators approving at once, one wrote (its time is the comment's
	// update time) and the others found it approved already.
	if updated.Status == to && updated.UpdatedAt.Equal(at) && to != c.Status {
		s.publish(ctx, events.Event{Type: events.TypeChanged, SiteID: c.SiteID, CommentID: c.ID, Status: string(updated.Status), At: at})
	}
	return updated, nil
}

// restoreTarget is the status a deleted comment had before it was deleted
// (pending if that is not recorded). A comment that is not deleted stays.
func (s *Service) restoreTarget(ctx context.Context, c comment.Comment) (comment.Status, error) {
	if c.Status != comment.StatusDeleted {
		return c.Status, nil
	}
	h, err := s.store.History(ctx, c.ID)
	if err != nil {
		return "", fmt.Errorf("history of comment %s: %w", c.ID, err)
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].ToStatus == comment.StatusDeleted && h[i].FromStatus != "" && h[i].FromStatus != comment.StatusDeleted {
			return h[i].FromStatus, nil
		}
	}
	return comment.StatusPending, nil
}

// undoTarget is the status before the caller's last status change of c, if
// that change is the comment's latest event and recent enough, and the
// action that made it.
func (s *Service) undoTarget(ctx context.Context, p comment.Principal, c comment.Comment) (comment.Status, Action, error) {
	h, err := s.store.History(ctx, c.ID)
	if err != nil {
		return "", "", fmt.Errorf("history of comment %s: %w", c.ID, err)
	}
	nothing := comment.Invalid("action", "There is no recent action of yours on this comment to undo.")
	if len(h) == 0 {
		return "", "", nothing
	}
	last := h[len(h)-1]
	if last.Actor != p.Name || last.FromStatus == "" || last.FromStatus == last.ToStatus ||
		last.Action == string(ActionUndo) || s.clock().Sub(last.At) > UndoWindow || last.ToStatus != c.Status {
		return "", "", nothing
	}
	return last.FromStatus, Action(last.Action), nil
}

// undoSideEffects takes back what an undone action wrote to the site's
// lists: the trusted email of "approve and trust", the blocked email and IP
// of "spam and block".
func (s *Service) undoSideEffects(ctx context.Context, c comment.Comment, undone Action) error {
	type entry struct{ list, value string }
	var entries []entry
	switch undone {
	case ActionApproveAndTrust:
		entries = append(entries, entry{comment.ListTrustedEmails, strings.ToLower(c.AuthorEmail)})
	case ActionSpamAndBlock:
		entries = append(entries, entry{comment.ListBlockedEmails, strings.ToLower(c.AuthorEmail)})
		if c.IP != "" {
			entries = append(entries, entry{comment.ListBlockedIPs, c.IP})
		}
	}
	for _, e := range entries {
		if err := s.store.DeleteListEntry(ctx, c.SiteID, e.list, e.value); err != nil {
			return fmt.Errorf("remove from %s of site %q: %w", e.list, c.SiteID, err)
		}
	}
	if len(entries) > 0 {
		s.rulesChanged(ctx, c.SiteID)
	}
	return nil
}

// sideEffects writes to the site's lists for the actions that do so. They
// are written before the status changes, so that a failure leaves the
// comment as it was and the action can be repeated.
func (s *Service) sideEffects(ctx context.Context, p comment.Principal, c comment.Comment, a Action) error {
	var entries []comment.ListEntry
	now := s.clock()
	switch a {
	case ActionApproveAndTrust:
		entries = append(entries, comment.ListEntry{SiteID: c.SiteID, List: comment.ListTrustedEmails, Value: strings.ToLower(c.AuthorEmail), CreatedBy: p.Name, CreatedAt: now})
	case ActionSpamAndBlock:
		entries = append(entries, comment.ListEntry{SiteID: c.SiteID, List: comment.ListBlockedEmails, Value: strings.ToLower(c.AuthorEmail), CreatedBy: p.Name, CreatedAt: now})
		if c.IP != "" {
			entries = append(entries, comment.ListEntry{SiteID: c.SiteID, List: comment.ListBlockedIPs, Value: c.IP, CreatedBy: p.Name, CreatedAt: now})
		}
	}
	for _, e := range entries {
		existing, err := s.store.ListEntries(ctx, e.SiteID, e.List)
		if err != nil {
			return fmt.Errorf("%s of site %q: %w", e.List, e.SiteID, err)
		}
		if len(existing) >= spam.MaxListEntries {
			return comment.Invalid("action", fmt.Sprintf("The site's %s list is full (%d entries); remove some on the rules page first.", e.List, spam.MaxListEntries))
		}
	}
	for _, e := range entries {
		if err := s.store.AddListEntry(ctx, e); err != nil {
			return fmt.Errorf("add to %s of site %q: %w", e.List, e.SiteID, err)
		}
	}
	if len(entries) > 0 {
		s.rulesChanged(ctx, c.SiteID)
	}
	return nil
}

// EditInput is a moderator's change to a comment's content; the handler has
// validated each field as it does a reader's. A nil field stays as it is.
type EditInput struct {
	Name    *string
	Website *string
	Body    *string
}

// Edit changes a comment's body, author name and website, keeping the
// previous version. An edit that changes nothing writes nothing. Errors:
// comment.ErrNotFound, comment.ErrForbidden.
func (s *Service) Edit(ctx context.Context, p comment.Principal, id string, e EditInput) (comment.Comment, error) {
	c, err := s.authorized(ctx, p, id)
	if err != nil {
		return comment.Comment{}, err
	}
	in := struct{ Name, Website, Body string }{c.AuthorName, c.AuthorWebsite, c.Body}
	if e.Name != nil {
		in.Name = *e.Name
	}
	if e.Website != nil {
		in.Website = *e.Website
	}
	if e.Body != nil {
		in.Body = *e.Body
	}
	if in.Name == c.AuthorName && in.Website == c.AuthorWebsite && in.Body == c.Body {
		return c, nil
	}
	html, err := s.render.Render(in.Body)
	if err != nil {
		return comment.Comment{}, fmt.Errorf("render comment body: %w", err)
	}
	updated, err := s.store.EditComment(ctx, comment.Edit{ID: id, AuthorName: in.Name, AuthorWebsite: in.Website, Body: in.Body, BodyHTML: html, Actor: p.Name, At: s.clock()})
	if err != nil {
		return comment.Comment{}, fmt.Errorf("edit comment %s: %w", id, err)
	}
	s.pageChanged(ctx, c.SiteID, c.PageKey)
	s.publish(ctx, events.Event{Type: events.TypeChanged, SiteID: c.SiteID, CommentID: c.ID, Status: string(updated.Status), At: s.clock()})
	return updated, nil
}

// MaxBulk is how many comments one bulk action may name.
const MaxBulk = 200

// BulkResult is the outcome of a bulk action for one comment.
type BulkResult struct {
	ID      string
	Comment comment.Comment // set when Err is nil
	Err     error
}

// Bulk applies one action to each of ids (duplicates once), answering per
// id; one failure does not stop the others. Errors (for the whole call):
// *comment.ValidationError for no ids, too many, or an unknown action.
func (s *Service) Bulk(ctx context.Context, p comment.Principal, ids []string, a Action) ([]BulkResult, error) {
	if len(ids) == 0 {
		return nil, comment.Invalid("ids", "Select at least one comment.")
	}
	if len(ids) > MaxBulk {
		return nil, comment.Invalid("ids", fmt.Sprintf("At most %d comments at a time.", MaxBulk))
	}
	if _, ok := a.directStatus(); !ok && a != ActionRestore && a != ActionUndo {
		return nil, comment.Invalid("action", "Unknown action.")
	}
	seen := make(map[string]bool, len(ids))
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := s.Act(ctx, p, id, a)
		out = append(out, BulkResult{ID: id, Comment: c, Err: err})
	}
	return out, nil
}

func (s *Service) authorized(ctx context.Context, p comment.Principal, id string) (comment.Comment, error) {
	c, err := s.store.Comment(ctx, id)
	if err != nil {
		return comment.Comment{}, fmt.Errorf("load comment %s: %w", id, err)
	}
	if !p.CanModerate(c.SiteID) {
		return comment.Comment{}, comment.ErrForbidden
	}
	return c, nil
}

// SiteLists returns a site's trusted and blocked lists. comment.ErrForbidden
// unless p may moderate the site.
func (s *Service) SiteLists(ctx context.Context, p comment.Principal, siteID string) (map[string][]comment.ListEntry, error) {
	if !p.CanModerate(siteID) {
		return nil, comment.ErrForbidden
	}
	if _, err := s.store.Site(ctx, siteID); err != nil {
		return nil, err
	}
	out := map[string][]comment.ListEntry{}
	for _, l := range []string{comment.ListTrustedEmails, comment.ListBlockedEmails, comment.ListBlockedIPs} {
		entries, err := s.store.ListEntries(ctx, siteID, l)
		if err != nil {
			return nil, fmt.Errorf("%s of site %q: %w", l, siteID, err)
		}
		out[l] = entries
	}
	return out, nil
}

// encodeCursor makes an opaque token of a queue position.
func encodeCursor(c comment.Cursor) string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (comment.Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return comment.Cursor{}, err
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	if !ok || id == "" || len(id) > 64 || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return comment.Cursor{}, fmt.Errorf("cursor without a valid id")
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return comment.Cursor{}, err
	}
	// Years 1 to 9999: what every store can hold.
	if us < -62135596800000000 || us > 253402300799000000 {
		return comment.Cursor{}, fmt.Errorf("cursor time out of range")
	}
	return comment.Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}
