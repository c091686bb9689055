package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/commentd/commentd/internal/comment"
)

// Metric results of an attempt.
const (
	resultSent    = "sent"
	resultRetry   = "retry"
	resultFailed  = "failed"
	resultDropped = "dropped"
)

// recordTimeout bounds writing a round's results. They are written even
// when the worker is stopping: a message sent but not recorded would be
// sent again once its lease ends.
const recordTimeout = 5 * time.Second

// round is one sendDue round: the lease under which its deliveries were
// claimed, and their results, recorded together at its end.
type round struct {
	lease   time.Time
	results []comment.DeliveryResult
	// counted is the metric result of each result ("" for none).
	counted []string
	labels  [][2]string // channel, kind
}

func (r *round) add(d comment.NotifyDelivery, res comment.DeliveryResult, result string) {
	res.ID, res.Lease = d.ID, r.lease
	r.results = append(r.results, res)
	r.counted = append(r.counted, result)
	r.labels = append(r.labels, [2]string{string(d.Channel), string(d.Kind)})
}

// sendDue claims due deliveries and tries each (each digest group as one
// message), then records every result in one write; it returns how many
// it claimed.
func (w *Worker) sendDue(ctx context.Context) (int, error) {
	now := w.now()
	lease := now.Add(w.lease).UTC().Truncate(time.Microsecond)
	ds, err := w.opt.Store.ClaimNotifyDeliveries(ctx, now, lease, deliveryBatch)
	if err != nil {
		return 0, err
	}
	r := &round{lease: lease}
	groups := map[string][]comment.NotifyDelivery{}
	var order []string
	for _, d := range ds {
		if d.DigestKey == "" {
			if ctx.Err() != nil {
				w.release(r, d)
				continue
			}
			w.sendOne(ctx, r, d)
			continue
		}
		if _, ok := groups[d.DigestKey]; !ok {
			order = append(order, d.DigestKey)
		}
		groups[d.DigestKey] = append(groups[d.DigestKey], d)
	}
	for _, key := range order {
		if ctx.Err() != nil {
			for _, d := range groups[key] {
				w.release(r, d)
			}
			continue
		}
		w.sendDigest(ctx, r, groups[key])
	}
	w.record(ctx, r)
	return len(ds), nil
}

// record writes a round's results and counts those written.
func (w *Worker) record(ctx context.Context, r *round) {
	if len(r.results) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	skipped, err := w.opt.Store.MarkNotifyDeliveries(rctx, r.results)
	if err != nil {
		// Left claimed: when the lease ends they are tried again (a sent
		// message is then sent twice rather than never).
		w.log.Warn("notify: recording deliveries", "deliveries", len(r.results), "err", err)
		return
	}
	if len(skipped) > 0 {
		w.log.Warn("notify: results not recorded: the deliveries were finished or claimed again meanwhile", "deliveries", len(skipped))
	}
	for i, res := range r.results {
		if r.counted[i] == "" || slices.Contains(skipped, res.ID) {
			continue
		}
		w.deliveries.WithLabelValues(r.labels[i][0], r.labels[i][1], r.counted[i]).Inc()
	}
}

// sendError is a failed attempt; permanent ones are not tried again.
type sendError struct {
	err       error
	permanent bool
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// stillCalledFor reports whether a delivery is still wanted: the site is
// still configured; a held comment is still pending; a reply is still
// approved, to the address of a parent that still asks for replies, still
// confirmed, on a site that still offers reply emails; a confirmation
// request is about a comment still pending or approved that still asks for
// replies from the address, still unconfirmed, on such a site. (An erased
// author's comments ask for nothing and have no address.)
func (w *Worker) stillCalledFor(ctx context.Context, d comment.NotifyDelivery) (bool, error) {
	site, ok := w.opt.Sites[d.SiteID]
	if !ok {
		return false, nil
	}
	if (d.Kind == comment.NotifyReply || d.Kind == comment.NotifyConfirm) && !site.Replies {
		return false, nil
	}
	c, err := w.opt.Store.Comment(ctx, d.CommentID)
	if errors.Is(err, comment.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch d.Kind {
	case comment.NotifyHeld:
		return c.Status == comment.StatusPending, nil
	case comment.NotifyReply:
		if c.Status != comment.StatusApproved || c.ParentID == "" {
			return false, nil
		}
		parent, err := w.opt.Store.Comment(ctx, c.ParentID)
		if errors.Is(err, comment.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !asksRepliesFrom(parent, d.Recipient) {
			return false, nil
		}
		st, err := w.opt.Store.ReaderState(ctx, d.SiteID, d.Recipient)
		return st == comment.ReaderConfirmed, err
	case comment.NotifyConfirm:
		if c.Status != comment.StatusPending && c.Status != comment.StatusApproved {
			return false, nil
		}
		if !asksRepliesFrom(c, d.Recipient) {
			return false, nil
		}
		st, err := w.opt.Store.ReaderState(ctx, d.SiteID, d.Recipient)
		return st == comment.ReaderUnconfirmed, err
	}
	return false, nil
}

// asksRepliesFrom reports whether c asks for reply notifications to be
// sent to the address to.
func asksRepliesFrom(c comment.Comment, to string) bool {
	return c.NotifyReplies && c.AuthorEmail != "" && comment.NormalizeEmail(c.AuthorEmail) == comment.NormalizeEmail(to)
}

// sendOne tries one delivery and adds the outcome to the round.
func (w *Worker) sendOne(ctx context.Context, r *round, d comment.NotifyDelivery) {
	wanted, err := w.stillCalledFor(ctx, d)
	if err != nil {
		// Counted as an attempt, so that a delivery whose check keeps
		// failing ends failed rather than tried forever.
		w.finish(ctx, r, d, fmt.Errorf("checking the delivery: %w", err))
		return
	}
	if !wanted {
		w.drop(r, d)
		return
	}
	var p payload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		w.finish(ctx, r, d, &sendError{err: fmt.Errorf("payload: %w", err), permanent: true})
		return
	}
	switch d.Channel {
	case comment.ChannelWebhook:
		err = w.postWebhook(ctx, d, p)
	case comment.ChannelEmail:
		if w.mailer == nil {
			err = &sendError{err: errors.New("no smtp_url configured"), permanent: true}
			break
		}
		var headers map[mail.Header]string
		if p.Unsubscribe != "" {
			headers = map[mail.Header]string{
				mail.HeaderListUnsubscribe:     "<" + p.Unsubscribe + ">",
				mail.HeaderListUnsubscribePost: "List-Unsubscribe=One-Click",
			}
		}
		err = w.mailer.send(ctx, d.Recipient, p.Subject, p.Text, headers)
	default:
		err = &sendError{err: fmt.Errorf("unknown channel %q", d.Channel), permanent: true}
	}
	w.finish(ctx, r, d, err)
}

// sendDigest sends one email listing a digest group's comments still
// pending; the others are dropped, and if none is left nothing is sent.
func (w *Worker) sendDigest(ctx context.Context, r *round, group []comment.NotifyDelivery) {
	// One retry time for the whole group, so that it stays together.
	next := w.now().Add(w.retryWait(group[0].Attempts + 1))
	wanted := make([]bool, len(group))
	for i, d := range group {
		ok, err := w.stillCalledFor(ctx, d)
		if err != nil {
			for _, d := range group {
				w.finishAt(ctx, r, d, fmt.Errorf("checking the delivery: %w", err), next)
			}
			return
		}
		wanted[i] = ok
	}
	var (
		keep  []comment.NotifyDelivery
		items []payload
	)
	for i, d := range group {
		if !wanted[i] {
			w.drop(r, d)
			continue
		}
		var p payload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			w.finish(ctx, r, d, &sendError{err: fmt.Errorf("payload: %w", err), permanent: true})
			continue
		}
		keep, items = append(keep, d), append(items, p)
	}
	if len(keep) == 0 {
		return
	}
	var err error
	switch {
	case w.mailer == nil:
		err = &sendError{err: errors.New("no smtp_url configured"), permanent: true}
	case len(keep) == 1:
		err = w.mailer.send(ctx, keep[0].Recipient, items[0].Subject, items[0].Text, nil)
	default:
		siteName := keep[0].SiteID
		if s, serr := w.opt.Store.Site(ctx, keep[0].SiteID); serr == nil {
			siteName = s.Name
		}
		subject, text := digestEmail(siteName, items)
		err = w.mailer.send(ctx, keep[0].Recipient, subject, text, nil)
	}
	for _, d := range keep {
		w.finishAt(ctx, r, d, err, next)
	}
}

// drop records that a delivery is no longer called for (not an attempt).
func (w *Worker) drop(r *round, d comment.NotifyDelivery) {
	r.add(d, comment.DeliveryResult{State: comment.DeliveryDropped, Attempts: d.Attempts, NextAt: d.NextAt, At: w.now()}, resultDropped)
}

// release ends a delivery's lease without counting an attempt: the worker
// is stopping and did not try it, or stopped while trying it.
func (w *Worker) release(r *round, d comment.NotifyDelivery) {
	r.add(d, comment.DeliveryResult{State: comment.DeliveryDue, Attempts: d.Attempts, NextAt: d.NextAt, Error: d.LastError, At: w.now()}, "")
}

// finish records an attempt's outcome: sent, tried again later, or failed
// for good (a permanent error, or the last attempt).
func (w *Worker) finish(ctx context.Context, r *round, d comment.NotifyDelivery, err error) {
	w.finishAt(ctx, r, d, err, w.now().Add(w.retryWait(d.Attempts+1)))
}

// finishAt is finish with the time of the next attempt, if there is one.
// The error is logged and stored without the recipient's address.
func (w *Worker) finishAt(ctx context.Context, r *round, d comment.NotifyDelivery, err error, next time.Time) {
	attempts := d.Attempts + 1
	if err == nil {
		r.add(d, comment.DeliveryResult{State: comment.DeliverySent, Attempts: attempts, NextAt: d.NextAt, At: w.now()}, resultSent)
		return
	}
	if ctx.Err() != nil {
		w.release(r, d)
		return
	}
	var se *sendError
	permanent := errors.As(err, &se) && se.permanent
	msg := limitError(redact(errorText(err), d.Recipient))
	w.log.Warn("notify: delivery attempt failed", "delivery", d.ID, "channel", string(d.Channel), "kind", string(d.Kind),
		"site", d.SiteID, "comment_id", d.CommentID, "attempt", attempts, "permanent", permanent, "err", msg)
	if permanent || attempts >= w.opt.MaxAttempts {
		r.add(d, comment.DeliveryResult{State: comment.DeliveryFailed, Attempts: attempts, NextAt: d.NextAt, Error: msg, At: w.now()}, resultFailed)
		return
	}
	r.add(d, comment.DeliveryResult{State: comment.DeliveryDue, Attempts: attempts, NextAt: next, Error: msg, At: w.now()}, resultRetry)
}

// errorText describes an error for the log and the delivery's last_error.
// A go-mail SendError is described by its reason and the server's codes:
// its own text lists the recipients.
func errorText(err error) string {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return err.Error()
	}
	text := "smtp: " + se.Reason.String()
	if code := se.ErrorCode(); code != 0 {
		text += fmt.Sprintf(": server answered %d", code)
		if esc := se.EnhancedStatusCode(); esc != "" {
			text += " " + esc
		}
	}
	if se.IsTemp() {
		text += " (temporary)"
	}
	return text
}

// anyAddress matches what looks like an email address.
var anyAddress = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+`)

// redact removes the recipient (in any case) and anything else that looks
// like an email address from an error message: mail servers often quote
// the address in their answers.
func redact(msg, recipient string) string {
	if recipient != "" {
		msg = regexp.MustCompile("(?i)"+regexp.QuoteMeta(recipient)).ReplaceAllLiteralString(msg, "<recipient>")
	}
	return anyAddress.ReplaceAllLiteralString(msg, "<address>")
}

func limitError(s string) string {
	if len(s) > 1000 {
		s = s[:1000]
	}
	return strings.ToValidUTF8(s, "")
}

// Sign returns the Commentd-Signature header value of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of secret over "<t>.<body>">".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// postWebhook sends a webhook delivery's body, signed with the site's
// secret. Network errors, 408, 429 and 5xx answers are tried again; other
// answers outside 2xx are permanent.
func (w *Worker) postWebhook(ctx context.Context, d comment.NotifyDelivery, p payload) error {
	site, ok := w.opt.Sites[d.SiteID]
	if !ok || site.WebhookSecret == "" {
		return &sendError{err: errors.New("the site has no webhook secret any more"), permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, w.opt.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Recipient, strings.NewReader(p.Body))
	if err != nil {
		return &sendError{err: fmt.Errorf("webhook request: %w", err), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "commentd-webhook/1")
	req.Header.Set("Commentd-Event", EventHeld)
	req.Header.Set("Commentd-Delivery", d.ID)
	req.Header.Set("Commentd-Signature", Sign([]byte(site.WebhookSecret), w.now(), []byte(p.Body)))
	resp, err := w.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in the delivery already
		}
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return &sendError{err: fmt.Errorf("webhook answered %s", resp.Status), permanent: true}
	}
}

// mailer sends plain-text emails through the configured server.
type mailer struct {
	host string
	opts []mail.Option
	from string
}

// newMailer reads an smtp_url: smtp://[user:pass@]host[:587] (STARTTLS
// required, unless ?tls=none, which takes no user:pass) or
// smtps://[user:pass@]host[:465]. Its errors never repeat the URL.
func newMailer(raw, from string) (*mailer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("notify.smtp_url is not a URL")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("notify.smtp_url: no host")
	}
	opts := []mail.Option{mail.WithTimeout(SMTPTimeout)}
	port := 587
	switch u.Scheme {
	case "smtp":
		switch u.Query().Get("tls") {
		case "", "starttls":
			opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
		case "none":
			opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
		default:
			return nil, errors.New("notify.smtp_url: tls must be starttls or none")
		}
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("notify.smtp_url: unknown scheme %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, errors.New("notify.smtp_url: bad port")
		}
		port = n
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		if u.Scheme == "smtp" && u.Query().Get("tls") == "none" {
			return nil, errors.New("notify.smtp_url: a user and password need TLS: remove ?tls=none or use smtps://")
		}
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	if _, err := mail.NewClient(host, opts...); err != nil {
		return nil, fmt.Errorf("notify.smtp_url: %w", err)
	}
	return &mailer{host: host, opts: opts, from: from}, nil
}

// send sends one plain-text email (UTF-8, quoted-printable). Errors that
// the server gives as permanent (5xx) are permanent.
func (m *mailer) send(ctx context.Context, to, subject, text string, headers map[mail.Header]string) error {
	msg := mail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return &sendError{err: fmt.Errorf("from address: %w", err), permanent: true}
	}
	if err := msg.To(to); err != nil {
		return &sendError{err: fmt.Errorf("recipient address: %w", err), permanent: true}
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	for h, v := range headers {
		msg.SetGenHeader(h, v)
	}
	msg.SetBodyString(mail.TypeTextPlain, text)
	client, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, SMTPTimeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
			return &sendError{err: fmt.Errorf("smtp: %w", err), permanent: true}
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}
