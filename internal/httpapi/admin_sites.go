package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// siteRow is a site in the list of sites.
type siteRow struct {
	ID, Name, Role string
	URL            string
}

// sitesPage is the data of admin_sites.html.
type sitesPage struct {
	adminBase
	Sites []siteRow
}

func roleLabel(p comment.Principal, siteID string) string {
	switch {
	case p.Admin:
		return "Administrator"
	case p.Roles[siteID] == comment.RoleOwner:
		return "Owner"
	case p.Roles[siteID] == comment.RoleModerator:
		return "Moderator"
	}
	return ""
}

// handleAdminSites lists the sites the user may moderate (every site for an
// administrator), and opens one by its id (?open=ID).
func handleAdminSites(svc *moderation.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		if open := strings.TrimSpace(c.QueryParam("open")); open != "" {
			return c.Redirect(http.StatusSeeOther, adminPrefix+"/sites/"+url.PathEscape(open))
		}
		p := principal(c)
		data := sitesPage{adminBase: newAdminBase(c, "Sites", "sites")}
		sites, err := svc.SitesFor(c.Request().Context(), p)
		if err != nil {
			return err
		}
		for _, s := range sites {
			data.Sites = append(data.Sites, siteRow{ID: s.ID, Name: s.Name, Role: roleLabel(p, s.ID), URL: adminPrefix + "/sites/" + url.PathEscape(s.ID)})
		}
		return pages.render(c, http.StatusOK, "admin_sites.html", data)
	}
}

// listView is one of a site's trusted or blocked lists.
type listView struct {
	Title, Hint string
	Entries     []listEntryView
}

type listEntryView struct {
	Value, CreatedBy string
	CreatedAt        time.Time
}

// grantForm is the form that gives someone a role on the site.
type grantForm struct {
	Email, Role string
	Errors      map[string]string
}

// sitePage is the data of admin_site.html.
type sitePage struct {
	adminBase
	Site      comment.Site
	Role      string
	CanManage bool
	QueueURL  string
	Members   []comment.Member
	Lists     []listView
	Grant     grantForm
	Notice    string
}

// sitePageData gathers a site's page: its lists for any moderator, its
// members for owners and administrators.
func sitePageData(c echo.Context, svc *moderation.Service, accounts *account.Service, siteID string) (sitePage, error) {
	ctx, p := c.Request().Context(), principal(c)
	if !p.CanModerate(siteID) {
		return sitePage{}, comment.ErrForbidden
	}
	site, err := svc.Site(ctx, siteID)
	if err != nil {
		return sitePage{}, err
	}
	data := sitePage{
		adminBase: newAdminBase(c, site.Name, "sites"), Site: site, Role: roleLabel(p, siteID), CanManage: p.CanManage(siteID),
		QueueURL: queueParams{Site: siteID}.url(), Grant: grantForm{Role: string(comment.RoleModerator)},
	}
	if data.Lists, err = siteLists(ctx, svc, p, siteID); err != nil {
		return sitePage{}, err
	}
	if data.CanManage {
		if data.Members, err = accounts.Members(ctx, p, siteID); err != nil {
			return sitePage{}, err
		}
	}
	return data, nil
}

func siteLists(ctx context.Context, svc *moderation.Service, p comment.Principal, siteID string) ([]listView, error) {
	lists, err := svc.SiteLists(ctx, p, siteID)
	if err != nil {
		return nil, err
	}
	out := []listView{}
	for _, l := range []struct{ name, title, hint string }{
		{comment.ListTrustedEmails, "Trusted authors", "Added by “Approve & trust author”."},
		{comment.ListBlockedEmails, "Blocked emails", "Added by “Spam & block author”."},
		{comment.ListBlockedIPs, "Blocked IP addresses", "Added by “Spam & block author”."},
	} {
		v := listView{Title: l.title, Hint: l.hint}
		for _, e := range lists[l.name] {
			v.Entries = append(v.Entries, listEntryView{Value: e.Value, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt})
		}
		out = append(out, v)
	}
	return out, nil
}

// handleAdminSite shows one site: who moderates it and its lists.
func handleAdminSite(svc *moderation.Service, accounts *account.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		data, err := sitePageData(c, svc, accounts, c.Param("site"))
		if err != nil {
			return err
		}
		switch c.QueryParam("notice") {
		case "granted":
			data.Notice = "Access updated."
		case "removed":
			data.Notice = "Access removed."
		}
		return pages.render(c, http.StatusOK, "admin_site.html", data)
	}
}

// handleAdminGrant gives a user, by email, a role on the site.
func handleAdminGrant(svc *moderation.Service, accounts *account.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		siteID := c.Param("site")
		form := grantForm{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role")}
		var err error
		if form.Email == "" {
			err = comment.Invalid("email", "Please enter the email address of an existing user.")
		} else {
			err = accounts.Grant(c.Request().Context(), principal(c), form.Email, siteID, comment.Role(form.Role))
		}
		var verr *comment.ValidationError
		switch {
		case errors.As(err, &verr):
			data, derr := sitePageData(c, svc, accounts, siteID)
			if derr != nil {
				return derr
			}
			form.Errors = verr.Fields
			data.Grant = form
			return pages.render(c, http.StatusUnprocessableEntity, "admin_site.html", data)
		case err != nil:
			return err
		}
		return c.Redirect(http.StatusSeeOther, adminPrefix+"/sites/"+url.PathEscape(siteID)+"?notice=granted")
	}
}

// handleAdminRevoke removes a user's role on the site.
func handleAdminRevoke(accounts *account.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		siteID := c.Param("site")
		if err := accounts.Revoke(c.Request().Context(), principal(c), c.Param("user"), siteID); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, adminPrefix+"/sites/"+url.PathEscape(siteID)+"?notice=removed")
	}
}
