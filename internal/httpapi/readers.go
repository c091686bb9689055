package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/notify"
)

// Readers' links: the pages a reader reaches from a notification email, to
// confirm an address for reply notifications or to stop them. The token in
// the link (notify.SealReaderToken) names the site and the address; a GET
// only shows a page with a button, so that a mail scanner that fetches
// links changes nothing, and the POST of that button acts. The unsubscribe
// POST is also what a mail client sends for RFC 8058 one-click
// unsubscription (body "List-Unsubscribe=One-Click", the token in the
// query), so it needs no cookie or CSRF token. An unsubscribed address is
// sent nothing more from the site, not even a confirmation request; the
// unsubscribe page then offers to send reply notifications again (the
// same POST with resubscribe=1), which confirms the address at once: the
// token shows the reader holds the mailbox.

// replyOffer reports whether a site offers readers reply notifications.
type replyOffer func(siteID string) bool

// by reports whether siteID offers them; a nil replyOffer offers none.
func (o replyOffer) by(siteID string) bool { return o != nil && o(siteID) }

// readerCSP is the strict policy of every page, with the pages' forms
// allowed to post only to this server.
const readerCSP = strictCSP + "; form-action 'self'"

// readerPageHeaders adds to the strict policy of every page what pages
// reached through a secret link need: forms that post only here, no
// Referer that could carry the link, and no place in search engines.
func readerPageHeaders() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set(echo.HeaderContentSecurityPolicy, readerCSP)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Robots-Tag", "noindex, nofollow")
			return next(c)
		}
	}
}

// readerPage is the data of notify.html.
type readerPage struct {
	Title   string
	Message string
	Detail  string
	Error   bool
	Form    *readerForm // nil: no button
}

// readerForm is the one-button form of a reader's page. It posts to the
// page's own URL, query and all.
type readerForm struct {
	Token  string
	Button string
	// Resubscribe adds the field resubscribe=1 (the unsubscribe page's
	// "send me reply notifications again").
	Resubscribe bool
}

// readerLink is an opened token with the site it names.
type readerLink struct {
	site   comment.Site
	email  string // lower-cased
	masked string // as the pages show it
}

// errBadReaderLink is what openReaderLink answers for a token that does
// not open, or names a site that no longer exists.
var errBadReaderLink = errors.New("bad reader link")

// errStaleReaderLink is a genuine link to confirm an address of which
// there is no record any more (its data was erased), or was never one.
var errStaleReaderLink = errors.New("reader link no longer valid")

// openReaderLink opens token for purpose and looks up its site. It returns
// notify.ErrExpiredToken for a genuine but expired token, errBadReaderLink
// for any other token that does not serve, and the store's error otherwise.
func openReaderLink(ctx context.Context, svc *moderation.Service, secret []byte, purpose, token string, now time.Time) (readerLink, error) {
	siteID, email, err := notify.OpenReaderToken(secret, purpose, token, now)
	if errors.Is(err, notify.ErrExpiredToken) {
		return readerLink{}, err
	}
	if err != nil {
		return readerLink{}, errBadReaderLink
	}
	site, err := svc.Site(ctx, siteID)
	if errors.Is(err, comment.ErrNotFound) {
		return readerLink{}, errBadReaderLink
	}
	if err != nil {
		return readerLink{}, err
	}
	if site.Name == "" {
		site.Name = site.ID
	}
	return readerLink{site: site, email: email, masked: notify.MaskAddress(email)}, nil
}

// handleReaderPage shows the page of a reader's link: what the button will
// do, or that it is done already. It changes nothing.
func handleReaderPage(readers comment.ReaderStore, svc *moderation.Service, secret []byte, pages *pageRenderer, purpose string, now func() time.Time, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		token := c.QueryParam("t")
		link, err := openReaderLink(ctx, svc, secret, purpose, token, now())
		if err != nil {
			return readerFailure(c, pages, purpose, err, log)
		}
		state, err := readers.ReaderState(ctx, link.site.ID, link.email)
		if err != nil {
			return readerFailure(c, pages, purpose, err, log)
		}
		page := readerPage{}
		switch {
		case purpose == notify.PurposeConfirm && state == comment.ReaderConfirmed:
			page = confirmedPage(link, true)
		case purpose == notify.PurposeConfirm && state == comment.ReaderUnknown:
			return readerFailure(c, pages, purpose, errStaleReaderLink, log)
		case purpose == notify.PurposeConfirm:
			page = readerPage{
				Title: "Confirm reply notifications",
				Message: "Confirm that " + link.masked + " should get an email when a reply to one of your comments on " +
					link.site.Name + " is published.",
				Detail: "Each email has a link to stop them.",
				Form:   &readerForm{Token: token, Button: "Confirm"},
			}
		case state == comment.ReaderUnsubscribed:
			page = unsubscribedPage(link, token, true)
		default:
			page = readerPage{
				Title: "Stop reply notifications",
				Message: "Stop all emails to " + link.masked + " from " + link.site.Name +
					": replies to your comments, and requests to confirm the address?",
				Form: &readerForm{Token: token, Button: "Unsubscribe"},
			}
		}
		return pages.render(c, http.StatusOK, "notify.html", page)
	}
}

// handleReaderAction confirms or unsubscribes the address of a reader's
// link, or, for an unsubscribe link posted with resubscribe=1, confirms it
// again. The token comes from the query (a one-click POST to the link
// itself) or from the form's field "t". Doing it again changes nothing
// and answers as the first time did, but for saying it was done already.
// Confirming an address of which there is no record (erased since the
// link was sent) answers 400: the link is no longer valid.
func handleReaderAction(readers comment.ReaderStore, svc *moderation.Service, secret []byte, pages *pageRenderer, purpose string, now func() time.Time, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if status, ok := readReaderForm(c.Request()); !ok {
			return pages.render(c, status, "notify.html", readerPage{
				Title:   "This request could not be read",
				Message: "Open the link from your email again and press the button there.",
				Error:   true,
			})
		}
		token := c.QueryParam("t")
		if token == "" {
			token = c.Request().PostFormValue("t")
		}
		at := now()
		link, err := openReaderLink(ctx, svc, secret, purpose, token, at)
		if err != nil {
			return readerFailure(c, pages, purpose, err, log)
		}
		confirm := purpose == notify.PurposeConfirm || c.Request().PostFormValue("resubscribe") == "1"
		var prev comment.ReaderState
		if confirm {
			prev, err = readers.ConfirmReader(ctx, link.site.ID, link.email, at.UTC().Truncate(time.Microsecond))
			if err == nil && prev == comment.ReaderUnknown {
				err = errStaleReaderLink
			}
		} else {
			prev, err = readers.UnsubscribeReader(ctx, link.site.ID, link.email, at.UTC().Truncate(time.Microsecond))
		}
		if errors.Is(err, comment.ErrNotFound) {
			err = errBadReaderLink // the site went in the meantime
		}
		if err != nil {
			return readerFailure(c, pages, purpose, err, log)
		}
		if confirm {
			return pages.render(c, http.StatusOK, "notify.html", confirmedPage(link, prev == comment.ReaderConfirmed))
		}
		return pages.render(c, http.StatusOK, "notify.html", unsubscribedPage(link, token, prev == comment.ReaderUnsubscribed))
	}
}

// readerFormMemory is how much of a multipart reader form is kept in
// memory; the form has two short fields.
const readerFormMemory = 64 << 10

// readReaderForm parses the form of a POST to a reader link, url-encoded or
// multipart. A body that cannot be read whole (too large, malformed) is
// refused: acting on part of it could do the opposite of what was asked,
// such as unsubscribing when "resubscribe" was cut off. It returns the
// status to answer with when it is refused.
func readReaderForm(r *http.Request) (int, bool) {
	// ParseForm first: ParseMultipartForm drops its error when the body is
	// not multipart.
	err := r.ParseForm()
	if err == nil {
		err = r.ParseMultipartForm(readerFormMemory)
	}
	if err == nil || errors.Is(err, http.ErrNotMultipart) {
		return 0, true
	}
	// The body limit (echo's, or net/http's) cut the body short.
	var tooLarge *http.MaxBytesError
	var limit *echo.HTTPError
	if errors.As(err, &tooLarge) || (errors.As(err, &limit) && limit.Code == http.StatusRequestEntityTooLarge) {
		return http.StatusRequestEntityTooLarge, false
	}
	return http.StatusBadRequest, false
}

func confirmedPage(link readerLink, already bool) readerPage {
	p := readerPage{
		Title: "Reply notifications confirmed",
		Message: link.masked + " will get an email when a reply to one of your comments on " + link.site.Name +
			" is published.",
		Detail: "Each email has a link to stop them.",
	}
	if already {
		p.Message = link.masked + " was already confirmed: it gets an email when a reply to one of your comments on " +
			link.site.Name + " is published."
	}
	return p
}

// unsubscribedPage says that the address gets nothing more from the site
// and offers, with the unsubscribe token, to send reply notifications
// again.
func unsubscribedPage(link readerLink, token string, already bool) readerPage {
	p := readerPage{
		Title: "Unsubscribed",
		Message: link.masked + " will get no more emails from " + link.site.Name +
			": no replies to your comments, and no requests to confirm the address.",
		Detail: "Changed your mind? This button turns reply notifications back on for " + link.masked + ".",
		Form:   &readerForm{Token: token, Button: "Send me reply notifications again", Resubscribe: true},
	}
	if already {
		p.Message = link.masked + " was already unsubscribed: it gets no emails from " + link.site.Name +
			", neither replies to your comments nor requests to confirm the address."
	}
	return p
}

// readerFailure answers a reader's link that cannot be served: 400 with a
// page that says why for a link that is bad or expired, and otherwise the
// status the error maps to (503 when the database is busy), with a page
// that asks to try again. Internal errors are logged here, once.
func readerFailure(c echo.Context, pages *pageRenderer, purpose string, err error, log *slog.Logger) error {
	again := "Please follow the link from your email again."
	if purpose == notify.PurposeConfirm {
		again = "To get a new one, post a comment with \u201cNotify me of replies by email\u201d ticked."
	}
	switch {
	case errors.Is(err, notify.ErrExpiredToken):
		return pages.render(c, http.StatusBadRequest, "notify.html", readerPage{
			Title: "This link has expired", Message: "The link you followed is no longer valid.", Detail: again, Error: true,
		})
	case errors.Is(err, errStaleReaderLink):
		return pages.render(c, http.StatusBadRequest, "notify.html", readerPage{
			Title: "This link is no longer valid", Message: "There is nothing to confirm for this address any more.",
			Detail: "To get reply notifications, post a comment with \u201cNotify me of replies by email\u201d ticked.", Error: true,
		})
	case errors.Is(err, errBadReaderLink):
		return pages.render(c, http.StatusBadRequest, "notify.html", readerPage{
			Title:   "This link is not valid",
			Message: "The link you followed is incomplete or was changed. Open it from your email again, or copy all of it.",
			Error:   true,
		})
	}
	status, _, retry := errorResponse(err)
	noteFailure(c, log, status, retry, err)
	return pages.render(c, status, "notify.html", readerPage{
		Title: "Please try again", Message: "This could not be done just now. Please try the link again in a few minutes.", Error: true,
	})
}
