package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/spam"
)

const rulesPath = "/admin/sites/blog/rules"

// rulesFormOf is the rules form filled in with r at version, changed by
// kv (field name, value, …).
func rulesFormOf(r spam.Rules, version string, kv ...string) url.Values {
	form := url.Values{}
	for k, v := range rulesValues(r) {
		form.Set(k, v)
	}
	form.Set("version", version)
	for i := 0; i < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return form
}

// savedRules reads the site's rules through the API.
func (s *testServer) savedRules(t *testing.T, site string) spam.Rules {
	t.Helper()
	r := s.do(t, http.MethodGet, "/api/v1/sites/"+site+"/rules", "", nil, map[string]string{"Authorization": "Bearer " + testAdminToken})
	if r.status != http.StatusOK {
		t.Fatalf("get rules: %d %s", r.status, r.body)
	}
	var got spam.Rules
	r.json(t, &got)
	return got
}

// stored counts the site's comments in every status a dry run could have
// stored one in.
func (s *testServer) stored(t *testing.T, site string) int {
	t.Helper()
	n := 0
	for _, st := range []string{"pending", "approved", "spam", "rejected"} {
		r := s.mod(t, http.MethodGet, "/comments?site="+site+"&status="+st, testAdminToken)
		if r.status != http.StatusOK {
			t.Fatalf("queue %s: %d %s", st, r.status, r.body)
		}
		var q queueResponse
		r.json(t, &q)
		n += len(q.Comments)
	}
	return n
}

func rulesServer(t *testing.T) *testServer {
	t.Helper()
	s := newTestServer(t, serverOpts{})
	s.user(t, "owner@example.org", false, map[string]comment.Role{"blog": comment.RoleOwner})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	s.user(t, "root@example.org", true, nil)
	return s
}

func TestAdminRulesPage(t *testing.T) {
	s := rulesServer(t)
	s.submitOK(t, "blog", valid()) // no form token, and the mode holds it
	b := s.browser(t)
	b.login(t, "owner@example.org")

	site := b.get(t, "/admin/sites/blog")
	mustContain(t, "site page", site.body, `href="/admin/sites/blog/rules"`)

	page := b.get(t, rulesPath)
	if page.status != http.StatusOK {
		t.Fatalf("rules page: %d\n%s", page.status, page.body)
	}
	mustContain(t, "rules page", page.body,
		"<h1>Spam rules</h1>", "the defaults; never saved",
		`<form method="post" action="/admin/sites/blog/rules" class="adm-rules" novalidate>`,
		`name="_csrf" value="`, `<input type="hidden" name="version" value="0">`,
		`<legend>Moderation mode</legend>`, `<option value="hold_all" selected>Hold all comments for a moderator</option>`,
		`<select id="r-mode" name="mode" class="adm-rules-select" aria-describedby="r-mode-help">`,
		`<label for="r-hold-words">Hold words</label>`, "whole words", "/cas+ino/", "leetspeak",
		`<label for="r-blocked-ips">Blocked IP addresses and ranges</label>`,
		`name="max_links" type="number" value="2"`, `name="max_token_age" type="text" value="24h"`,
		`name="rate_limits.ip.burst"`, `name="rate_limits.site.every" type="text" value="100ms"`,
		// each rule's action, with its hit count beside it
		`<label for="r-actions-honeypot">When “Honeypot” fires</label>`,
		`<select id="r-actions-form-token-missing" name="actions.form_token_missing" aria-describedby="r-actions-form-token-missing-hint">`,
		`<option value="hold" selected>Hold for a moderator</option>`,
		`<span class="adm-rules-count is-hit" id="r-actions-form-token-missing-hint">Fired once</span>`,
		`<span class="adm-rules-count" id="r-actions-hold-words-hint">Never fired</span>`,
		`Moderation mode held a comment: <span class="adm-rules-count">Fired once</span>`,
		// the dry run
		`formaction="/admin/sites/blog/rules/test#dry-run"`, "Use the rules in the form above instead of the saved ones",
		"“Form token missing” always fires here")
	for _, name := range spam.RuleNames() {
		mustContain(t, "rules page", page.body, `name="actions.`+name+`"`)
	}
	// Enter in a field runs the harmless dry run: its button comes first.
	if test, save := strings.Index(string(page.body), "formaction="), strings.Index(string(page.body), ">Save rules</button>"); test < 0 || save < test {
		t.Errorf("the test button (at %d) must come before Save rules (at %d)", test, save)
	}

	t.Run("administrator", func(t *testing.T) {
		a := s.browser(t)
		a.login(t, "root@example.org")
		if r := a.get(t, "/admin/sites/other/rules"); r.status != http.StatusOK {
			t.Errorf("an administrator's rules page: %d", r.status)
		}
		if r := a.get(t, "/admin/sites/nosuch/rules"); r.status != http.StatusNotFound {
			t.Errorf("rules of an unknown site: %d", r.status)
		}
	})
}

func TestAdminRulesModeratorsAreRefused(t *testing.T) {
	s := rulesServer(t)
	b := s.browser(t)
	b.login(t, "mod@example.org")
	if site := b.get(t, "/admin/sites/blog"); strings.Contains(string(site.body), "/rules") {
		t.Error("a moderator's site page links to the rules")
	}
	form := rulesFormOf(spam.DefaultRules(), "0", "hold_words", "moderated")
	for _, tc := range []struct{ name, method, path string }{
		{"page", http.MethodGet, rulesPath},
		{"save", http.MethodPost, rulesPath},
		{"dry run", http.MethodPost, rulesPath + "/test"},
		{"invalid save", http.MethodPost, rulesPath}, // refused before it is checked
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.method == http.MethodGet {
				r = b.get(t, tc.path)
			} else {
				f := b.form(t, "/admin", url.Values{})
				for k, v := range form {
					f[k] = v
				}
				if tc.name == "invalid save" {
					f.Set("max_links", "many")
				}
				r = b.post(t, tc.path, f)
			}
			if r.status != http.StatusForbidden {
				t.Fatalf("%s %s: %d, want 403", tc.method, tc.path, r.status)
			}
			mustContain(t, "403 page", r.body, "You do not have access to this site.")
			if strings.Contains(string(r.body), "Spam rules") {
				t.Error("the 403 page shows the rules")
			}
		})
	}
	if got := s.savedRules(t, "blog"); got.Version != 0 || len(got.HoldWords) != 0 {
		t.Errorf("a moderator changed the rules: %+v", got)
	}
}

func TestAdminRulesSave(t *testing.T) {
	s := rulesServer(t)
	b := s.browser(t)
	b.login(t, "owner@example.org")

	form := rulesFormOf(spam.DefaultRules(), "0",
		"mode", "hold_on_hits",
		"hold_words", "viagra\r\n\r\n/cas+ino/\r\n",
		"blocked_ips", "203.0.113.7\n2001:db8::/32",
		"max_links", "3",
		"actions.honeypot", "reject",
		"rate_limits.ip.burst", "5",
		"rate_limits.ip.every", "30s")
	r := b.post(t, rulesPath, b.form(t, rulesPath, form))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != rulesPath+"?saved=1" {
		t.Fatalf("save: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	page := b.get(t, r.header.Get("Location"))
	mustContain(t, "page after saving", page.body,
		`<p class="adm-notice" role="status">Rules saved (version 1).</p>`, "version 1",
		`<input type="hidden" name="version" value="1">`,
		`<option value="hold_on_hits" selected>`,
		">\n/cas&#43;ino/\nviagra\n</textarea>", // sorted, blank line dropped
		">\n2001:db8::/32\n203.0.113.7\n</textarea>",
		`name="max_links" type="number" value="3"`,
		`name="rate_limits.ip.burst" type="number" value="5"`, `name="rate_limits.ip.every" type="text" value="30s"`)
	if !strings.Contains(string(page.body), `name="actions.honeypot" aria-describedby="r-actions-honeypot-hint">
        <option value="hold">Hold for a moderator</option><option value="spam">File as spam</option><option value="reject" selected>`) {
		t.Error("the honeypot's action is not shown as reject")
	}
	got := s.savedRules(t, "blog")
	if got.Version != 1 || got.Mode != spam.ModeHoldOnHits || strings.Join(got.HoldWords, ",") != "/cas+ino/,viagra" ||
		got.MaxLinks != 3 || got.Actions[spam.RuleHoneypot] != spam.ActionReject || got.RateLimits.IP.Burst != 5 {
		t.Errorf("saved rules = %+v", got)
	}
	// A notice is only ever a version number.
	if r := b.get(t, rulesPath+"?saved=%3Cb%3E"); strings.Contains(string(r.body), "Rules saved") {
		t.Error("a bad saved parameter gives a notice")
	}
}

func TestAdminRulesShowsErrorsBesideFields(t *testing.T) {
	s := rulesServer(t)
	b := s.browser(t)
	b.login(t, "owner@example.org")

	holdWords := "fine\n\n/cas(ino/\n<b>bold</b>"
	form := rulesFormOf(spam.DefaultRules(), "0",
		"hold_words", holdWords,
		"blocked_ips", "10.0.0.1\n10.0.0.0/33",
		"actions.honeypot", "explode",
		"rate_limits.ip.every", "soon",
		"max_links", "-1")
	r := b.post(t, rulesPath, b.form(t, rulesPath, form))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid rules: %d, want 422\n%s", r.status, r.body)
	}
	mustContain(t, "form with errors", r.body,
		"Please correct the fields marked below.",
		// the summary links to the fields
		`<li><a href="#r-hold-words">Hold words</a>: Line 3 (“/cas(ino/”): not a valid RE2 pattern`,
		`<li><a href="#r-actions-honeypot">Action of “Honeypot”</a>: Must be one of hold, spam, reject.</li>`,
		// a list's message names the line, beside its textarea, which keeps the input
		`<textarea id="r-hold-words" name="hold_words" rows="6" spellcheck="false" autocapitalize="off" autocomplete="off" aria-invalid="true" aria-describedby="r-words-help r-hold-words-error">
fine

/cas(ino/
&lt;b&gt;bold&lt;/b&gt;
</textarea>`,
		`<div class="adm-field-error adm-rules-error" id="r-hold-words-error"><p>Line 3 (“/cas(ino/”): not a valid RE2 pattern`,
		`<div class="adm-field-error adm-rules-error" id="r-blocked-ips-error"><p>Line 2 (“10.0.0.0/33”): not an IP address or CIDR range.</p></div>`,
		">\n10.0.0.1\n10.0.0.0/33\n</textarea>",
		// an unknown action is shown as sent, beside its message
		`<select id="r-actions-honeypot" name="actions.honeypot" aria-invalid="true" aria-describedby="r-actions-honeypot-hint r-actions-honeypot-error">`,
		`<option value="explode" selected>&#34;explode&#34; (not valid)</option>`,
		`<div class="adm-field-error adm-rules-error" id="r-actions-honeypot-error"><p>Must be one of hold, spam, reject.</p></div>`,
		`name="rate_limits.ip.every" type="text" value="soon" class="adm-rules-short" spellcheck="false" autocapitalize="off" aria-invalid="true" aria-describedby="r-rate-limits-ip-every-error">`,
		`id="r-rate-limits-ip-every-error"><p>Please enter a duration such as “15s” or “500ms”.</p>`,
		`name="max_links" type="number" value="-1"`, `id="r-max-links-error"><p>Must be between 0 (off) and 1000.</p>`,
		`<input type="hidden" name="version" value="0">`)
	if strings.Contains(string(r.body), "<b>bold</b>") {
		t.Error("an entry was not escaped")
	}
	for _, valid := range []string{"r-block-words-error", "r-mode-error", "r-actions-hold-words-error", "r-rate-limits-ip-burst-error"} {
		if strings.Contains(string(r.body), `id="`+valid+`"`) {
			t.Errorf("the valid field %s shows an error", valid)
		}
	}
	if got := s.savedRules(t, "blog"); got.Version != 0 {
		t.Errorf("invalid rules were saved: version %d", got.Version)
	}

	t.Run("unreadable numbers", func(t *testing.T) {
		form := rulesFormOf(spam.DefaultRules(), "0", "min_submit_seconds", "", "max_token_age", "a day", "rate_limits.page.burst", "lots")
		r := b.post(t, rulesPath, b.form(t, rulesPath, form))
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", r.status)
		}
		mustContain(t, "form", r.body,
			`id="r-min-submit-seconds-error"><p>Please enter a whole number of seconds; 0 turns this check off.</p>`,
			`id="r-max-token-age-error"><p>Please enter a duration such as “24h”, “90m” or “30s”.</p>`,
			`id="r-rate-limits-page-burst-error"><p>Please enter a whole number.</p>`, `value="a day"`)
	})
	t.Run("damaged version", func(t *testing.T) {
		r := b.post(t, rulesPath, b.form(t, rulesPath, rulesFormOf(spam.DefaultRules(), "")))
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", r.status)
		}
		mustContain(t, "form", r.body, "The form does not say which version of the rules it edits.")
	})
}

func TestAdminRulesStaleVersion(t *testing.T) {
	s := rulesServer(t)
	owner := s.browser(t)
	owner.login(t, "owner@example.org")
	admin := s.browser(t)
	admin.login(t, "root@example.org")

	// Both opened version 0; the administrator saves first.
	if r := admin.post(t, rulesPath, admin.form(t, rulesPath, rulesFormOf(spam.DefaultRules(), "0", "block_words", "casino"))); r.status != http.StatusSeeOther {
		t.Fatalf("first save: %d\n%s", r.status, r.body)
	}
	r := owner.post(t, rulesPath, owner.form(t, rulesPath, rulesFormOf(spam.DefaultRules(), "0", "hold_words", "mine-not-saved", "max_links", "7")))
	if r.status != http.StatusConflict {
		t.Fatalf("stale save: %d, want 409\n%s", r.status, r.body)
	}
	mustContain(t, "conflict page", r.body,
		`role="alert"`, "Someone else changed these rules since you opened this page; reload to see their changes",
		`<a href="/admin/sites/blog/rules">reload the rules</a>`,
		">\nmine-not-saved\n</textarea>", `name="max_links" type="number" value="7"`,
		`<input type="hidden" name="version" value="0">`) // still stale: saving again conflicts again
	got := s.savedRules(t, "blog")
	if got.Version != 1 || len(got.HoldWords) != 0 || strings.Join(got.BlockWords, ",") != "casino" {
		t.Errorf("the stale save changed the rules: %+v", got)
	}
}

func TestAdminRulesDryRun(t *testing.T) {
	s := rulesServer(t)
	b := s.browser(t)
	b.login(t, "owner@example.org")
	if r := b.post(t, rulesPath, b.form(t, rulesPath, rulesFormOf(spam.DefaultRules(), "0", "mode", "hold_on_hits", "hold_words", "viagra"))); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.status, r.body)
	}
	s.submitOK(t, "blog", valid())
	before, hitsBefore := s.stored(t, "blog"), s.hits(t, "blog")

	test := func(t *testing.T, kv ...string) response {
		t.Helper()
		// The form as the page sends it: the rules (here unsaved edits) and the test comment.
		form := rulesFormOf(spam.DefaultRules(), "1", "mode", "hold_on_hits", "block_words", "casino")
		for i := 0; i < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		return b.post(t, rulesPath+"/test", b.form(t, rulesPath, form))
	}

	t.Run("saved rules", func(t *testing.T) {
		r := test(t, "test_name", "Spammer", "test_email", "s@example.net", "test_ip", "198.51.100.4",
			"test_user_agent", "curl/8", "test_body", "Cheap V1AGRA, also casino night")
		if r.status != http.StatusOK {
			t.Fatalf("dry run: %d\n%s", r.status, r.body)
		}
		mustContain(t, "dry run", r.body,
			`id="test-result"`, `Verdict: <span class="adm-pill adm-rules-pill-hold">Hold</span>`,
			"It would wait in the queue for a moderator.", "Judged by the saved rules (version 1); nothing was stored.",
			`<b>Hold words</b> <code class="adm-rules-code">hold_words</code> <span class="adm-muted">(hold)</span> — `, "viagra",
			`<code class="adm-rules-code">form_token_missing</code>`,
			// the form keeps what was entered, unsaved edits included
			`value="Spammer"`, `value="198.51.100.4"`, ">\nCheap V1AGRA, also casino night</textarea>",
			">\ncasino\n</textarea>", `<input type="hidden" name="version" value="1">`)
		if strings.Contains(string(r.body), "block_words</code>") && strings.Contains(string(r.body), "<b>Block words</b> <code") {
			t.Error("the saved rules have no block words, yet one fired")
		}
	})
	t.Run("rules in the form", func(t *testing.T) {
		r := test(t, "use_form_rules", "1", "test_body", "Casino night!")
		if r.status != http.StatusOK {
			t.Fatalf("dry run: %d\n%s", r.status, r.body)
		}
		mustContain(t, "dry run", r.body,
			`Verdict: <span class="adm-pill adm-rules-pill-reject">Reject</span>`,
			"Judged by the rules in the form above, which are not saved",
			`<b>Block words</b> <code class="adm-rules-code">block_words</code> <span class="adm-muted">(reject)</span> — `,
			`<input type="checkbox" id="r-use-form" name="use_form_rules" value="1" checked>`)
		if got := s.savedRules(t, "blog"); got.Version != 1 || len(got.BlockWords) != 0 {
			t.Errorf("a dry run saved the form's rules: %+v", got)
		}
	})
	t.Run("invalid rules in the form", func(t *testing.T) {
		r := test(t, "use_form_rules", "1", "block_words", "ok\n/(/", "test_body", "hello")
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("dry run: %d", r.status)
		}
		mustContain(t, "dry run", r.body, `id="r-block-words-error"><p>Line 2 (“/(/”): not a valid RE2 pattern`)
		if strings.Contains(string(r.body), `id="test-result"`) {
			t.Error("a verdict was shown for invalid rules")
		}
	})
	t.Run("invalid rules in the form are ignored when unticked", func(t *testing.T) {
		r := test(t, "block_words", "/(/", "test_body", "hello")
		if r.status != http.StatusOK || strings.Contains(string(r.body), `id="r-block-words-error"`) {
			t.Fatalf("dry run: %d", r.status)
		}
		mustContain(t, "dry run", r.body, `id="test-result"`, ">\n/(/\n</textarea>")
	})
	t.Run("invalid comment", func(t *testing.T) {
		r := test(t, "test_ip", "not-an-ip", "test_email", "nope", "test_body", "hello")
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("dry run: %d", r.status)
		}
		mustContain(t, "dry run", r.body,
			`name="test_ip" type="text" value="not-an-ip" spellcheck="false" autocapitalize="off" aria-invalid="true" aria-describedby="r-test-ip-error">`,
			`id="r-test-ip-error"><p>Please enter an IP address, like 203.0.113.7 or 2001:db8::1.</p>`,
			`id="r-test-email-error"><p>Please enter a valid email address, like name@example.com.</p>`)
	})

	if after := s.stored(t, "blog"); after != before {
		t.Errorf("dry runs stored comments: %d before, %d after", before, after)
	}
	if after := s.hits(t, "blog"); after != hitsBefore {
		t.Errorf("dry runs counted hits: %s before, %s after", hitsBefore, after)
	}
}

// hits is the site's hit counts as the API answers them.
func (s *testServer) hits(t *testing.T, site string) string {
	t.Helper()
	r := s.do(t, http.MethodGet, "/api/v1/sites/"+site+"/rules/hits", "", nil, map[string]string{"Authorization": "Bearer " + testAdminToken})
	if r.status != http.StatusOK {
		t.Fatalf("hits: %d %s", r.status, r.body)
	}
	return string(r.body)
}

func TestAdminRulesCSRF(t *testing.T) {
	s := rulesServer(t)
	b := s.browser(t)
	b.login(t, "owner@example.org")
	stale := s.browser(t).csrf(t, "/admin/login")
	form := rulesFormOf(spam.DefaultRules(), "0", "hold_words", "forged", "test_body", "hello")
	for _, path := range []string{rulesPath, rulesPath + "/test"} {
		for name, token := range map[string]string{"missing": "", "stale": stale} {
			t.Run(path+" "+name, func(t *testing.T) {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if token != "" {
					f.Set("_csrf", token)
				}
				r := b.post(t, path, f)
				if r.status != http.StatusForbidden {
					t.Fatalf("status %d, want 403", r.status)
				}
				mustContain(t, "403 page", r.body, "This page has expired")
			})
		}
	}
	if got := s.savedRules(t, "blog"); got.Version != 0 || len(got.HoldWords) != 0 {
		t.Errorf("a forged post saved rules: %+v", got)
	}
}
