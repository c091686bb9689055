package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/spam"
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
	FormToken string // the signed token the form was shown with
	Honeypot  string // the field people leave empty and bots fill in
	// NotifyReplies: the author asks to be emailed when a reply to the
	// comment is approved. It is stored as given; callers set it only
	// when the site offers reply notifications.
	NotifyReplies bool
	// IdempotencyKey, if not empty, makes a retry of this submission with
	// the same key answer as the first did (see Submit).
	IdempotencyKey string
}

// Receipt is what the submitter is told: the public view of the stored
// comment and its status.
type Receipt struct {
	Comment *comment.Public
	Status  comment.Status
	// Replayed is set when the receipt is that of an earlier submission
	// with the same idempotency key: nothing was stored this time.
	Replayed bool
	// Stored is the status the comment was stored with, which is spam where
	// Status says pending. For counting only: never show it to the
	// submitter. Empty on a replayed receipt.
	Stored comment.Status
}

// Submit checks the reply target and for a duplicate, applies the site's
// rate limits, judges the comment by the site's rules, and stores it with the
// resulting status and the reasons. It returns only after the comment is
// committed. A comment judged spam gets the same receipt as a held one, so
// that spammers learn nothing. Errors: comment.ErrNotFound (unknown site),
// *comment.ValidationError (bad parent_id), comment.ErrDuplicate,
// *comment.RateLimitError, comment.ErrRejected (a block rule; nothing is
// stored), comment.ErrUnavailable (database busy), or a wrapped internal
// error.
//
// A submission with an idempotency key that the site already holds
// unexpired (for IdempotencyTTL) is not judged, limited or stored again:
// if it is the same submission (see requestHash) it gets the receipt the
// first one got, with Replayed set, and otherwise a
// *comment.ValidationError on "idempotency_key". The key is stored in the
// comment's own transaction, so a retry after a crash that followed the
// commit still finds it; of concurrent submissions with one key, one is
// stored and the others get its receipt.
func (s *Service) Submit(ctx context.Context, sub Submission) (Receipt, error) {
	site, err := s.site(ctx, sub.SiteID)
	if err != nil {
		return Receipt{}, fmt.Errorf("submit to site %q: %w", sub.SiteID, err)
	}
	var key *comment.IdempotencyKey
	if sub.IdempotencyKey != "" {
		if err := comment.CheckIdempotencyKey(sub.IdempotencyKey); err != nil {
			return Receipt{}, err
		}
		key = &comment.IdempotencyKey{SiteID: site.ID, Key: sub.IdempotencyKey, RequestHash: requestHash(sub)}
		// Before the duplicate check and the limits: a retry must neither
		// be refused as a duplicate of itself nor spend allowance.
		if rec, found, err := s.replay(ctx, *key); found || err != nil {
			return rec, err
		}
	}
	depth, err := s.replyDepth(ctx, sub)
	if err != nil {
		return Receipt{}, err
	}
	dupStart := time.Now()
	dup, err := s.store.HasDuplicate(ctx, site.ID, sub.PageKey, sub.Email, sub.Body)
	s.storeCall("duplicate_check", dupStart)
	if err != nil {
		return Receipt{}, fmt.Errorf("duplicate check: %w", err)
	}
	if dup {
		// A concurrent submission with the same key may have been stored
		// since the key was looked up.
		return s.replayOr(ctx, key, comment.ErrDuplicate)
	}
	rules, err := s.rulesOf(ctx, site)
	if err != nil {
		return Receipt{}, err
	}
	unchecked, err := s.checkLimits(ctx, site, rules.rules.RateLimits, sub)
	if err != nil {
		return s.replayOr(ctx, key, err)
	}
	html, err := s.render.Render(sub.Body)
	if err != nil {
		return Receipt{}, fmt.Errorf("render comment body: %w", err)
	}
	input, err := s.spamInput(ctx, site, rules.rules, sub, html)
	if err != nil {
		return Receipt{}, err
	}
	verdict := holdUnchecked(rules.engine.Evaluate(input), unchecked)
	if verdict.Action == spam.ActionReject {
		s.refused(ctx, site.ID, verdict)
		return Receipt{}, comment.ErrRejected
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
		Status:        verdict.Action.Status(),
		IP:            sub.IP,
		UserAgent:     sub.UserAgent,
		Reasons:       verdict.Reasons,
		NotifyReplies: sub.NotifyReplies,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	// The page's address is kept only when it lies on the site's own
	// origins; anyone could otherwise point it elsewhere with one comment.
	page := comment.Page{SiteID: site.ID, Key: sub.PageKey, URL: site.ReturnURL(sub.PageURL), Title: sub.PageTitle}
	told := c.Status
	if told == comment.StatusSpam {
		told = comment.StatusPending // never tell a spammer they were caught
	}
	start := time.Now()
	if key == nil {
		err = s.store.CreateComment(ctx, c, page)
	} else {
		key.Status, key.CreatedAt, key.ExpiresAt = told, now, now.Add(IdempotencyTTL)
		err = s.store.CreateKeyedComment(ctx, c, page, *key)
	}
	s.storeCall("create_comment", start)
	if key != nil && errors.Is(err, comment.ErrConflict) {
		// Most likely a concurrent submission with the same key committed
		// first; then this one gets its receipt.
		return s.replayOr(ctx, key, fmt.Errorf("store comment on site %q: %w", site.ID, err))
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("store comment on site %q: %w", site.ID, err)
	}
	switch c.Status {
	case comment.StatusPending:
		s.publish(ctx, events.Event{Type: events.TypeHeld, SiteID: site.ID, CommentID: c.ID, Status: string(c.Status), At: now})
	case comment.StatusApproved:
		s.pageChanged(ctx, site.ID, c.PageKey)
		s.publish(ctx, events.Event{Type: events.TypeChanged, SiteID: site.ID, CommentID: c.ID, Status: string(c.Status), At: now})
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "comment submitted",
		slog.String("site", site.ID), slog.String("comment_id", c.ID), slog.String("status", string(c.Status)))
	return Receipt{Comment: c.PublicView(), Status: told, Stored: c.Status}, nil
}

// refused counts the hits of a submission that block rules refused; it is
// not stored, so CreateComment does not count them.
func (s *Service) refused(ctx context.Context, siteID string, v spam.Verdict) {
	rules := make([]string, 0, len(v.Reasons))
	for _, r := range v.Reasons {
		rules = append(rules, r.Rule)
	}
	if err := s.store.AddRuleHits(ctx, siteID, rules); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "counting rule hits failed", slog.String("site", siteID), slog.String("err", err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "comment refused by block rules", slog.String("site", siteID))
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

// RuleLimitsUnchecked names the reason recorded on a comment whose rate
// limits were not checked against the limits every instance shares (Redis
// did not answer, or the limiter failed). Such a comment is held rather
// than approved, since a flood spread over several instances could pass
// unnoticed.
const RuleLimitsUnchecked = "rate_limits_unchecked"

// The details of a RuleLimitsUnchecked reason, as moderators read them.
const (
	detailLimitsLocal  = "rate limits checked by this instance only: Redis did not answer"
	detailLimitsFailed = "rate limits could not be checked: the rate limiter failed"
)

// checkLimits applies the site's limits per client address, per address
// prefix (IPv4 /24, IPv6 /64), per email address, per page and for the whole
// site. A bucket is only charged when the ones before it admit the comment.
// It returns a *comment.RateLimitError when a limit refuses the comment.
// Otherwise the comment may proceed, and unchecked is empty when the shared
// limits decided, or says why they could not: the limiter fell back to this
// instance's own buckets, or failed (logged here). The caller then holds a
// comment the rules would approve (see holdUnchecked).
func (s *Service) checkLimits(ctx context.Context, site comment.Site, lim spam.RateLimits, sub Submission) (unchecked string, err error) {
	// The site id in braces is the keys' hash tag: with Redis Cluster, the
	// five buckets live in one slot and are decided in one call. Addresses,
	// like emails and pages, enter the keys only as keyed hashes.
	prefix := "{" + site.ID + "}:"
	checks := []ratelimit.Check{
		{Key: prefix + "ip:" + s.keyed("ip:"+ipKey(sub.IP)), Limit: lim.IP.RateLimit()},
		{Key: prefix + "net:" + s.keyed("net:"+netKey(sub.IP)), Limit: lim.Prefix.RateLimit()},
		{Key: prefix + "email:" + s.emailKey(sub.Email), Limit: lim.Email.RateLimit()},
		{Key: prefix + "page:" + s.pageKey(sub.PageKey), Limit: lim.Page.RateLimit()},
		{Key: prefix + "all", Limit: lim.Site.RateLimit()},
	}
	r, err := s.limiter.AllowChain(ctx, checks)
	if err != nil {
		// Refusing a reader for the limiter's fault would lose the
		// comment; holding it keeps it for a moderator instead.
		s.log.LogAttrs(ctx, slog.LevelError, "rate limiter failed; comment held for review",
			slog.String("site", site.ID), slog.String("err", err.Error()))
		return detailLimitsFailed, nil
	}
	if !r.Allowed() {
		s.limitRefused(r.Index)
		return "", &comment.RateLimitError{RetryAfter: r.Decision.RetryAfter}
	}
	if r.Degraded {
		return detailLimitsLocal, nil
	}
	return "", nil
}

// holdUnchecked adds the RuleLimitsUnchecked reason to v when unchecked is
// not empty, and turns an approval into a hold. Holds, spam and rejections
// stay as they are.
func holdUnchecked(v spam.Verdict, unchecked string) spam.Verdict {
	if unchecked == "" || v.Action == spam.ActionReject {
		return v
	}
	if v.Action == spam.ActionApprove {
		v.Action = spam.ActionHold
	}
	// A copy, so that the engine's slice is never appended to in place.
	v.Reasons = append(slices.Clip(v.Reasons), comment.Reason{Rule: RuleLimitsUnchecked, Detail: unchecked})
	return v
}
