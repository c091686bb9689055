package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
)

// Submission is a reader's comment after its fields have been decoded,
// trimmed and checked for form. IP and UserAgent come from the connection,
// never from the submitted fields.
type Submission struct {
	SiteID    string
	PageKey   string
	PageURL   string
	PageTitle string
	ParentID  string
	Name      string
	Email     string
	Website   string
	Body      string
	IP        string
	UserAgent string
}

// Receipt is what the submitter is told: the public view of the stored
// comment and its status.
type Receipt struct {
	Comment *comment.Public
	Status  comment.Status
}

// Submit checks the reply target, applies the site's rate limits, renders the
// body, judges the comment and stores it. It returns only after the comment is
// committed. Errors: comment.ErrNotFound (unknown site), *comment.ValidationError
// (bad parent_id), *comment.RateLimitError, comment.ErrUnavailable (database
// busy), or a wrapped internal error.
func (s *Service) Submit(ctx context.Context, sub Submission) (Receipt, error) {
	site, err := s.store.Site(ctx, sub.SiteID)
	if err != nil {
		return Receipt{}, fmt.Errorf("submit to site %q: %w", sub.SiteID, err)
	}
	depth, err := s.replyDepth(ctx, sub)
	if err != nil {
		return Receipt{}, err
	}
	if err := s.checkLimits(ctx, site, sub); err != nil {
		return Receipt{}, err
	}
	html, err := s.render.Render(sub.Body)
	if err != nil {
		return Receipt{}, fmt.Errorf("render comment body: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Receipt{}, fmt.Errorf("new comment id: %w", err)
	}
	now := s.clock()
	c := comment.Comment{
		ID:            id.String(),
		SiteID:        site.ID,
		PageKey:       sub.PageKey,
		ParentID:      sub.ParentID,
		Depth:         depth,
		AuthorName:    sub.Name,
		AuthorEmail:   sub.Email,
		AuthorWebsite: sub.Website,
		Body:          sub.Body,
		BodyHTML:      html,
		IP:            sub.IP,
		UserAgent:     sub.UserAgent,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	c.Status, c.Reasons = judge(c)
	// The page's address is kept only when it lies on the site's own
	// origins; anyone could otherwise point it elsewhere with one comment.
	page := comment.Page{SiteID: site.ID, Key: sub.PageKey, URL: site.ReturnURL(sub.PageURL), Title: sub.PageTitle}
	if err := s.store.CreateComment(ctx, c, page); err != nil {
		return Receipt{}, fmt.Errorf("store comment on site %q: %w", site.ID, err)
	}
	if c.Status == comment.StatusPending {
		s.publish(ctx, events.Event{Type: events.TypeHeld, SiteID: site.ID, CommentID: c.ID, Status: string(c.Status), At: now})
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "comment submitted",
		slog.String("site", site.ID), slog.String("comment_id", c.ID), slog.String("status", string(c.Status)))
	return Receipt{Comment: c.PublicView(), Status: c.Status}, nil
}

// judge decides the status a new comment gets and why. Until site owners can
// set spam rules, every site is in "hold all" mode: a moderator sees every
// comment before the public does.
func judge(comment.Comment) (comment.Status, []comment.Reason) {
	return comment.StatusPending, []comment.Reason{{
		Rule:   "moderation_mode",
		Detail: "hold all: every comment waits for a moderator",
	}}
}

// replyDepth returns the depth the new comment will have. A reply must point
// at an approved comment of the same page that is not already at MaxDepth.
// Unpublished and missing parents get the same answer, so that the reply
// field cannot be used to probe for held comments.
func (s *Service) replyDepth(ctx context.Context, sub Submission) (int, error) {
	if sub.ParentID == "" {
		return 1, nil
	}
	parent, err := s.store.Comment(ctx, sub.ParentID)
	switch {
	case errors.Is(err, comment.ErrNotFound):
		return 0, comment.Invalid("parent_id", "The comment you are replying to is not published on this page.")
	case err != nil:
		return 0, fmt.Errorf("load parent comment: %w", err)
	}
	if parent.SiteID != sub.SiteID || parent.PageKey != sub.PageKey || parent.Status != comment.StatusApproved {
		return 0, comment.Invalid("parent_id", "The comment you are replying to is not published on this page.")
	}
	if parent.Depth >= comment.MaxDepth {
		return 0, comment.Invalid("parent_id", fmt.Sprintf("Replies nest at most %d levels deep; reply to an earlier comment in this thread instead.", comment.MaxDepth))
	}
	return parent.Depth + 1, nil
}

// checkLimits applies the site's limit per client address and per email
// address. The email bucket is only charged when the address bucket admits
// the comment. A limiter error never refuses a comment: the limiters fall back
// on their own, and an error here is logged and let through.
func (s *Service) checkLimits(ctx context.Context, site comment.Site, sub Submission) error {
	keys := []string{
		"site:" + site.ID + ":ip:" + ipKey(sub.IP),
		"site:" + site.ID + ":email:" + s.emailKey(sub.Email),
	}
	for _, key := range keys {
		d, err := s.limiter.Allow(ctx, key, site.RateLimit)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "rate limiter failed; comment let through",
				slog.String("site", site.ID), slog.String("err", err.Error()))
			continue
		}
		if !d.Allowed {
			return &comment.RateLimitError{RetryAfter: d.RetryAfter}
		}
	}
	return nil
}
