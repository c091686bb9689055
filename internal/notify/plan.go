package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
)

// confirmEvery is the least time between two confirmation requests to one
// address on one site.
const confirmEvery = 24 * time.Hour

// payload is what a delivery carries (stored as JSON): the rendered email,
// or the webhook's body as the exact bytes to send on every attempt.
type payload struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	// Item is the comment's entry in a digest email.
	Item string `json:"item,omitempty"`
	// Unsubscribe is the reader's one-click unsubscribe link.
	Unsubscribe string `json:"unsubscribe,omitempty"`
	// Body is the webhook request body.
	Body string `json:"body,omitempty"`
}

// maxJobAttempts is how many times a job is claimed before a job whose
// planning keeps failing is given up.
const maxJobAttempts = 10

// planJobs claims a batch of jobs, plans each and writes all their
// outcomes in one transaction; it returns how many it claimed.
func (w *Worker) planJobs(ctx context.Context) (int, error) {
	now := w.now()
	jobs, err := w.opt.Store.ClaimNotifyJobs(ctx, now, now.Add(jobLease), jobBatch)
	if err != nil {
		return 0, err
	}
	var (
		outcomes  []comment.JobOutcome
		abandoned = map[int64]bool{}
	)
	for _, j := range jobs {
		if ctx.Err() != nil {
			break // the others are claimed again when their lease ends
		}
		out, err := w.plan(ctx, j)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			err = fmt.Errorf("%s job for comment %s: %w", j.Kind, j.CommentID, err)
			if j.Attempts < maxJobAttempts {
				// Left to be claimed again when its lease ends.
				w.logErr(ctx, "notify: planning a job", err)
				continue
			}
			w.log.Error("notify: giving up a job that failed every attempt", "job", j.ID, "kind", string(j.Kind),
				"comment_id", j.CommentID, "attempts", j.Attempts, "err", err)
			abandoned[j.ID] = true
			out = comment.JobOutcome{} // deletes the job
		}
		out.JobID = j.ID
		outcomes = append(outcomes, out)
	}
	w.finishJobs(ctx, jobs, outcomes, abandoned)
	return len(jobs), nil
}

// finishJobs writes the outcomes of planned jobs, in one transaction, even
// when ctx has ended. If that fails, each is written on its own, so that
// one the store refuses does not hold back the others; a job out of
// attempts whose outcome cannot be written is deleted.
func (w *Worker) finishJobs(ctx context.Context, jobs []comment.NotifyJob, outcomes []comment.JobOutcome, abandoned map[int64]bool) {
	if len(outcomes) == 0 {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	countAbandoned := func(id int64) {
		if abandoned[id] {
			w.jobsAbandoned.Inc()
		}
	}
	_, err := w.opt.Store.FinishNotifyJobs(fctx, outcomes)
	if err == nil {
		for _, o := range outcomes {
			countAbandoned(o.JobID)
		}
		return
	}
	if len(outcomes) == 1 && !abandoned[outcomes[0].JobID] && jobAttempts(jobs, outcomes[0].JobID) < maxJobAttempts {
		w.log.Warn("notify: finishing a job", "job", outcomes[0].JobID, "err", err)
		return
	}
	w.log.Warn("notify: finishing jobs; trying each on its own", "jobs", len(outcomes), "err", err)
	for _, o := range outcomes {
		_, err := w.opt.Store.FinishNotifyJobs(fctx, []comment.JobOutcome{o})
		if err == nil {
			countAbandoned(o.JobID)
			continue
		}
		if n := jobAttempts(jobs, o.JobID); n >= maxJobAttempts && !abandoned[o.JobID] {
			w.log.Error("notify: giving up a job whose outcome could not be written at any attempt", "job", o.JobID,
				"attempts", n, "err", err)
			if _, derr := w.opt.Store.FinishNotifyJobs(fctx, []comment.JobOutcome{{JobID: o.JobID}}); derr == nil {
				w.jobsAbandoned.Inc()
				continue
			}
		}
		w.log.Warn("notify: finishing a job", "job", o.JobID, "err", err)
	}
}

// jobAttempts returns the attempts of the job with id among jobs.
func jobAttempts(jobs []comment.NotifyJob, id int64) int {
	for _, j := range jobs {
		if j.ID == id {
			return j.Attempts
		}
	}
	return 0
}

// plan decides who is to be told of a job's comment. A comment that is
// gone, or has moved on since the job was written, calls for nothing.
func (w *Worker) plan(ctx context.Context, j comment.NotifyJob) (comment.JobOutcome, error) {
	sub, err := w.opt.Store.NotifySubject(ctx, j.CommentID)
	if errors.Is(err, comment.ErrNotFound) {
		return comment.JobOutcome{}, nil
	}
	if err != nil {
		return comment.JobOutcome{}, err
	}
	site, ok := w.opt.Sites[sub.Comment.SiteID]
	if !ok {
		return comment.JobOutcome{}, nil
	}
	siteName := sub.Comment.SiteID
	if s, err := w.opt.Store.Site(ctx, sub.Comment.SiteID); err == nil {
		siteName = s.Name
	} else if !errors.Is(err, comment.ErrNotFound) {
		return comment.JobOutcome{}, err
	}
	switch j.Kind {
	case comment.NotifyHeld:
		return w.planHeld(ctx, sub, site, siteName)
	case comment.NotifyReply:
		return w.planReply(ctx, sub, site, siteName)
	case comment.NotifyConfirm:
		return w.planConfirm(sub, site, siteName), nil
	}
	return comment.JobOutcome{}, nil
}

// newDelivery returns a due delivery of the comment's site.
func (w *Worker) newDelivery(kind comment.NotifyKind, ch comment.NotifyChannel, c comment.Comment, to string, p payload, next time.Time) (comment.NotifyDelivery, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return comment.NotifyDelivery{}, fmt.Errorf("encode payload: %w", err)
	}
	now := w.now().UTC().Truncate(time.Microsecond)
	return comment.NotifyDelivery{
		ID: uuid.Must(uuid.NewV7()).String(), SiteID: c.SiteID, Kind: kind, Channel: ch, Recipient: to,
		CommentID: c.ID, Payload: body, State: comment.DeliveryDue, NextAt: next.UTC().Truncate(time.Microsecond), CreatedAt: now,
	}, nil
}

// planHeld tells the site's moderators (by email, maybe in a digest) and
// its webhook of a comment still pending.
func (w *Worker) planHeld(ctx context.Context, sub comment.NotifySubject, site Site, siteName string) (comment.JobOutcome, error) {
	c := sub.Comment
	if c.Status != comment.StatusPending {
		return comment.JobOutcome{}, nil
	}
	now := w.now()
	var out comment.JobOutcome
	if w.mailer != nil {
		msg := heldEmail(w.opt.BaseURL, siteName, sub)
		seen := map[string]bool{}
		for _, to := range site.Emails {
			key := strings.ToLower(to)
			if seen[key] {
				continue
			}
			seen[key] = true
			next, digestKey := now, ""
			if site.Digest > 0 {
				digestKey = "held " + c.SiteID + " " + key
				last, err := w.opt.Store.LastNotifyDigest(ctx, digestKey)
				if err != nil {
					return comment.JobOutcome{}, err
				}
				// The first comment of a digest waits a whole period for
				// others to join it, and never less than a period after
				// the last digest.
				next = now.Add(site.Digest)
				if n := last.Add(site.Digest); n.After(next) {
					next = n
				}
			}
			d, err := w.newDelivery(comment.NotifyHeld, comment.ChannelEmail, c, to, msg, next)
			if err != nil {
				return comment.JobOutcome{}, err
			}
			d.DigestKey = digestKey
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	if site.WebhookURL != "" {
		id := uuid.Must(uuid.NewV7()).String()
		body, err := heldWebhookBody(w.opt.BaseURL, id, siteName, sub, now)
		if err != nil {
			return comment.JobOutcome{}, err
		}
		d, err := w.newDelivery(comment.NotifyHeld, comment.ChannelWebhook, c, site.WebhookURL, payload{Body: string(body)}, now)
		if err != nil {
			return comment.JobOutcome{}, err
		}
		d.ID = id
		out.Deliveries = append(out.Deliveries, d)
	}
	return out, nil
}

// planReply tells the parent's author of an approved reply, if they asked
// to be told and confirmed the address, and did not write the reply.
func (w *Worker) planReply(ctx context.Context, sub comment.NotifySubject, site Site, siteName string) (comment.JobOutcome, error) {
	reply := sub.Comment
	if w.mailer == nil || !site.Replies || reply.Status != comment.StatusApproved || reply.ParentID == "" {
		return comment.JobOutcome{}, nil
	}
	parent, err := w.opt.Store.NotifySubject(ctx, reply.ParentID)
	if errors.Is(err, comment.ErrNotFound) {
		return comment.JobOutcome{}, nil
	}
	if err != nil {
		return comment.JobOutcome{}, err
	}
	p := parent.Comment
	if !p.NotifyReplies || p.Status != comment.StatusApproved || p.AuthorEmail == "" ||
		strings.EqualFold(p.AuthorEmail, reply.AuthorEmail) {
		return comment.JobOutcome{}, nil
	}
	state, err := w.opt.Store.ReaderState(ctx, p.SiteID, p.AuthorEmail)
	if err != nil {
		return comment.JobOutcome{}, err
	}
	if state != comment.ReaderConfirmed {
		return comment.JobOutcome{}, nil
	}
	unsubscribe := UnsubscribeURL(w.opt.BaseURL, w.opt.Secret, p.SiteID, p.AuthorEmail)
	msg := replyEmail(siteName, sub, unsubscribe)
	d, err := w.newDelivery(comment.NotifyReply, comment.ChannelEmail, reply, p.AuthorEmail, msg, w.now())
	if err != nil {
		return comment.JobOutcome{}, err
	}
	return comment.JobOutcome{Deliveries: []comment.NotifyDelivery{d}}, nil
}

// planConfirm asks the author of a comment that ticked "notify me of
// replies" to confirm the address. The store writes it only if the
// comment still asks for replies from the address, the address is neither
// confirmed nor unsubscribed, and it was not asked within confirmEvery.
func (w *Worker) planConfirm(sub comment.NotifySubject, site Site, siteName string) comment.JobOutcome {
	c := sub.Comment
	if w.mailer == nil || !site.Replies || !c.NotifyReplies || c.AuthorEmail == "" ||
		(c.Status != comment.StatusPending && c.Status != comment.StatusApproved) {
		return comment.JobOutcome{}
	}
	now := w.now().UTC().Truncate(time.Microsecond)
	link := ConfirmURL(w.opt.BaseURL, w.opt.Secret, c.SiteID, c.AuthorEmail, now)
	unsubscribe := UnsubscribeURL(w.opt.BaseURL, w.opt.Secret, c.SiteID, c.AuthorEmail)
	d, err := w.newDelivery(comment.NotifyConfirm, comment.ChannelEmail, c, c.AuthorEmail, confirmEmail(siteName, sub, link, unsubscribe), now)
	if err != nil {
		return comment.JobOutcome{}
	}
	return comment.JobOutcome{
		Deliveries: []comment.NotifyDelivery{d},
		Confirm: &comment.ConfirmRequest{
			SiteID: c.SiteID, EmailLower: strings.ToLower(c.AuthorEmail), CommentID: c.ID, At: now, NotSince: now.Add(-confirmEvery),
		},
	}
}
