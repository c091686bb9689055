package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// tabView is one status tab of the queue.
type tabView struct {
	Label   string
	URL     string
	Current bool
}

// siteOption is a site the user may pick in the queue's filter.
type siteOption struct {
	ID       string
	Selected bool
}

// queuePage is the data of admin_queue.html.
type queuePage struct {
	adminBase
	Filter      queueParams
	StatusLabel string
	Tabs        []tabView
	Sites       []siteOption // for a non-admin: the sites with a role
	Cards       []cardView
	Bulk        []actionView
	Back        string // this page without a notice, for forms to return to
	NextURL     string
	FirstURL    string // set on a later page
	Narrowed    bool
	Notice      string
	Errors      map[string]string
}

// handleAdminQueue shows a page of comments in one status (pending by
// default), oldest first, with the filters the API has.
func handleAdminQueue(svc *moderation.Service, v *validator.Validate, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := principal(c)
		q := queueParams{
			Site: c.QueryParam("site"), Status: c.QueryParam("status"), Page: strings.TrimSpace(c.QueryParam("page")),
			Email: strings.TrimSpace(c.QueryParam("email")), IP: strings.TrimSpace(c.QueryParam("ip")),
			Q: strings.TrimSpace(c.QueryParam("q")), Cursor: c.QueryParam("cursor"),
		}
		if q.Status == "" {
			q.Status = string(comment.StatusPending)
		}
		data := queuePage{
			adminBase: newAdminBase(c, "Moderation queue", "queue"),
			Filter:    q, StatusLabel: statusLabel(comment.Status(q.Status)),
			Back: q.url(), Narrowed: q.narrowed(), Notice: noticeFrom(c.QueryParams()),
			Bulk: bulkActions(comment.Status(q.Status)),
		}
		for _, s := range statusLabels {
			t := q
			t.Status, t.Cursor = string(s.Status), ""
			data.Tabs = append(data.Tabs, tabView{Label: s.Label, URL: t.url(), Current: string(s.Status) == q.Status})
		}
		sites, err := svc.SitesFor(c.Request().Context(), p)
		if err != nil {
			return err
		}
		for _, s := range sites {
			data.Sites = append(data.Sites, siteOption{ID: s.ID, Selected: s.ID == q.Site})
		}
		if q.Cursor != "" {
			first := q
			first.Cursor = ""
			data.FirstURL = first.url()
		}

		f, err := queueFilter(c, v)
		var page moderation.QueuePage
		if err == nil {
			page, err = svc.Queue(c.Request().Context(), p, f)
		}
		var verr *comment.ValidationError
		switch {
		case errors.As(err, &verr):
			data.Errors = verr.Fields
			return pages.render(c, http.StatusUnprocessableEntity, "admin_queue.html", data)
		case errors.Is(err, comment.ErrNotFound) && q.Site != "":
			data.Errors = map[string]string{"site": "There is no site with this id."}
			return pages.render(c, http.StatusNotFound, "admin_queue.html", data)
		case err != nil:
			return err
		}
		for _, it := range page.Items {
			data.Cards = append(data.Cards, newCardView(it, data.CSRF, data.Back))
		}
		if page.Next != "" {
			next := q
			next.Cursor = page.Next
			data.NextURL = next.url()
		}
		return pages.render(c, http.StatusOK, "admin_queue.html", data)
	}
}

// handleAdminCard answers one comment's card as an HTML fragment, for
// admin.js to insert into the queue when the comment arrives live.
func handleAdminCard(svc *moderation.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		d, err := svc.Get(c.Request().Context(), principal(c), c.Param("id"))
		if err != nil {
			return err
		}
		back, ok := localAdminPath(c.QueryParam("back"))
		if !ok {
			back = adminPrefix
		}
		return pages.render(c, http.StatusOK, "admin_card", newCardView(d.Item, csrfToken(c), back))
	}
}

// adminActionResult is the JSON answer to admin.js for one action.
type adminActionResult struct {
	ID      string `json:"id"`
	OK      bool   `json:"ok"`
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// handleAdminAction applies one action to one comment. A plain form post
// goes back to the page it came from; admin.js gets JSON.
func handleAdminAction(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, err := actionParam(c.Param("action"))
		if err != nil {
			return err
		}
		cm, err := svc.Act(c.Request().Context(), principal(c), c.Param("id"), a)
		if err != nil {
			return err
		}
		if wantsJSON(c) {
			return c.JSON(http.StatusOK, adminActionResult{ID: cm.ID, OK: true, Status: string(cm.Status),
				Message: "Comment by " + cm.AuthorName + " " + pastTense(a) + "."})
		}
		return c.Redirect(http.StatusSeeOther, withNotice(formBack(c), a, 1, 0))
	}
}

// formBack is the page a form asked to return to, if it is one of ours.
func formBack(c echo.Context) string {
	if back, ok := localAdminPath(c.FormValue("back")); ok {
		return back
	}
	return adminPrefix
}

// handleAdminBulk applies one action to the selected comments and answers
// per comment: admin.js gets each result as JSON; a plain form post goes
// back to the queue, which says how many changed and how many could not.
func handleAdminBulk(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		form, err := c.FormParams()
		if err != nil {
			return &badRequest{msg: "The form could not be read."}
		}
		a, err := actionParam(form.Get("action"))
		if err != nil {
			return comment.Invalid("action", "Choose an action for the selected comments.")
		}
		results, err := svc.Bulk(c.Request().Context(), principal(c), form["id"], a)
		if err != nil {
			return err
		}
		out := struct {
			Results []adminActionResult `json:"results"`
		}{Results: make([]adminActionResult, 0, len(results))}
		failed := 0
		for _, r := range results {
			res := adminActionResult{ID: r.ID, OK: r.Err == nil}
			if r.Err != nil {
				failed++
				res.Message = adminErrorMessage(r.Err)
			} else {
				res.Status = string(r.Comment.Status)
			}
			out.Results = append(out.Results, res)
		}
		if wantsJSON(c) {
			return c.JSON(http.StatusOK, out)
		}
		return c.Redirect(http.StatusSeeOther, withNotice(formBack(c), a, len(results)-failed, failed))
	}
}
