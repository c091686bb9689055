package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/spam"
)

// The rules page (/admin/sites/:site/rules) shows a site's whole spam rule
// set as one form, how often each rule fired, and a dry run. It is one form
// with two buttons: "Test a comment" posts to …/rules/test (so a dry run can
// use the rules as edited, unsaved), "Save rules" to …/rules. The test
// button comes first, so that pressing Enter in a field runs a harmless dry
// run rather than saving. Only owners and administrators may use the page;
// the moderation service refuses everyone else, and every answer asks it
// first.
//
// The form's field names are the rule set's JSON paths ("max_links",
// "actions.honeypot", "rate_limits.ip.every"), so that the keys of a
// comment.ValidationError name the field to show a message beside. Lists
// are textareas, one entry a line; they are checked as entered (blank lines
// kept) before the service sorts them, so that "hold_words[3]" is line 4.

// rulesField is one control of the rules page with what was entered in it.
type rulesField struct {
	Name   string // the form field's name, which is also its JSON path
	Label  string
	Kind   string // "textarea", "number", "duration", "email", "url", "select" or "" (text)
	Value  string
	Hint   string // shown under the control; "" for none
	Also   string // the id of a further description, such as shared help
	Errors []string
}

// ID is the control's element id.
func (f rulesField) ID() string {
	return "r-" + strings.NewReplacer(".", "-", "_", "-").Replace(f.Name)
}

// DescribedBy lists the ids that describe the control: shared help, its
// hint and its errors.
func (f rulesField) DescribedBy() string {
	var ids []string
	if f.Also != "" {
		ids = append(ids, f.Also)
	}
	if f.Hint != "" {
		ids = append(ids, f.ID()+"-hint")
	}
	if len(f.Errors) > 0 {
		ids = append(ids, f.ID()+"-error")
	}
	return strings.Join(ids, " ")
}

// InputType is the type attribute of an input control.
func (f rulesField) InputType() string {
	switch f.Kind {
	case "number", "email", "url":
		return f.Kind
	}
	return "text"
}

// optionView is one option of a select.
type optionView struct {
	Value, Label string
	Selected     bool
}

// options marks value selected among known; a value that is not one of
// them (only a crafted form sends one) is offered too, marked, so that the
// form shows what was sent beside its error.
func options(known []optionView, value string) []optionView {
	out := slices.Clone(known)
	found := false
	for i := range out {
		if out[i].Value == value {
			out[i].Selected, found = true, true
		}
	}
	if !found {
		out = append(out, optionView{Value: value, Label: fmt.Sprintf("%q (not valid)", value), Selected: true})
	}
	return out
}

var (
	modeOptions = []optionView{
		{Value: string(spam.ModeHoldAll), Label: "Hold all comments for a moderator"},
		{Value: string(spam.ModeHoldFirstTime), Label: "Hold first-time authors only"},
		{Value: string(spam.ModeHoldOnHits), Label: "Hold only when a rule fires"},
	}
	actionOptions = []optionView{
		{Value: string(spam.ActionHold), Label: "Hold for a moderator"},
		{Value: string(spam.ActionSpam), Label: "File as spam"},
		{Value: string(spam.ActionReject), Label: "Reject (not stored)"},
	}
)

// ruleHelp says what each configurable rule looks at.
var ruleHelp = map[string]string{
	spam.RuleBlockedIP:    "The commenter’s IP address is on this list, or in a range on it.",
	spam.RuleBlockedEmail: "The author’s email address, or its domain, is on this list.",
	spam.RuleBlockWords:   "A block word or pattern matched.",
	spam.RuleHoneypot:     "The reply form has a field hidden from people; bots that fill in every field fill it in too.",
	spam.RuleTokenMissing: "The comment came without the signed token the reply form carries, or with a forged one (a script posting directly).",
	spam.RuleTokenTooFast: "The form was sent sooner after it was shown than people can write.",
	spam.RuleTokenExpired: "The form was sent long after it was shown.",
	spam.RuleHoldWords:    "A hold word or pattern matched.",
	spam.RuleMaxLinks:     "The comment has many links. Every http(s) address counts: a Markdown link, an autolink or a bare URL.",
}

// rulesLabel names a rule for people, as the queue does, with "IP" in
// capitals.
func rulesLabel(rule string) string {
	if rule == spam.RuleBlockedIP {
		return "Blocked IP"
	}
	return ruleLabel(rule)
}

// rateLimitNames are the rate limits in the order of the form.
var rateLimitNames = []struct{ key, label, help string }{
	{"ip", "Per IP address", ""},
	{"prefix", "Per network", "IPv4 /24 or IPv6 /64"},
	{"email", "Per email address", ""},
	{"page", "Per page", ""},
	{"site", "Whole site", ""},
}

// limitOf returns the rate limit named key ("ip", "prefix", …), or nil.
func limitOf(l *spam.RateLimits, key string) *spam.Limit {
	switch key {
	case "ip":
		return &l.IP
	case "prefix":
		return &l.Prefix
	case "email":
		return &l.Email
	case "page":
		return &l.Page
	case "site":
		return &l.Site
	}
	return nil
}

// rulesListNames are the rule set's lists, edited one entry a line.
var rulesListNames = []string{"hold_words", "block_words", "blocked_ips", "blocked_emails", "trusted_emails"}

// rulesFieldNames lists every field of the rules form.
func rulesFieldNames() []string {
	names := []string{"version", "mode", "max_links", "min_submit_seconds", "max_token_age"}
	names = append(names, rulesListNames...)
	for _, r := range spam.RuleNames() {
		names = append(names, "actions."+r)
	}
	for _, l := range rateLimitNames {
		names = append(names, "rate_limits."+l.key+".every", "rate_limits."+l.key+".burst")
	}
	return names
}

// rulesValues is a saved rule set as the form shows it.
func rulesValues(r spam.Rules) map[string]string {
	v := map[string]string{
		"version":            strconv.Itoa(r.Version),
		"mode":               string(r.Mode),
		"max_links":          strconv.Itoa(r.MaxLinks),
		"min_submit_seconds": strconv.Itoa(r.MinSubmitSeconds),
		"max_token_age":      r.MaxTokenAge.String(),
		"hold_words":         strings.Join(r.HoldWords, "\n"),
		"block_words":        strings.Join(r.BlockWords, "\n"),
		"blocked_ips":        strings.Join(r.BlockedIPs, "\n"),
		"blocked_emails":     strings.Join(r.BlockedEmails, "\n"),
		"trusted_emails":     strings.Join(r.TrustedEmails, "\n"),
	}
	for _, name := range spam.RuleNames() {
		v["actions."+name] = string(r.Actions[name])
	}
	for _, l := range rateLimitNames {
		lim := limitOf(&r.RateLimits, l.key)
		v["rate_limits."+l.key+".every"] = lim.Every.String()
		v["rate_limits."+l.key+".burst"] = strconv.Itoa(lim.Burst)
	}
	return v
}

// rulesFormInput reads the rules form as posted, line ends made "\n".
func rulesFormInput(c echo.Context) map[string]string {
	v := map[string]string{}
	for _, name := range rulesFieldNames() {
		v[name] = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(c.FormValue(name))
	}
	return v
}

// formLines splits a textarea into its lines, blank ones included, so that
// an entry's index is its line number less one.
func formLines(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// parseRulesForm turns the form into a rule set. It returns the lists as
// entered, for rulesErrors to name lines by, and a *comment.ValidationError
// keyed by field name when a field cannot be read or the rule set is not
// valid. A field that cannot be read keeps its default for the check, so
// that it is reported once, in its own words.
func parseRulesForm(v map[string]string) (spam.Rules, map[string][]string, *comment.ValidationError) {
	r := spam.DefaultRules()
	f := map[string]string{}
	if n, err := strconv.Atoi(strings.TrimSpace(v["version"])); err == nil && n >= 0 {
		r.Version = n
	} else {
		f["version"] = "missing"
	}
	r.Mode = spam.Mode(strings.TrimSpace(v["mode"]))
	number := func(name string, dst *int, msg string) {
		n, err := strconv.Atoi(strings.TrimSpace(v[name]))
		if err != nil {
			f[name] = msg
			return
		}
		*dst = n
	}
	duration := func(name string, dst *spam.Duration, msg string) {
		d, err := time.ParseDuration(strings.TrimSpace(v[name]))
		if err != nil {
			f[name] = msg
			return
		}
		*dst = spam.Duration(d)
	}
	number("max_links", &r.MaxLinks, "Please enter a whole number; 0 turns this rule off.")
	number("min_submit_seconds", &r.MinSubmitSeconds, "Please enter a whole number of seconds; 0 turns this check off.")
	duration("max_token_age", &r.MaxTokenAge, "Please enter a duration such as “24h”, “90m” or “30s”.")

	lines := map[string][]string{}
	for _, name := range rulesListNames {
		lines[name] = formLines(v[name])
	}
	r.HoldWords, r.BlockWords = lines["hold_words"], lines["block_words"]
	r.BlockedIPs, r.BlockedEmails, r.TrustedEmails = lines["blocked_ips"], lines["blocked_emails"], lines["trusted_emails"]

	r.Actions = map[string]spam.Action{}
	for _, name := range spam.RuleNames() {
		r.Actions[name] = spam.Action(strings.TrimSpace(v["actions."+name]))
	}
	for _, l := range rateLimitNames {
		lim, key := limitOf(&r.RateLimits, l.key), "rate_limits."+l.key
		duration(key+".every", &lim.Every, "Please enter a duration such as “15s” or “500ms”.")
		number(key+".burst", &lim.Burst, "Please enter a whole number.")
	}

	if verr := r.Validate(); verr != nil {
		for k, msg := range verr.Fields {
			if _, ok := f[k]; !ok {
				f[k] = msg
			}
		}
	}
	if len(f) > 0 {
		return r, lines, &comment.ValidationError{Fields: f}
	}
	return r, lines, nil
}

// listEntryKey splits a key like "hold_words[3]" into its list and index.
func listEntryKey(key string) (list string, index int, ok bool) {
	list, rest, found := strings.Cut(key, "[")
	if !found || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	index, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	if err != nil || index < 0 {
		return "", 0, false
	}
	return list, index, true
}

// rulesErrors sorts a ValidationError's messages onto the form's fields. A
// list entry's message ("hold_words[3]") goes to the list's textarea and
// names the line and its text, when lines (the lists as entered) is given;
// the service checks the sorted lists, whose indices are no lines, so its
// messages come without. Keys the form has no field for are general.
func rulesErrors(fields map[string]string, lines map[string][]string) (map[string][]string, []string) {
	type entry struct {
		line int
		text string
	}
	known := rulesFieldNames()
	byField := map[string][]entry{}
	var general []string
	for key, msg := range fields {
		list, i, isEntry := listEntryKey(key)
		switch {
		case key == "version":
			general = append(general, "The form does not say which version of the rules it edits. Reload the page and make your changes again.")
		case isEntry && slices.Contains(rulesListNames, list):
			text := "An entry: " + msg
			if l := lines[list]; lines != nil && i < len(l) {
				text = fmt.Sprintf("Line %d (“%s”): %s", i+1, clipEntry(l[i]), msg)
			}
			byField[list] = append(byField[list], entry{i + 1, sentence(text)})
		case slices.Contains(known, key):
			byField[key] = append(byField[key], entry{0, sentence(msg)})
		default:
			general = append(general, sentence(key+": "+msg))
		}
	}
	out := make(map[string][]string, len(byField))
	for name, es := range byField {
		slices.SortFunc(es, func(a, b entry) int { return a.line - b.line })
		for _, e := range es {
			out[name] = append(out[name], e.text)
		}
	}
	slices.Sort(general)
	return out, general
}

// clipEntry shortens a list entry for a message.
func clipEntry(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:39]) + "…"
}

// sentence starts msg with a capital and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// hitsText says how often a rule fired.
func hitsText(n int) string {
	switch n {
	case 0:
		return "Never fired"
	case 1:
		return "Fired once"
	}
	return "Fired " + strconv.Itoa(n) + " times"
}

// ruleView is one configurable rule: its settings, its action and how
// often it fired.
type ruleView struct {
	Rule    string // "hold_words"
	Label   string // "Hold words"
	Help    string
	Params  []rulesField
	Action  rulesField
	Options []optionView
	Hits    int
}

// HitsText says how often the rule fired.
func (r ruleView) HitsText() string { return hitsText(r.Hits) }

// rateLimitView is one row of the rate limits.
type rateLimitView struct {
	Label, Help  string
	Burst, Every rulesField
}

// rulesProblem is one entry of the summary of errors above the form.
type rulesProblem struct {
	ID, Label, Message string
}

// rulesFormView is the rule set's part of the form.
type rulesFormView struct {
	Version       string
	Mode          rulesField
	ModeOptions   []optionView
	TrustedEmails rulesField
	Rules         map[string]ruleView // by rule name
	Limits        []rateLimitView
	Problems      []rulesProblem
}

// newRulesForm lays out the form with the values v and the messages errs
// (by field name) and the hit counts.
func newRulesForm(v map[string]string, errs map[string][]string, hits map[string]int) rulesFormView {
	var all []rulesField // in page order, for the summary of errors
	field := func(name, label, kind, hint string) rulesField {
		f := rulesField{Name: name, Label: label, Kind: kind, Value: v[name], Hint: hint, Errors: errs[name]}
		if kind == "textarea" && f.Value != "" && !strings.HasSuffix(f.Value, "\n") {
			f.Value += "\n" // so that a new entry starts on a line of its own
		}
		all = append(all, f)
		return f
	}
	words := func(name, label string) rulesField {
		f := field(name, label, "textarea", "")
		f.Also = "r-words-help"
		return f
	}
	form := rulesFormView{Version: v["version"], Rules: map[string]ruleView{}}
	form.Mode = field("mode", "Mode", "select", "")
	form.Mode.Also = "r-mode-help"
	form.ModeOptions = options(modeOptions, v["mode"])

	params := map[string][]rulesField{}
	// In the order of the page.
	params[spam.RuleHoldWords] = []rulesField{words("hold_words", "Hold words")}
	params[spam.RuleBlockWords] = []rulesField{words("block_words", "Block words")}
	params[spam.RuleBlockedIP] = []rulesField{field("blocked_ips", "Blocked IP addresses and ranges", "textarea",
		"One a line: an address (203.0.113.7, 2001:db8::1) or a CIDR range (203.0.113.0/24, 2001:db8::/32).")}
	params[spam.RuleBlockedEmail] = []rulesField{field("blocked_emails", "Blocked emails and domains", "textarea",
		"One a line: an address (spam@example.com) or a domain (example.com or @example.com), which covers its subdomains too.")}
	form.TrustedEmails = field("trusted_emails", "Trusted authors", "textarea",
		"One full email address a line. Their comments skip every hold, the moderation mode’s included, but never spam or reject.")
	params[spam.RuleMaxLinks] = []rulesField{field("max_links", "Fires at this many links or more", "number",
		"0 turns this rule off. The default is 2, as in WordPress.")}
	params[spam.RuleTokenTooFast] = []rulesField{field("min_submit_seconds", "Least seconds between showing and sending the form", "number",
		"0 turns this check off. The default is 3.")}
	params[spam.RuleTokenExpired] = []rulesField{field("max_token_age", "Longest a form may stay open", "duration",
		"A duration such as 24h, 90m or 30s, from 1m to 720h. The default is 24h.")}
	for _, name := range spam.RuleNames() {
		label := rulesLabel(name)
		form.Rules[name] = ruleView{
			Rule: name, Label: label, Help: ruleHelp[name], Params: params[name],
			Action:  field("actions."+name, "Action of “"+label+"”", "select", hitsText(hits[name])),
			Options: options(actionOptions, v["actions."+name]), Hits: hits[name],
		}
	}
	for _, l := range rateLimitNames {
		key := "rate_limits." + l.key
		form.Limits = append(form.Limits, rateLimitView{
			Label: l.label, Help: l.help,
			Burst: field(key+".burst", l.label+": burst", "number", ""),
			Every: field(key+".every", l.label+": then one every", "duration", ""),
		})
	}
	for _, f := range all {
		for _, msg := range f.Errors {
			form.Problems = append(form.Problems, rulesProblem{ID: f.ID(), Label: f.Label, Message: msg})
		}
	}
	return form
}

// rulesTestRequest is the dry run's comment as the form sends it. Every
// field is optional: a dry run judges what it is given.
type rulesTestRequest struct {
	Name      string `json:"name" validate:"omitempty,line,maxbytes=245"`
	Email     string `json:"email" validate:"omitempty,line,maxbytes=100,email,mailbox"`
	Website   string `json:"website" validate:"omitempty,line,maxbytes=200,url,weburl"`
	IP        string `json:"ip" validate:"omitempty,ip"`
	UserAgent string `json:"user_agent" validate:"omitempty,line,maxbytes=512"`
	Body      string `json:"body" validate:"omitempty,text,maxbytes=65525"`
}

// rulesTestInput reads the dry run's fields (named "test_" and the JSON
// name), trimmed, with a website's missing scheme added.
func rulesTestInput(c echo.Context) rulesTestRequest {
	get := func(name string) string { return strings.TrimSpace(c.FormValue("test_" + name)) }
	return rulesTestRequest{
		Name: get("name"), Email: get("email"), Website: withScheme(get("website")),
		IP: get("ip"), UserAgent: get("user_agent"), Body: get("body"),
	}
}

// rulesTestView is the dry run's part of the form, and its result.
type rulesTestView struct {
	Name, Email, Website, IP, UserAgent, Body rulesField
	UseForm                                   bool
	Result                                    *verdictView
}

func newRulesTest(in rulesTestRequest, errs map[string]string, useForm bool) rulesTestView {
	field := func(name, label, kind, value string) rulesField {
		f := rulesField{Name: "test_" + name, Label: label, Kind: kind, Value: value}
		if msg, ok := errs[name]; ok {
			f.Errors = []string{msg}
		}
		return f
	}
	return rulesTestView{
		Name: field("name", "Name", "", in.Name), Email: field("email", "Email", "email", in.Email),
		Website: field("website", "Website", "url", in.Website), IP: field("ip", "IP address", "", in.IP),
		UserAgent: field("user_agent", "User agent", "", in.UserAgent), Body: field("body", "Comment", "textarea", in.Body),
		UseForm: useForm,
	}
}

// verdictView is the result of a dry run.
type verdictView struct {
	Action, Label, Meaning string
	Source                 string // which rules judged
	Reasons                []verdictReason
}

type verdictReason struct {
	Rule, Label, Detail string
	Action              string // the rule's action; "" when it has none
}

func newVerdictView(v spam.Verdict, actions map[string]spam.Action, source string) *verdictView {
	out := &verdictView{Action: string(v.Action), Source: source}
	switch v.Action {
	case spam.ActionApprove:
		out.Label, out.Meaning = "Approve", "It would be published at once."
	case spam.ActionHold:
		out.Label, out.Meaning = "Hold", "It would wait in the queue for a moderator."
	case spam.ActionSpam:
		out.Label, out.Meaning = "Spam", "It would be filed as spam; its author would be told it is held for review."
	case spam.ActionReject:
		out.Label, out.Meaning = "Reject", "It would be refused with a neutral message and not stored."
	default:
		out.Label = string(v.Action)
	}
	for _, r := range v.Reasons {
		a := string(actions[r.Rule])
		if r.Rule == spam.RuleMode {
			a = string(spam.ActionHold)
		}
		out.Reasons = append(out.Reasons, verdictReason{Rule: r.Rule, Label: rulesLabel(r.Rule), Detail: r.Detail, Action: a})
	}
	return out
}

// rulesPage is the data of admin_rules.html.
type rulesPage struct {
	adminBase
	Site        comment.Site
	SiteURL     string
	Action      string // where "Save rules" posts
	TestAction  string // where "Test a comment" posts
	Saved       int    // the version saved now
	Form        rulesFormView
	Test        rulesTestView
	ModeHits    string
	TrustedHits string
	Notice      string
	Conflict    bool
	General     []string // problems that belong to no field
}

// rulesURL is the rules page of a site.
func rulesURL(siteID string) string {
	return adminPrefix + "/sites/" + url.PathEscape(siteID) + "/rules"
}

// rulesPageData reads what every answer of the rules page shows: the site,
// its saved rules and their hits. Errors: comment.ErrForbidden unless the
// caller may manage the site, comment.ErrNotFound.
func rulesPageData(c echo.Context, svc *moderation.Service) (rulesPage, moderation.RulesView, error) {
	ctx, siteID := c.Request().Context(), c.Param("site")
	view, err := svc.Rules(ctx, principal(c), siteID)
	if err != nil {
		return rulesPage{}, moderation.RulesView{}, err
	}
	site, err := svc.Site(ctx, siteID)
	if err != nil {
		return rulesPage{}, moderation.RulesView{}, err
	}
	return rulesPage{
		adminBase: newAdminBase(c, "Spam rules · "+site.Name, "sites"),
		Site:      site, SiteURL: adminPrefix + "/sites/" + url.PathEscape(siteID),
		Action: rulesURL(siteID), TestAction: rulesURL(siteID) + "/test#dry-run",
		Saved:    view.Rules.Version,
		ModeHits: hitsText(view.Hits[spam.RuleMode]), TrustedHits: hitsText(view.Hits[spam.RuleTrusted]),
	}, view, nil
}

// handleAdminRules shows a site's rules as a form, with the hit counts.
func handleAdminRules(svc *moderation.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		page, view, err := rulesPageData(c, svc)
		if err != nil {
			return err
		}
		page.Form = newRulesForm(rulesValues(view.Rules), nil, view.Hits)
		page.Test = newRulesTest(rulesTestRequest{}, nil, false)
		if n, err := strconv.Atoi(c.QueryParam("saved")); err == nil && n > 0 {
			page.Notice = fmt.Sprintf("Rules saved (version %d).", n)
		}
		return pages.render(c, http.StatusOK, "admin_rules.html", page)
	}
}

// handleAdminSaveRules saves the form's rules if they are valid and nobody
// saved since the form was shown (its version), and goes back to the page.
// Otherwise it shows the form again as entered: 422 with each message
// beside its field, or 409 when someone else saved first.
func handleAdminSaveRules(svc *moderation.Service, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		vals := rulesFormInput(c)
		r, lines, verr := parseRulesForm(vals)
		conflict := false
		if verr == nil {
			v, err := svc.SaveRules(c.Request().Context(), principal(c), c.Param("site"), r)
			switch {
			case err == nil:
				return c.Redirect(http.StatusSeeOther, rulesURL(c.Param("site"))+"?saved="+strconv.Itoa(v))
			case errors.Is(err, comment.ErrConflict):
				conflict = true
			case errors.As(err, &verr):
				lines = nil
			default:
				return err
			}
		}
		page, view, err := rulesPageData(c, svc)
		if err != nil {
			return err
		}
		var errs map[string][]string
		status := http.StatusConflict
		if verr != nil {
			errs, page.General = rulesErrors(verr.Fields, lines)
			status = http.StatusUnprocessableEntity
		}
		page.Conflict = conflict
		page.Form = newRulesForm(vals, errs, view.Hits)
		page.Test = newRulesTest(rulesTestInput(c), nil, c.FormValue("use_form_rules") != "")
		return pages.render(c, status, "admin_rules.html", page)
	}
}

// handleAdminTestRules runs the dry run: the verdict the comment would get
// under the saved rules, or under the form's when its box is ticked,
// storing nothing and counting no hits. The form comes back as entered.
func handleAdminTestRules(svc *moderation.Service, v *validator.Validate, pages *pageRenderer) echo.HandlerFunc {
	return func(c echo.Context) error {
		vals := rulesFormInput(c)
		in := rulesTestInput(c)
		useForm := c.FormValue("use_form_rules") != ""
		var testErr, rulesErr *comment.ValidationError
		if err := check(v, &in); err != nil && !errors.As(err, &testErr) {
			return err
		}
		if testErr != nil && testErr.Fields["ip"] != "" {
			testErr.Fields["ip"] = "Please enter an IP address, like 203.0.113.7 or 2001:db8::1."
		}
		var candidate *spam.Rules
		var lines map[string][]string
		if useForm {
			var r spam.Rules
			r, lines, rulesErr = parseRulesForm(vals)
			candidate = &r
		}
		var verdict spam.Verdict
		judged := false
		if testErr == nil && rulesErr == nil {
			var err error
			verdict, err = svc.TestRules(c.Request().Context(), principal(c), c.Param("site"), moderation.TestInput{
				Submission: moderation.Submission{PageKey: "/", Name: in.Name, Email: in.Email, Website: in.Website,
					Body: in.Body, IP: in.IP, UserAgent: in.UserAgent},
			}, candidate)
			switch {
			case err == nil:
				judged = true
			case errors.As(err, &rulesErr):
				lines = nil
			default:
				return err
			}
		}
		page, view, err := rulesPageData(c, svc)
		if err != nil {
			return err
		}
		var errs map[string][]string
		if rulesErr != nil {
			errs, page.General = rulesErrors(rulesErr.Fields, lines)
		}
		page.Form = newRulesForm(vals, errs, view.Hits)
		var testFields map[string]string
		if testErr != nil {
			testFields = testErr.Fields
		}
		page.Test = newRulesTest(in, testFields, useForm)
		status := http.StatusUnprocessableEntity
		if judged {
			status = http.StatusOK
			actions, source := view.Rules.Actions, fmt.Sprintf("the saved rules (version %d)", view.Rules.Version)
			if view.Rules.Version == 0 {
				source = "the site’s current rules (the defaults; never saved)"
			}
			if candidate != nil {
				r := *candidate
				r.Normalize()
				actions, source = r.Actions, "the rules in the form above, which are not saved"
			}
			page.Test.Result = newVerdictView(verdict, actions, source)
		}
		return pages.render(c, status, "admin_rules.html", page)
	}
}
