package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

const testPassword = "correct horse battery"

// browserClient is a browser without JavaScript: it keeps cookies, does not
// follow redirects, and posts forms.
type browserClient struct {
	s *testServer
	c *http.Client
}

func (s *testServer) browser(t *testing.T) *browserClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browserClient{s: s, c: &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browserClient) send(t *testing.T, method, path string, form url.Values, header map[string]string) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (b *browserClient) get(t *testing.T, path string) response {
	t.Helper()
	return b.send(t, http.MethodGet, path, nil, nil)
}

func (b *browserClient) post(t *testing.T, path string, form url.Values) response {
	t.Helper()
	return b.send(t, http.MethodPost, path, form, nil)
}

var (
	csrfFieldRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	tokensRE    = regexp.MustCompile(`(name="_csrf" value|name="csrf-token" content)="[^"]+"`)
)

// csrf loads a page and returns the token its forms carry.
func (b *browserClient) csrf(t *testing.T, page string) string {
	t.Helper()
	r := b.get(t, page)
	m := csrfFieldRE.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("GET %s (%d) has no CSRF field:\n%s", page, r.status, r.body)
	}
	return string(m[1])
}

// form returns v with the CSRF token of page added.
func (b *browserClient) form(t *testing.T, page string, v url.Values) url.Values {
	t.Helper()
	if v == nil {
		v = url.Values{}
	}
	v.Set("_csrf", b.csrf(t, page))
	return v
}

// login signs in through the form and fails the test unless it works.
func (b *browserClient) login(t *testing.T, email string) {
	t.Helper()
	r := b.post(t, "/admin/login", b.form(t, "/admin/login", url.Values{"email": {email}, "password": {testPassword}}))
	if r.status != http.StatusSeeOther {
		t.Fatalf("login as %s: status %d\n%s", email, r.status, r.body)
	}
}

// user creates an account with testPassword and the given roles.
func (s *testServer) user(t *testing.T, email string, admin bool, roles map[string]comment.Role) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.accounts.CreateUser(ctx, email, testPassword, admin); err != nil {
		t.Fatal(err)
	}
	for site, role := range roles {
		if err := s.accounts.Grant(ctx, comment.Principal{Admin: true}, email, site, role); err != nil {
			t.Fatal(err)
		}
	}
}

// status is a comment's status as the API reports it.
func (s *testServer) status(t *testing.T, id string) string {
	t.Helper()
	r := s.mod(t, http.MethodGet, "/comments/"+id, testAdminToken)
	if r.status != http.StatusOK {
		t.Fatalf("get %s: %d %s", id, r.status, r.body)
	}
	var got commentResponse
	r.json(t, &got)
	return got.Comment.Status
}

func cookieOf(r response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func mustContain(t *testing.T, what string, body []byte, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(string(body), w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestAdminLogin(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})

	t.Run("success", func(t *testing.T) {
		b := s.browser(t)
		page := b.get(t, "/admin/login")
		if page.status != http.StatusOK {
			t.Fatalf("login page: %d", page.status)
		}
		mustContain(t, "login page", page.body, `<meta name="robots" content="noindex">`, `<label for="login-email">Email</label>`, `name="password"`)
		if got := page.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q", got)
		}
		if got := page.header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || !strings.Contains(got, "default-src 'none'") {
			t.Errorf("CSP = %q", got)
		}
		csrf := cookieOf(page, csrfCookieName)
		if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Path != "/admin" || csrf.Secure {
			t.Errorf("CSRF cookie = %+v, want HttpOnly, SameSite=Strict, Path=/admin, not Secure on plain HTTP", csrf)
		}
		m := csrfFieldRE.FindSubmatch(page.body)
		r := b.post(t, "/admin/login", url.Values{"_csrf": {string(m[1])}, "email": {" MOD@example.org "}, "password": {testPassword}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin" {
			t.Fatalf("login: %d to %q, want 303 to /admin\n%s", r.status, r.header.Get("Location"), r.body)
		}
		sess := cookieOf(r, sessionCookieName)
		if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/admin" || sess.MaxAge != 86400 || sess.Secure {
			t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/admin, Max-Age=86400", sess)
		}
		q := b.get(t, "/admin")
		if q.status != http.StatusOK {
			t.Fatalf("queue after login: %d\n%s", q.status, q.body)
		}
		mustContain(t, "queue", q.body, "Moderation queue", "mod@example.org", `href="/admin/tokens"`)

		// Signing out ends the session on the server, not only in the browser.
		stolen := sess.Value
		r = b.post(t, "/admin/logout", b.form(t, "/admin", nil))
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/login" {
			t.Fatalf("logout: %d to %q", r.status, r.header.Get("Location"))
		}
		if c := cookieOf(r, sessionCookieName); c == nil || c.MaxAge >= 0 {
			t.Errorf("logout does not delete the cookie: %+v", c)
		}
		again := s.do(t, http.MethodGet, "/admin", "", nil, map[string]string{"Cookie": sessionCookieName + "=" + stolen})
		if again.status != http.StatusSeeOther {
			t.Errorf("old session after logout: %d, want a redirect to sign in", again.status)
		}
	})

	t.Run("wrong password or unknown email: one message", func(t *testing.T) {
		var bodies []string
		for _, email := range []string{"mod@example.org", "nobody@example.org"} {
			b := s.browser(t)
			r := b.post(t, "/admin/login", b.form(t, "/admin/login", url.Values{"email": {email}, "password": {"wrong password!"}}))
			if r.status != http.StatusUnauthorized || cookieOf(r, sessionCookieName) != nil {
				t.Fatalf("%s: status %d, session cookie %v", email, r.status, cookieOf(r, sessionCookieName))
			}
			mustContain(t, "failed login", r.body, "The email address or password is not right.", `value="`+email+`"`)
			bodies = append(bodies, strings.ReplaceAll(tokensRE.ReplaceAllString(string(r.body), ""), email, "E"))
		}
		if bodies[0] != bodies[1] {
			t.Errorf("a wrong password and an unknown email are answered differently:\n%s\n----\n%s", bodies[0], bodies[1])
		}
	})

	t.Run("throttled", func(t *testing.T) {
		s.user(t, "target@example.org", false, nil)
		b := s.browser(t)
		var last response
		for i := 0; i < 10; i++ {
			last = b.post(t, "/admin/login", b.form(t, "/admin/login", url.Values{"email": {"target@example.org"}, "password": {"guess number " + string(rune('0'+i))}}))
			if last.status == http.StatusTooManyRequests {
				break
			}
		}
		if last.status != http.StatusTooManyRequests {
			t.Fatalf("10 wrong passwords: last status %d, want 429", last.status)
		}
		if last.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if !regexp.MustCompile(`Too many sign-in attempts. Please wait \d+ seconds? and try again.`).Match(last.body) {
			t.Errorf("429 page does not say how long to wait:\n%s", last.body)
		}
		// The right password does not get through the throttle either.
		r := b.post(t, "/admin/login", b.form(t, "/admin/login", url.Values{"email": {"target@example.org"}, "password": {testPassword}}))
		if r.status != http.StatusTooManyRequests {
			t.Errorf("right password while throttled: %d, want 429", r.status)
		}
	})
}

func TestAdminSessionRedirectsToLoginAndBack(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	id := s.submitOK(t, "blog", valid())
	b := s.browser(t)
	want := "/admin/comments/" + id + "?x=1"

	r := b.get(t, want)
	if r.status != http.StatusSeeOther {
		t.Fatalf("no session: %d, want 303", r.status)
	}
	loc := r.header.Get("Location")
	if loc != "/admin/login?next="+url.QueryEscape(want) {
		t.Fatalf("redirect to %q", loc)
	}
	page := b.get(t, loc)
	mustContain(t, "login page", page.body, `name="next" value="`+want+`"`)
	r = b.post(t, "/admin/login", b.form(t, loc, url.Values{"email": {"mod@example.org"}, "password": {testPassword}, "next": {want}}))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
		t.Fatalf("after login: %d to %q, want %s", r.status, r.header.Get("Location"), want)
	}
	if got := b.get(t, want); got.status != http.StatusOK {
		t.Fatalf("intended page: %d", got.status)
	}

	// An unknown (or expired) session is the same as none, and its cookie goes.
	c := s.do(t, http.MethodGet, "/admin/sites", "", nil, map[string]string{"Cookie": sessionCookieName + "=expired-or-made-up"})
	if c.status != http.StatusSeeOther || c.header.Get("Location") != "/admin/login?next=%2Fadmin%2Fsites" {
		t.Errorf("bad session: %d to %q", c.status, c.header.Get("Location"))
	}
	if ck := cookieOf(c, sessionCookieName); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("bad session cookie not deleted: %+v", ck)
	}
	// Scripts get 401 rather than a login page.
	j := s.do(t, http.MethodPost, "/admin/comments/"+id+"/approve", "", nil, map[string]string{"Accept": "application/json", "X-CSRF-Token": "t", "Cookie": csrfCookieName + "=t"})
	if j.status != http.StatusUnauthorized {
		t.Errorf("script without session: %d, want 401", j.status)
	}
}

func TestAdminLoginRefusesOpenRedirect(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	for i, next := range []string{
		"https://evil.example/admin",
		"//evil.example/admin",
		"/\\evil.example",
		"/admin/../evil",
		"/admin/..%2f..%2fevil",
		"/adminevil",
		"/admin@evil.example",
		"javascript:alert(1)",
		"/admin/login",
		"/admin\r\nLocation: https://evil.example",
	} {
		t.Run(next, func(t *testing.T) {
			// One user per case: sign-ins are throttled per account.
			email := fmt.Sprintf("mod%d@example.org", i)
			s.user(t, email, false, map[string]comment.Role{"blog": comment.RoleModerator})
			b := s.browser(t)
			r := b.post(t, "/admin/login", b.form(t, "/admin/login", url.Values{"email": {email}, "password": {testPassword}, "next": {next}}))
			if r.status != http.StatusSeeOther {
				t.Fatalf("status %d", r.status)
			}
			if loc := r.header.Get("Location"); loc != "/admin" {
				t.Errorf("next=%q sent the user to %q, want /admin", next, loc)
			}
			page := b.get(t, "/admin/login?next="+url.QueryEscape(next))
			if page.status == http.StatusSeeOther && page.header.Get("Location") != "/admin" {
				t.Errorf("signed-in GET with next=%q went to %q", next, page.header.Get("Location"))
			}
		})
	}
}

func TestLocalAdminPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/admin", "/admin", true},
		{"/admin?status=spam&site=blog", "/admin?status=spam&site=blog", true},
		{"/admin/comments/abc", "/admin/comments/abc", true},
		{"/admin/./sites/", "/admin/sites", true},
		{"/admin/../x", "", false},
		{"/adminx", "", false},
		{"//evil.example/admin", "", false},
		{"https://evil.example/admin", "", false},
		{"/admin\\..\\..", "", false},
		{"", "", false},
	} {
		got, ok := localAdminPath(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("localAdminPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAdminCSRF(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	id := s.submitOK(t, "blog", valid())
	b := s.browser(t)
	b.login(t, "mod@example.org")
	other := s.browser(t)
	staleToken := other.csrf(t, "/admin/login") // valid, but for another browser's cookie

	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"missing", url.Values{"back": {"/admin"}}, nil},
		{"stale", url.Values{"_csrf": {staleToken}, "back": {"/admin"}}, nil},
		{"stale header", url.Values{}, map[string]string{"X-CSRF-Token": staleToken}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.send(t, http.MethodPost, "/admin/comments/"+id+"/approve", tc.form, tc.hdr)
			if r.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.status)
			}
			mustContain(t, "403 page", r.body, "This page has expired", "Reload the page and try again.")
			if got := s.status(t, id); got != "pending" {
				t.Errorf("comment is %s after a refused post", got)
			}
		})
	}
	t.Run("login form", func(t *testing.T) {
		r := s.browser(t).post(t, "/admin/login", url.Values{"email": {"mod@example.org"}, "password": {testPassword}})
		if r.status != http.StatusForbidden || cookieOf(r, sessionCookieName) != nil {
			t.Fatalf("login without a token: %d", r.status)
		}
	})
	t.Run("script gets JSON", func(t *testing.T) {
		r := b.send(t, http.MethodPost, "/admin/comments/"+id+"/approve", url.Values{}, map[string]string{"Accept": "application/json"})
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), `"error":"This page has expired`) {
			t.Fatalf("status %d, body %s", r.status, r.body)
		}
	})
	t.Run("cross-site", func(t *testing.T) {
		r := b.send(t, http.MethodPost, "/admin/comments/"+id+"/approve", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		if r.status != http.StatusForbidden {
			t.Fatalf("cross-site post: %d, want 403", r.status)
		}
		mustContain(t, "403 page", r.body, "sent from a page of another site")
	})
}

func TestAdminQueueApproveByForm(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	id := s.submitOK(t, "blog", with(valid(), "website", "https://ann.example", "body", "First *held* comment."))
	keep := s.submitOK(t, "blog", with(valid(), "body", "Second one."))
	b := s.browser(t)
	b.login(t, "mod@example.org")

	q := b.get(t, "/admin?site=blog")
	if q.status != http.StatusOK {
		t.Fatalf("queue: %d", q.status)
	}
	mustContain(t, "queue", q.body,
		`id="c-`+id+`"`, "Ann Reader", "ann@example.org", "https://ann.example", "127.0.0.1", "Go-http-client",
		"Why it was held", "Moderation mode", "every comment is held for review",
		"First <em>held</em> comment.", `formaction="/admin/comments/`+id+`/approve"`, `aria-current="page">Pending`)

	r := b.post(t, "/admin/comments/"+id+"/approve", b.form(t, "/admin", url.Values{"back": {"/admin?site=blog"}}))
	if r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/admin?") || !strings.Contains(loc, "site=blog") || !strings.Contains(loc, "done=approve") {
		t.Fatalf("approve went to %q, want the queue with its filters", loc)
	}
	after := b.get(t, loc)
	mustContain(t, "queue after approving", after.body, "1 comment approved.", `id="c-`+keep+`"`)
	if strings.Contains(string(after.body), `id="c-`+id+`"`) {
		t.Error("the approved comment is still in the queue")
	}
	if got := s.status(t, id); got != "approved" {
		t.Errorf("status %s, want approved", got)
	}
	approved := b.get(t, "/admin?site=blog&status=approved")
	mustContain(t, "approved tab", approved.body, `id="c-`+id+`"`, `aria-current="page">Approved`)

	// admin.js asks for JSON.
	j := b.send(t, http.MethodPost, "/admin/comments/"+keep+"/reject", url.Values{}, map[string]string{"Accept": "application/json", "X-CSRF-Token": b.csrf(t, "/admin")})
	if j.status != http.StatusOK || !strings.Contains(string(j.body), `"status":"rejected"`) {
		t.Errorf("JSON reject: %d %s", j.status, j.body)
	}
	// An off-site back is ignored.
	r = b.post(t, "/admin/comments/"+keep+"/approve", b.form(t, "/admin", url.Values{"back": {"https://evil.example/admin"}}))
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/admin?") {
		t.Errorf("back to %q", loc)
	}
	// An unknown action or comment is 404.
	if r := b.post(t, "/admin/comments/"+keep+"/frobnicate", b.form(t, "/admin", nil)); r.status != http.StatusNotFound {
		t.Errorf("unknown action: %d", r.status)
	}
}

func TestAdminBulkForm(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	a := s.submitOK(t, "blog", with(valid(), "body", "one"))
	bb := s.submitOK(t, "blog", with(valid(), "body", "two"))
	c := s.submitOK(t, "blog", with(valid(), "body", "three"))
	b := s.browser(t)
	b.login(t, "mod@example.org")

	form := b.form(t, "/admin", url.Values{"action": {"spam"}, "id": {a, bb, "no-such-comment"}, "back": {"/admin"}})
	r := b.post(t, "/admin/comments/bulk", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("bulk: %d\n%s", r.status, r.body)
	}
	page := b.get(t, r.header.Get("Location"))
	mustContain(t, "queue after bulk", page.body, "2 comments marked as spam. 1 comment could not be changed.", `id="c-`+c+`"`)
	for _, id := range []string{a, bb} {
		if strings.Contains(string(page.body), `id="c-`+id+`"`) {
			t.Errorf("%s still queued", id)
		}
		if got := s.status(t, id); got != "spam" {
			t.Errorf("%s is %s", id, got)
		}
	}

	j := b.send(t, http.MethodPost, "/admin/comments/bulk", url.Values{"action": {"approve"}, "id": {c, "no-such-comment"}},
		map[string]string{"Accept": "application/json", "X-CSRF-Token": b.csrf(t, "/admin")})
	want := `{"results":[{"id":"` + c + `","ok":true,"status":"approved"},{"id":"no-such-comment","ok":false,"message":"There is nothing here`
	if j.status != http.StatusOK || !strings.HasPrefix(string(j.body), want) {
		t.Errorf("JSON bulk: %d %s", j.status, j.body)
	}
	if r := b.post(t, "/admin/comments/bulk", b.form(t, "/admin", url.Values{"action": {"approve"}})); r.status != http.StatusUnprocessableEntity {
		t.Errorf("bulk with nothing selected: %d", r.status)
	}
}

func TestAdminEditShowsErrorsBesideFields(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	id := s.submitOK(t, "blog", valid())
	b := s.browser(t)
	b.login(t, "mod@example.org")
	page := "/admin/comments/" + id

	r := b.post(t, page+"/edit", b.form(t, page, url.Values{"name": {"Ann <R>"}, "website": {"javascript:alert(1)"}, "body": {"Edited text, kept."}}))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid edit: %d", r.status)
	}
	mustContain(t, "edit form", r.body,
		`aria-invalid="true" aria-describedby="edit-website-error"`,
		`<span class="adm-field-error" id="edit-website-error">Please enter a web address starting with http:// or https://.</span>`,
		`value="Ann &lt;R&gt;"`, `>Edited text, kept.</textarea>`, `value="javascript:alert(1)"`)
	if strings.Contains(string(r.body), `id="edit-name-error"`) {
		t.Error("the valid name shows an error")
	}
	if d := s.detail(t, id); !strings.HasPrefix(d.Comment.Body, "Lovely *walk*") || len(d.Revisions) != 0 {
		t.Errorf("invalid edit changed the comment: %+v", d.Comment)
	}

	r = b.post(t, page+"/edit", b.form(t, page, url.Values{"name": {"Ann R."}, "website": {"ann.example"}, "body": {"Lovely *towpath*."}}))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != page+"?saved=1" {
		t.Fatalf("edit: %d to %q", r.status, r.header.Get("Location"))
	}
	after := b.get(t, page+"?saved=1")
	mustContain(t, "edited comment", after.body, "Your changes are saved", "Lovely <em>towpath</em>.", "https://ann.example", "Earlier versions", "Lovely *walk*", "edited")
}

func TestAdminSiteIsolation(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	mine := s.submitOK(t, "blog", with(valid(), "body", "On my site."))
	theirs := s.submitOK(t, "other", with(valid(), "body", "On another site."))
	b := s.browser(t)
	b.login(t, "mod@example.org")

	q := b.get(t, "/admin")
	mustContain(t, "queue", q.body, `id="c-`+mine+`"`)
	if strings.Contains(string(q.body), theirs) || strings.Contains(string(q.body), "On another site.") {
		t.Error("the queue shows another site's comment")
	}
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
		want               int
	}{
		{"queue of the other site", "GET", "/admin?site=other", nil, 403},
		{"comment page", "GET", "/admin/comments/" + theirs, nil, 403},
		{"card", "GET", "/admin/comments/" + theirs + "/card", nil, 403},
		{"approve", "POST", "/admin/comments/" + theirs + "/approve", url.Values{}, 403},
		{"edit", "POST", "/admin/comments/" + theirs + "/edit", url.Values{"name": {"x"}, "body": {"x"}}, 403},
		{"site page", "GET", "/admin/sites/other", nil, 403},
		{"grant on the other site", "POST", "/admin/sites/other/members", url.Values{"email": {"mod@example.org"}, "role": {"owner"}}, 403},
		{"grant on own site as a moderator", "POST", "/admin/sites/blog/members", url.Values{"email": {"mod@example.org"}, "role": {"owner"}}, 403},
		{"unknown comment", "GET", "/admin/comments/no-such-comment", nil, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.method == "GET" {
				r = b.get(t, tc.path)
			} else {
				r = b.post(t, tc.path, b.form(t, "/admin", tc.form))
			}
			if r.status != tc.want {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, r.status, tc.want)
			}
			if strings.Contains(string(r.body), "On another site.") {
				t.Error("the answer shows the other site's comment")
			}
			if tc.want == 403 {
				mustContain(t, "403 page", r.body, "You do not have access to this site.")
			}
		})
	}
	bulk := b.post(t, "/admin/comments/bulk", b.form(t, "/admin", url.Values{"action": {"approve"}, "id": {theirs}}))
	if loc := bulk.header.Get("Location"); !strings.Contains(loc, "failed=1") {
		t.Errorf("bulk on another site's comment: %d to %q", bulk.status, loc)
	}
	if got := s.status(t, theirs); got != "pending" {
		t.Errorf("the other site's comment is %s", got)
	}
}

func TestAdminCommentPage(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	parent := s.submitOK(t, "blog", with(valid(), "name", "Bob Parent", "body", "The towpath reopened on Sunday after three winters."))
	s.approve(t, parent)
	earlier := s.submitOK(t, "blog", with(valid(), "body", "An earlier one."))
	s.approve(t, earlier)
	reply := s.submitOK(t, "blog", with(valid(), "parent_id", parent, "body", "Agreed!"))
	b := s.browser(t)
	b.login(t, "mod@example.org")
	if r := b.post(t, "/admin/comments/"+reply+"/spam", b.form(t, "/admin", url.Values{"back": {"/admin/comments/" + reply}})); r.status != http.StatusSeeOther {
		t.Fatalf("spam: %d", r.status)
	}

	page := b.get(t, "/admin/comments/"+reply+"?done=spam&n=1")
	if page.status != http.StatusOK {
		t.Fatalf("comment page: %d", page.status)
	}
	mustContain(t, "comment page", page.body,
		"1 comment marked as spam.",
		"Why it was held", "Moderation mode", "every comment is held for review",
		"In reply to <b>Bob Parent</b>", "The towpath reopened on Sunday after three winters.",
		"2 approved", "1 spam", // the author's record on the site (same email)
		"History", "<b>system</b> submitted", "<b>mod@example.org</b> marked as spam", "Pending → Spam",
		`formaction="/admin/comments/`+reply+`/approve"`, `name="body"`)
	if got := b.get(t, "/admin/comments/no-such-id"); got.status != http.StatusNotFound || !strings.Contains(string(got.body), "There is nothing here") {
		t.Errorf("unknown comment: %d", got.status)
	}
}

func TestAdminEventsNeedSession(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "mod@example.org", false, map[string]comment.Role{"blog": comment.RoleModerator})
	if r := s.do(t, http.MethodGet, "/admin/events", "", nil, map[string]string{"Accept": "text/event-stream"}); r.status != http.StatusUnauthorized {
		t.Fatalf("events without a session: %d, want 401", r.status)
	}
	b := s.browser(t)
	b.login(t, "mod@example.org")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/admin/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan()
	s.submitOK(t, "other", valid())
	id := s.submitOK(t, "blog", valid())
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "data: ") {
			if !strings.Contains(l, id) || !strings.Contains(l, `"site":"blog"`) {
				t.Fatalf("first event %s, want the held comment %s of blog", l, id)
			}
			break
		}
	}
	card := b.get(t, "/admin/comments/"+id+"/card?back=%2Fadmin%3Fsite%3Dblog")
	if card.status != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(string(card.body)), `<article class="adm-card"`) {
		t.Fatalf("card: %d\n%s", card.status, card.body)
	}
	mustContain(t, "card", card.body, `name="back" value="/admin?site=blog"`)
}

func TestAdminSitesAndTokens(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "owner@example.org", false, map[string]comment.Role{"blog": comment.RoleOwner})
	s.user(t, "new@example.org", false, nil)
	b := s.browser(t)
	b.login(t, "owner@example.org")

	sites := b.get(t, "/admin/sites")
	mustContain(t, "sites", sites.body, `href="/admin/sites/blog"`, "Owner")
	if strings.Contains(string(sites.body), "/admin/sites/other") {
		t.Error("sites lists a site without a role")
	}
	site := "/admin/sites/blog"
	r := b.post(t, site+"/members", b.form(t, site, url.Values{"email": {"ghost@example.org"}, "role": {"moderator"}}))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("grant to an unknown user: %d", r.status)
	}
	mustContain(t, "grant form", r.body, `id="grant-email-error"`, "create the account first", `value="ghost@example.org"`)
	r = b.post(t, site+"/members", b.form(t, site, url.Values{"email": {"new@example.org"}, "role": {"moderator"}}))
	if r.status != http.StatusSeeOther {
		t.Fatalf("grant: %d\n%s", r.status, r.body)
	}
	page := b.get(t, r.header.Get("Location"))
	mustContain(t, "site page", page.body, "Access updated.", "new@example.org", "Trusted authors", "Blocked IP addresses")

	tokens := b.get(t, "/admin/tokens")
	mustContain(t, "tokens", tokens.body, "You have no API tokens.")
	r = b.post(t, "/admin/tokens", b.form(t, "/admin/tokens", url.Values{"name": {"nightly sweep"}}))
	if r.status != http.StatusCreated {
		t.Fatalf("create token: %d", r.status)
	}
	m := regexp.MustCompile(`id="new-token" class="adm-token" value="(cmtd_[^"]+)"`).FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("the new token's value is not shown:\n%s", r.body)
	}
	if api := s.mod(t, http.MethodGet, "/comments?site=blog", string(m[1])); api.status != http.StatusOK {
		t.Errorf("the new token does not work: %d", api.status)
	}
	list := b.get(t, "/admin/tokens")
	if strings.Contains(string(list.body), string(m[1])) {
		t.Error("the token's value is shown again")
	}
	id := regexp.MustCompile(`action="/admin/tokens/([^/]+)/revoke"`).FindSubmatch(list.body)
	if id == nil {
		t.Fatal("no revoke form")
	}
	if r := b.post(t, "/admin/tokens/"+string(id[1])+"/revoke", b.form(t, "/admin/tokens", nil)); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	if api := s.mod(t, http.MethodGet, "/comments?site=blog", string(m[1])); api.status != http.StatusUnauthorized {
		t.Errorf("a revoked token still works: %d", api.status)
	}
}

func TestAdminAsAdministrator(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.user(t, "root@example.org", true, nil)
	mine := s.submitOK(t, "blog", valid())
	theirs := s.submitOK(t, "other", valid())
	b := s.browser(t)
	b.login(t, "root@example.org")

	q := b.get(t, "/admin")
	mustContain(t, "queue of every site", q.body, `id="c-`+mine+`"`, `id="c-`+theirs+`"`, `<select id="f-site" name="site"`, `<option value="blog">blog</option>`, `<option value="other">other</option>`, `<span class="adm-badge">admin</span>`)
	nosite := b.get(t, "/admin?site=nosuch")
	if nosite.status != http.StatusNotFound {
		t.Errorf("queue of an unknown site: %d", nosite.status)
	}
	mustContain(t, "queue of an unknown site", nosite.body, `aria-describedby="f-site-error"`, "There is no site with this id.")
	if r := b.get(t, "/admin?ip=not-an-ip"); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="f-ip-error"`) {
		t.Errorf("bad IP filter: %d", r.status)
	}

	sites := b.get(t, "/admin/sites")
	mustContain(t, "sites", sites.body, "Open a site", `name="open"`, `href="/admin/sites/blog"`, `href="/admin/sites/other"`)
	if r := b.get(t, "/admin/sites?open=other"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/sites/other" {
		t.Errorf("open a site: %d to %q", r.status, r.header.Get("Location"))
	}
	page := b.get(t, "/admin/sites/other")
	mustContain(t, "site page", page.body, "Other", "Administrator", "Moderators and owners", "Give someone a role")
	if r := b.get(t, "/admin/sites/nosuch"); r.status != http.StatusNotFound {
		t.Errorf("unknown site: %d", r.status)
	}
}
