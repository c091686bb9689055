package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// eventView is one line of a comment's history.
type eventView struct {
	Actor, Action string
	From, To      string
	At            time.Time
}

// revisionView is a comment's content before an edit.
type revisionView struct {
	Name, Website, Body, EditedBy string
	EditedAt                      time.Time
}

// editForm is the comment's edit form, with the moderator's entries and
// a message beside each field that needs a change.
type editForm struct {
	Name, Website, Body string
	Errors              map[string]string
}

// commentPage is the data of admin_comment.html.
type commentPage struct {
	adminBase
	Card      cardView
	History   []eventView
	Revisions []revisionView
	Edit      editForm
	Notice    string
}

func newCommentPage(c echo.Context, d moderation.Detail) commentPage {
	base := newAdminBase(c, "Comment by "+d.Item.Comment.AuthorName, "queue")
	self := adminPrefix + "/comments/" + url.PathEscape(d.Item.Comment.ID)
	card := newCardView(d.Item, base.CSRF, self)
	card.Standalone = true
	card.Edited = len(d.Revisions) > 0
	page := commentPage{
		adminBase: base, Card: card, Notice: noticeFrom(c.QueryParams()),
		Edit: editForm{Name: d.Item.Comment.AuthorName, Website: d.Item.Comment.AuthorWebsite, Body: d.Item.Comment.Body},
	}
	if c.QueryParam("saved") == "1" {
		page.Notice = "Your changes are saved; the earlier version is kept under “Earlier versions”."
	}
	for _, e := range d.History {
		ev := eventView{Actor: e.Actor, Action: eventLabel(e.Action), From: statusLabel(e.FromStatus), To: statusLabel(e.ToStatus), At: e.At}
		if e.FromStatus == "" || e.FromStatus == e.ToStatus {
			ev.From = "" // the submission, or an edit
		}
		page.History = append(page.History, ev)
	}
	// Newest first: the version just replaced is the one most often wanted.
	for i := len(d.Revisions) - 1; i >= 0; i-- {
		r := d.Revisions[i]
		page.Revisions = append(page.Revisions, revisionView{Name: r.AuthorName, Website: r.AuthorWebsite, Body: r.Body, EditedBy: r.EditedBy, EditedAt: r.EditedAt})
	}
	return page
}

// eventLabel words a history entry's action.
func eventLabel(action string) string {
	switch action {
	case "submit":
		return "submitted"
	case "edit":
		return "edited"
	}
	if a, err := actionParam(action); err == nil {
		return pastTense(a)
	}
	return action
}

// handleAdminComment shows one comment with why it was held, its history,
// its earlier versions and the edit form.
func handleAdminComment(svc *moderation.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		d, err := svc.Get(c.Request().Context(), principal(c), c.Param("id"))
		if err != nil {
			return err
		}
		return pages.render(c, http.StatusOK, "admin_comment.html", newCommentPage(c, d))
	}
}

// handleAdminEdit changes a comment's body, author name and website, checked
// as the API checks an edit. Mistakes come back beside their fields with
// what was typed kept.
func handleAdminEdit(svc *moderation.Service, v *validator.Validate, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, p, id := c.Request().Context(), principal(c), c.Param("id")
		req := editRequest{
			Name:    strings.TrimSpace(c.FormValue("name")),
			Website: withScheme(strings.TrimSpace(c.FormValue("website"))),
			Body:    strings.TrimSpace(c.FormValue("body")),
		}
		err := check(v, &req)
		if err == nil {
			_, err = svc.Edit(ctx, p, id, moderation.EditInput{Name: &req.Name, Website: &req.Website, Body: &req.Body})
		}
		var verr *comment.ValidationError
		switch {
		case errors.As(err, &verr):
			d, gerr := svc.Get(ctx, p, id)
			if gerr != nil {
				return gerr
			}
			page := newCommentPage(c, d)
			page.Notice = ""
			page.Edit = editForm{Name: req.Name, Website: req.Website, Body: req.Body, Errors: verr.Fields}
			return pages.render(c, http.StatusUnprocessableEntity, "admin_comment.html", page)
		case err != nil:
			return err
		}
		return c.Redirect(http.StatusSeeOther, adminPrefix+"/comments/"+url.PathEscape(id)+"?saved=1")
	}
}
