package httpapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
)

// This file turns moderation results into what the admin templates draw, so
// that the templates only place values.

// actionView is one action button.
type actionView struct {
	Name  string // the action in the URL, e.g. "approve"
	Label string
	Key   string // keyboard shortcut, if any
	Kind  string // "primary", "danger" or "" (styling only)
}

var actionViews = map[moderation.Action]actionView{
	moderation.ActionApprove:         {Name: "approve", Label: "Approve", Key: "a", Kind: "primary"},
	moderation.ActionReject:          {Name: "reject", Label: "Reject", Key: "r"},
	moderation.ActionSpam:            {Name: "spam", Label: "Spam", Key: "s", Kind: "danger"},
	moderation.ActionDelete:          {Name: "delete", Label: "Delete"},
	moderation.ActionRestore:         {Name: "restore", Label: "Restore"},
	moderation.ActionApproveAndTrust: {Name: "approve-and-trust", Label: "Approve & trust author"},
	moderation.ActionSpamAndBlock:    {Name: "spam-and-block", Label: "Spam & block author", Kind: "danger"},
}

// actionsFor lists the actions that change a comment in this status.
func actionsFor(st comment.Status) []actionView {
	var as []moderation.Action
	switch st {
	case comment.StatusPending:
		as = []moderation.Action{moderation.ActionApprove, moderation.ActionReject, moderation.ActionSpam, moderation.ActionDelete,
			moderation.ActionApproveAndTrust, moderation.ActionSpamAndBlock}
	case comment.StatusApproved:
		as = []moderation.Action{moderation.ActionReject, moderation.ActionSpam, moderation.ActionDelete}
	case comment.StatusRejected:
		as = []moderation.Action{moderation.ActionApprove, moderation.ActionSpam, moderation.ActionDelete}
	case comment.StatusSpam:
		as = []moderation.Action{moderation.ActionApprove, moderation.ActionReject, moderation.ActionDelete}
	case comment.StatusDeleted:
		as = []moderation.Action{moderation.ActionRestore}
	}
	out := make([]actionView, 0, len(as))
	for _, a := range as {
		out = append(out, actionViews[a])
	}
	return out
}

// bulkActions are the buttons of the queue's bulk bar.
func bulkActions(st comment.Status) []actionView {
	if st == comment.StatusDeleted {
		return []actionView{actionViews[moderation.ActionRestore]}
	}
	out := []actionView{}
	for _, a := range actionsFor(st) {
		if a.Name != string(moderation.ActionApproveAndTrust) && a.Name != string(moderation.ActionSpamAndBlock) {
			out = append(out, a)
		}
	}
	return out
}

// pastTense words what an action did, for notices.
func pastTense(a moderation.Action) string {
	switch a {
	case moderation.ActionApprove:
		return "approved"
	case moderation.ActionReject:
		return "rejected"
	case moderation.ActionSpam:
		return "marked as spam"
	case moderation.ActionDelete:
		return "deleted"
	case moderation.ActionRestore:
		return "restored"
	case moderation.ActionUndo:
		return "put back"
	case moderation.ActionApproveAndTrust:
		return "approved; the author is trusted from now on"
	case moderation.ActionSpamAndBlock:
		return "marked as spam; the author is blocked"
	}
	return "changed"
}

// statusLabels names the statuses, in the order of the queue's tabs.
var statusLabels = []struct {
	Status comment.Status
	Label  string
}{
	{comment.StatusPending, "Pending"},
	{comment.StatusApproved, "Approved"},
	{comment.StatusSpam, "Spam"},
	{comment.StatusRejected, "Rejected"},
	{comment.StatusDeleted, "Deleted"},
}

func statusLabel(st comment.Status) string {
	for _, s := range statusLabels {
		if s.Status == st {
			return s.Label
		}
	}
	return string(st)
}

// reasonView is one rule that held a comment.
type reasonView struct {
	Rule   string
	Detail string
}

// ruleLabel names a spam rule for people: "moderation_mode" is shown as
// "Moderation mode".
func ruleLabel(rule string) string {
	s := strings.ReplaceAll(rule, "_", " ")
	if r, size := utf8.DecodeRuneInString(s); size > 0 {
		return strings.ToUpper(string(r)) + s[size:]
	}
	return s
}

// parentView is the comment a reply answers, in brief.
type parentView struct {
	ID      string
	Author  string
	Snippet string
	Status  string
}

// historyView is the author's record on the site.
type historyView struct {
	Approved, Rejected, Spam, Pending int
	First                             bool // nothing decided yet: a first-time author
}

// cardView is one comment in the queue or on its own page.
type cardView struct {
	ID, Site, Status, StatusLabel string
	Initial                       string // the author's first letter, for the avatar
	PageKey, PageURL, PageTitle   string
	Name, Email, Website          string
	IP, UserAgent                 string
	CreatedAt                     time.Time
	Edited                        bool // has earlier versions (known on the comment's own page)
	BodyHTML                      string
	Reasons                       []reasonView
	Parent                        *parentView
	History                       historyView
	Actions                       []actionView
	CSRF                          string
	Back                          string // where a plain form post returns to
	Standalone                    bool   // on the comment's own page (no select box, no "open" link)
}

func newCardView(it moderation.Item, csrf, back string) cardView {
	c := it.Comment
	v := cardView{
		ID: c.ID, Site: c.SiteID, Status: string(c.Status), StatusLabel: statusLabel(c.Status),
		PageKey: c.PageKey, PageURL: it.Page.URL, PageTitle: it.Page.Title,
		Name: c.AuthorName, Email: c.AuthorEmail, Website: c.AuthorWebsite, IP: c.IP, UserAgent: c.UserAgent,
		CreatedAt: c.CreatedAt, BodyHTML: c.BodyHTML,
		Actions: actionsFor(c.Status), CSRF: csrf, Back: back,
		History: historyView{
			Approved: it.Author[comment.StatusApproved], Rejected: it.Author[comment.StatusRejected],
			Spam: it.Author[comment.StatusSpam], Pending: it.Author[comment.StatusPending],
		},
	}
	if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(c.AuthorName)); r != utf8.RuneError {
		v.Initial = strings.ToUpper(string(r))
	}
	v.History.First = v.History.Approved+v.History.Rejected+v.History.Spam == 0
	for _, r := range c.Reasons {
		v.Reasons = append(v.Reasons, reasonView{Rule: ruleLabel(r.Rule), Detail: r.Detail})
	}
	if p := it.Parent; p != nil {
		v.Parent = &parentView{ID: p.ID, Author: p.AuthorName, Snippet: snippet(p.Body, 160), Status: statusLabel(p.Status)}
	}
	return v
}

// snippet is the start of s on one line, at most n bytes, cut between words
// where it can be.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > n/2 {
		cut = sp
	}
	return s[:cut] + "…"
}

// queueParams are the queue's filters as they appear in its URL.
type queueParams struct {
	Site, Status, Page, Email, IP, Q, Cursor string
}

func (q queueParams) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"site", q.Site}, {"status", q.Status}, {"page", q.Page}, {"email", q.Email}, {"ip", q.IP}, {"q", q.Q}, {"cursor", q.Cursor}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if q.Status == string(comment.StatusPending) {
		v.Del("status") // the default
	}
	return v
}

// url is the queue page with these filters.
func (q queueParams) url() string {
	if v := q.values(); len(v) > 0 {
		return adminPrefix + "?" + v.Encode()
	}
	return adminPrefix
}

// narrowed reports whether anything beyond site and status filters the
// list, so that the live view cannot tell whether a new comment belongs.
func (q queueParams) narrowed() bool {
	return q.Page != "" || q.Email != "" || q.IP != "" || q.Q != "" || q.Cursor != ""
}

// withNotice adds what was just done to a page URL, for the page to say.
func withNotice(back string, a moderation.Action, done, failed int) string {
	u, err := url.Parse(back)
	if err != nil {
		return back
	}
	v := u.Query()
	v.Set("done", string(a))
	v.Set("n", strconv.Itoa(done))
	if failed > 0 {
		v.Set("failed", strconv.Itoa(failed))
	} else {
		v.Del("failed")
	}
	u.RawQuery = v.Encode()
	return u.RequestURI()
}

// noticeFrom words the done/n/failed parameters withNotice added. Only
// known actions and numbers are read, so the notice cannot be made to say
// anything else.
func noticeFrom(v url.Values) string {
	a, err := actionParam(v.Get("done"))
	if err != nil {
		return ""
	}
	n, _ := strconv.Atoi(v.Get("n"))
	failed, _ := strconv.Atoi(v.Get("failed"))
	var msg string
	if n > 0 {
		msg = plural(n, "comment") + " " + pastTense(a) + "."
	}
	if failed > 0 {
		msg = strings.TrimSpace(msg + " " + plural(failed, "comment") + " could not be changed.")
	}
	return msg
}
