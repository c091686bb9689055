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
)

// Action is a moderator's decision on one comment.
type Action string

// The actions a moderator can take, each moving the comment to one status.
const (
	ActionApprove Action = "approve"
	ActionReject  Action = "reject"
	ActionSpam    Action = "spam"
)

// Status returns the status the action moves a comment to, and whether the
// action is known.
func (a Action) Status() (comment.Status, bool) {
	switch a {
	case ActionApprove:
		return comment.StatusApproved, true
	case ActionReject:
		return comment.StatusRejected, true
	case ActionSpam:
		return comment.StatusSpam, true
	}
	return "", false
}

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
	Cursor  string // from QueuePage.Next
	Limit   int    // 1..MaxQueuePage; anything else means DefaultQueuePage
}

// QueuePage is one page of the queue, oldest first. Next is empty on the
// last page.
type QueuePage struct {
	Comments []comment.Comment
	Next     string
}

// Queue lists comments for a moderator. Errors: comment.ErrForbidden when p
// may not moderate f.SiteID, comment.ErrNotFound for an unknown site,
// *comment.ValidationError for a bad cursor.
func (s *Service) Queue(ctx context.Context, p comment.Principal, f QueueFilter) (QueuePage, error) {
	lf := comment.ListFilter{Status: f.Status, PageKey: f.PageKey, Limit: f.Limit}
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
	want := lf.Limit
	if want <= 0 || want > MaxQueuePage {
		want = DefaultQueuePage
	}
	// Ask for one more than the page holds to learn whether a next page exists.
	lf.Limit = want + 1
	list, err := s.store.List(ctx, lf)
	if err != nil {
		return QueuePage{}, fmt.Errorf("list queue: %w", err)
	}
	page := QueuePage{Comments: list}
	if len(list) > want {
		page.Comments = list[:want]
		last := page.Comments[want-1]
		page.Next = encodeCursor(comment.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return page, nil
}

// Get returns one comment with its history. Errors: comment.ErrNotFound,
// comment.ErrForbidden when p may not moderate the comment's site.
func (s *Service) Get(ctx context.Context, p comment.Principal, id string) (comment.Comment, []comment.Event, error) {
	c, err := s.authorized(ctx, p, id)
	if err != nil {
		return comment.Comment{}, nil, err
	}
	h, err := s.store.History(ctx, id)
	if err != nil {
		return comment.Comment{}, nil, fmt.Errorf("history of comment %s: %w", id, err)
	}
	return c, h, nil
}

// Act applies a moderator's action. It is idempotent: repeating it changes
// nothing and records nothing new. Errors: comment.ErrNotFound,
// comment.ErrForbidden, *comment.ValidationError for an unknown action.
func (s *Service) Act(ctx context.Context, p comment.Principal, id string, a Action) (comment.Comment, error) {
	to, ok := a.Status()
	if !ok {
		return comment.Comment{}, comment.Invalid("action", "Unknown action.")
	}
	if _, err := s.authorized(ctx, p, id); err != nil {
		return comment.Comment{}, err
	}
	c, err := s.store.SetStatus(ctx, comment.StatusChange{ID: id, To: to, Actor: p.Name, Action: string(a), At: s.clock()})
	if err != nil {
		return comment.Comment{}, fmt.Errorf("%s comment %s: %w", a, id, err)
	}
	return c, nil
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
	return comment.Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}
