package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// widgetEnv is a commentd whose demo site has two origins: commentd's own
// (the demo article pages) and a blog on another origin that embeds the
// comment section as a site would. A stranger's origin is not the site's.
type widgetEnv struct {
	in       *instance
	origin   string // commentd
	blog     string // the demo site's blog (fetched and included sections)
	stranger string // an origin the demo site does not list
	db       string
}

const widgetAdminToken = "widget-test-admin-token-0123456789"

func startWidgetEnv(t *testing.T) *widgetEnv {
	t.Helper()
	port := freePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	blog := httptest.NewServer(blogPages(origin))
	t.Cleanup(blog.Close)
	stranger := httptest.NewServer(blogPages(origin))
	t.Cleanup(stranger.Close)
	db := filepath.Join(t.TempDir(), "commentd.db")
	in := start(t, setup{
		yaml: fmt.Sprintf(`listen: 127.0.0.1:%d
database_url: unused.db
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 1s, burst: 100}
sites:
  - id: demo
    name: Demo blog
    origins: [%s, %s]
`, port, origin, blog.URL),
		env: map[string]string{
			"COMMENTD_LISTEN":       fmt.Sprintf("127.0.0.1:%d", port),
			"COMMENTD_DATABASE_URL": db,
			"COMMENTD_ADMIN_TOKEN":  widgetAdminToken,
		},
	})
	env := &widgetEnv{in: in, origin: origin, blog: blog.URL, stranger: stranger.URL, db: db}
	// A browser test posts faster than a person could; the form token's
	// minimum of 3 s would (rightly) judge it spam.
	env.rules(t, func(doc map[string]any) { doc["min_submit_seconds"] = 0 })
	return env
}

// blogPages serves article pages of a blog that embeds commentd (at
// origin): /posts/fetched/... has the empty container that embed.js fills,
// /posts/included/... includes the comment section on the server, as a
// site's templates would, so that it works without JavaScript. Both have
// count elements and the one script tag.
func blogPages(origin string) http.Handler {
	const layout = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title><link rel="icon" href="data:,"></head>
<body><main>
<h1>%s</h1>
<p>An article on a blog that embeds commentd.</p>
<div id="commentd">%s</div>
<p>Also: <span id="count-fetched" data-commentd-count="/posts/fetched/"></span>
<span id="count-demo" data-commentd-count="/demo/"></span>
<span id="count-other" data-commentd-count="/elsewhere/" data-commentd-site="demo"></span></p>
</main>
<script src="%s/embed.js" data-site="demo" async></script>
</body></html>`
	mux := http.NewServeMux()
	mux.HandleFunc("/posts/fetched/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, layout, "A fetched thread", "A fetched thread", "", origin)
	})
	mux.HandleFunc("/posts/included/", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"page": {r.URL.Path}, "page_url": {"http://" + r.Host + r.URL.Path}, "page_title": {"An included thread"}}
		if id := r.URL.Query().Get("replytocom"); id != "" {
			q.Set("replytocom", id)
		}
		resp, err := http.Get(origin + "/sites/demo/thread?" + q.Encode())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		section, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("section: %d %v", resp.StatusCode, err), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, layout, "An included thread", "An included thread", section, origin)
	})
	return mux
}

func (env *widgetEnv) admin() map[string]string {
	return map[string]string{"Authorization": "Bearer " + widgetAdminToken}
}

// rules reads the demo site's rules, lets change edit them and saves them.
func (env *widgetEnv) rules(t *testing.T, change func(doc map[string]any)) {
	t.Helper()
	r := env.in.call(t, "GET", "/api/v1/sites/demo/rules", nil, env.admin())
	if r.status != 200 {
		t.Fatalf("get rules: %d %s", r.status, r.body)
	}
	var doc map[string]any
	r.decode(t, &doc)
	change(doc)
	b, _ := json.Marshal(doc)
	h := env.admin()
	h["Content-Type"] = "application/json"
	if r := env.in.call(t, "PUT", "/api/v1/sites/demo/rules", bytes.NewReader(b), h); r.status != 200 {
		t.Fatalf("put rules: %d %s", r.status, r.body)
	}
}

// comment posts a comment through the API and returns its id.
func (env *widgetEnv) comment(t *testing.T, page string, v map[string]any) string {
	t.Helper()
	body := map[string]any{"page": page}
	for k, val := range v {
		body[k] = val
	}
	r := env.in.post(t, "demo", body, nil)
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var got struct {
		Comment struct {
			ID string `json:"id"`
		} `json:"comment"`
	}
	r.decode(t, &got)
	return got.Comment.ID
}

func (env *widgetEnv) approve(t *testing.T, id string) {
	t.Helper()
	if r := env.in.mod(t, "POST", "/comments/"+id+"/approve"); r.status != 200 {
		t.Fatalf("approve %s: %d %s", id, r.status, r.body)
	}
}

// enhanced waits until embed.js has taken over the comment section: the
// save-my-details checkbox, which only the script can honour, shows.
func enhanced() chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(".commentd-save"))
}

func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, expr, chromedp.Evaluate[T](expr))
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	return strings.TrimSpace(get(t, ctx, "text of "+css, chromedp.Text(chromedp.CSS(css))))
}

// expectProblems fails the test for each page problem that mentions none
// of the expected texts (such as the HTTP status of a refusal the test
// provoked on purpose: browsers log every 4xx answer to fetch).
func expectProblems(t *testing.T, p *pageProblems, expected ...string) {
	t.Helper()
	for _, s := range p.all() {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(s, e) }) {
			t.Errorf("page problem: %s", s)
		}
	}
}

// TestWidgetOnDemoPage drives the comment section of the demo article with
// JavaScript on: the server-rendered thread is enhanced; a missing email is
// shown beside its field and the text is kept; a comment posted with the
// keyboard alone appears in place awaiting moderation and stays there
// across reloads in this browser; Reply moves the form under a comment and
// Cancel moves it back; after approval through the API a reload shows both
// comments as ordinary ones, the reply nested; the count elements are
// filled; the accessibility tree names every control and has the live
// region; no script fails.
func TestWidgetOnDemoPage(t *testing.T) {
	env := startWidgetEnv(t)
	marta := env.comment(t, "/demo/", map[string]any{"name": "Marta Keel", "email": "marta@example.net", "website": "https://marta.example",
		"body": "I walked the new stretch on Sunday morning. The gravel is firm, even after the rain."})
	env.approve(t, marta)
	ctx := browser(t)
	problems := watchPage(ctx)

	do(t, ctx, "open the article", chromedp.EmulateViewport(1000, 900), chromedp.Navigate(env.origin+"/demo/"), enhanced())
	if got := text(t, ctx, "#commentd-count"); got != "1 Response" {
		t.Errorf("count heading = %q, want 1 Response", got)
	}
	if got := text(t, ctx, "#comment-"+marta+" .commentd-author a"); got != "Marta Keel" {
		t.Errorf("author = %q", got)
	}

	do(t, ctx, "count elements", chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-commentd-counted]').length === 3`))
	for path, want := range map[string]string{"/demo/": "1 Response", "/demo/heronry/": "No Responses yet", "/demo/orchard/": "No Responses yet"} {
		if got := text(t, ctx, `[data-commentd-count="`+path+`"]`); got != want {
			t.Errorf("count of %s = %q, want %q", path, got, want)
		}
	}

	checkAccessibility(t, ctx)

	do(t, ctx, "post without an email",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Is the new stretch step-free from the cottage?"),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Ann Reader"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("commentd-email-error")),
	)
	if got := get(t, ctx, "aria-invalid", chromedp.AttributeValue(chromedp.ID("commentd-email"), "aria-invalid")); got.Value != "true" {
		t.Errorf("email aria-invalid = %q", got.Value)
	}
	if got := get(t, ctx, "aria-describedby", chromedp.AttributeValue(chromedp.ID("commentd-email"), "aria-describedby")); got.Value != "commentd-email-error" {
		t.Errorf("email aria-describedby = %q", got.Value)
	}
	if got := text(t, ctx, "#commentd-email-error"); !strings.Contains(got, "email") {
		t.Errorf("email error = %q", got)
	}
	if got := get(t, ctx, "kept body", chromedp.Value(chromedp.ID("commentd-body"))); got != "Is the new stretch step-free from the cottage?" {
		t.Errorf("the comment was not kept: %q", got)
	}
	if got := text(t, ctx, ".commentd-status"); !strings.Contains(got, "could not be posted") {
		t.Errorf("the live region says %q", got)
	}
	if got := js[string](t, ctx, `document.activeElement.id`); got != "commentd-email" {
		t.Errorf("after the error the focus is on %q, want the email field", got)
	}

	// The keyboard alone: the focus is in the email field; Tab goes to the
	// website, the save checkbox (Space ticks it) and the button (Enter).
	do(t, ctx, "post with the keyboard",
		chromedp.KeyEvent("ann@example.org"),
		chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent(" "),
		chromedp.KeyEvent("\t"), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending")),
	)
	own := strings.TrimPrefix(js[string](t, ctx, `document.querySelector('.commentd-is-pending').id`), "comment-")
	if got := text(t, ctx, "#comment-"+own+" .commentd-pending"); got != "Your comment is awaiting moderation." {
		t.Errorf("pending notice = %q", got)
	}
	if got := text(t, ctx, "#comment-"+own+" .commentd-body"); got != "Is the new stretch step-free from the cottage?" {
		t.Errorf("own comment body = %q", got)
	}
	if got := text(t, ctx, ".commentd-status"); got != "Your comment is awaiting moderation." {
		t.Errorf("the live region says %q", got)
	}
	if n := js[int](t, ctx, `document.querySelectorAll('#commentd [aria-invalid]').length`); n != 0 {
		t.Errorf("%d fields still marked invalid", n)
	}
	if got := js[string](t, ctx, `localStorage.getItem('commentd-author') || ''`); !strings.Contains(got, "ann@example.org") {
		t.Errorf("saved details = %q", got)
	}
	if got := text(t, ctx, "#commentd-count"); got != "1 Response" {
		t.Errorf("a pending comment changed the count heading to %q", got)
	}

	do(t, ctx, "reload", chromedp.Reload(), enhanced(), chromedp.WaitVisible(chromedp.ID("comment-"+own)))
	if !js[bool](t, ctx, `document.getElementById('comment-`+own+`').classList.contains('commentd-is-pending')`) {
		t.Error("after a reload the own comment is not marked as awaiting moderation")
	}
	if got := get(t, ctx, "saved name", chromedp.Value(chromedp.ID("commentd-name"))); got != "Ann Reader" {
		t.Errorf("name after reload = %q, want the saved one", got)
	}
	if !js[bool](t, ctx, `document.getElementById('commentd-save').checked`) {
		t.Error("the save checkbox is not ticked after a reload")
	}

	replyLink := "#comment-" + marta + " > article .commentd-reply"
	do(t, ctx, "reply", chromedp.Click(chromedp.CSS(replyLink)), chromedp.WaitVisible(chromedp.CSS("#comment-"+marta+" > #commentd-respond")))
	if got := text(t, ctx, "#commentd-reply-title"); got != "Leave a Reply to Marta Keel" {
		t.Errorf("form title = %q", got)
	}
	if got := js[string](t, ctx, `document.activeElement.id`); got != "commentd-body" {
		t.Errorf("after Reply the focus is on %q, want the comment field", got)
	}
	do(t, ctx, "cancel the reply", chromedp.Click(chromedp.CSS(".commentd-cancel a")), chromedp.WaitVisible(chromedp.CSS("#commentd-comments > #commentd-respond")))
	if !js[bool](t, ctx, `document.activeElement.matches('`+replyLink+`')`) {
		t.Error("after Cancel the focus is not back on the Reply link")
	}
	if got := text(t, ctx, "#commentd-reply-title"); got != "Leave a Reply" {
		t.Errorf("form title after Cancel = %q", got)
	}
	do(t, ctx, "post a reply",
		chromedp.Click(chromedp.CSS(replyLink)),
		chromedp.WaitVisible(chromedp.CSS("#comment-"+marta+" > #commentd-respond")),
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Same here: dry feet all the way."),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#comment-"+marta+" > .commentd-replies > .commentd-is-pending")),
		chromedp.WaitVisible(chromedp.CSS("#commentd-comments > #commentd-respond")),
	)
	reply := strings.TrimPrefix(js[string](t, ctx, `document.querySelector('#comment-`+marta+` .commentd-is-pending').id`), "comment-")

	env.approve(t, own)
	env.approve(t, reply)
	do(t, ctx, "reload after approval", chromedp.Reload(), enhanced(), chromedp.WaitVisible(chromedp.ID("comment-"+reply)))
	if got := text(t, ctx, "#commentd-count"); got != "3 Responses" {
		t.Errorf("count heading = %q, want 3 Responses", got)
	}
	if n := js[int](t, ctx, `document.querySelectorAll('.commentd-is-pending, .commentd-pending').length`); n != 0 {
		t.Errorf("%d comments still shown as awaiting moderation after approval", n)
	}
	if !js[bool](t, ctx, `!!document.querySelector('#comment-`+marta+` > .commentd-replies > #comment-`+reply+`')`) {
		t.Error("the approved reply is not nested under its parent")
	}
	if got := js[string](t, ctx, `localStorage.getItem('commentd:demo:/demo/') || ''`); got != "" {
		t.Errorf("approved comments are still kept as pending: %s", got)
	}
	expectProblems(t, problems, "status of 422")
}

// checkAccessibility reads the browser's accessibility tree: every form
// control has its label as its name, the form is a landmark named by its
// heading and the status region is live.
func checkAccessibility(t *testing.T, ctx context.Context) {
	t.Helper()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatalf("accessibility tree: %v", err)
	}
	str := func(v *accessibility.Value) string {
		if v == nil {
			return ""
		}
		var s string
		_ = json.Unmarshal(v.Value, &s)
		return s
	}
	find := func(role, name string) *accessibility.Node {
		for _, n := range tree.Nodes {
			if !n.Ignored && str(n.Role) == role && strings.TrimSpace(str(n.Name)) == name {
				return n
			}
		}
		return nil
	}
	for _, want := range []struct{ role, name string }{
		{"textbox", "Comment *"}, {"textbox", "Name *"}, {"textbox", "Email *"}, {"textbox", "Website"},
		{"checkbox", "Save my name, email, and website in this browser for the next time I comment."},
		{"button", "Post Comment"}, {"form", "Leave a Reply"}, {"heading", "1 Response"},
		{"link", "Reply to Marta Keel"},
	} {
		if find(want.role, want.name) == nil {
			t.Errorf("the accessibility tree has no %s named %q", want.role, want.name)
		}
	}
	live := false
	for _, n := range tree.Nodes {
		if str(n.Role) != "status" {
			continue
		}
		for _, p := range n.Properties {
			if p.Name == accessibility.PropertyNameLive && str(p.Value) == "polite" {
				live = true
			}
		}
	}
	if !live {
		t.Error("the accessibility tree has no polite live status region")
	}
	for _, n := range tree.Nodes {
		if str(n.Role) == "textbox" && strings.Contains(str(n.Name), "Leave this field empty") && !n.Ignored {
			t.Error("the honeypot field is in the accessibility tree")
		}
	}
}

// TestWidgetOnAnotherOrigin runs the widget on a blog that is one of the
// site's origins: with an empty container it fetches the section across
// origins, posts to it (CORS preflight included) and fills the count
// elements; network failures and 429 keep the text; a section the blog
// includes on its server is enhanced instead of drawn twice. On a
// stranger's origin the browser is refused the section and the counts.
func TestWidgetOnAnotherOrigin(t *testing.T) {
	env := startWidgetEnv(t)
	first := env.comment(t, "/posts/fetched/", map[string]any{"name": "Priya Shah", "email": "priya@example.org", "body": "First!"})
	env.approve(t, first)
	ctx := browser(t)
	problems := watchPage(ctx)

	do(t, ctx, "open the fetched article", chromedp.Navigate(env.blog+"/posts/fetched/"), enhanced())
	if got := text(t, ctx, "#commentd-count"); got != "1 Response" {
		t.Errorf("count heading = %q", got)
	}
	if n := js[int](t, ctx, `document.querySelectorAll('section.commentd').length`); n != 1 {
		t.Errorf("%d comment sections on the page", n)
	}
	do(t, ctx, "count elements", chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-commentd-counted]').length === 3`))
	if got := text(t, ctx, "#count-fetched"); got != "1 Response" {
		t.Errorf("count of /posts/fetched/ = %q", got)
	}

	do(t, ctx, "post across origins",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Posted from the blog."),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Bo"),
		chromedp.SendKeys(chromedp.ID("commentd-email"), "bo@example.org"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending")),
	)
	do(t, ctx, "reload", chromedp.Reload(), enhanced(), chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending")))

	// The connection fails: the message says so and the text stays.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network events: %v", err)
	}
	offline := func(off bool) {
		t.Helper()
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			t.Fatalf("offline %v: %v", off, err)
		}
	}
	offline(true)
	do(t, ctx, "post offline",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Written on a train."),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Cy"),
		chromedp.SendKeys(chromedp.ID("commentd-email"), "cy@example.org"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.querySelector('.commentd-status.commentd-is-error') !== null`),
	)
	if got := text(t, ctx, ".commentd-status"); !strings.Contains(got, "connection failed") {
		t.Errorf("offline, the live region says %q", got)
	}
	if got := get(t, ctx, "kept body", chromedp.Value(chromedp.ID("commentd-body"))); got != "Written on a train." {
		t.Errorf("offline, the text became %q", got)
	}
	offline(false)

	// A section the blog's server included is enhanced, not drawn again.
	do(t, ctx, "open the included article", chromedp.Navigate(env.blog+"/posts/included/"), enhanced())
	if n := js[int](t, ctx, `document.querySelectorAll('section.commentd').length`); n != 1 {
		t.Errorf("%d comment sections on the page", n)
	}
	do(t, ctx, "post on the included article",
		chromedp.SetValue(chromedp.ID("commentd-body"), "Included, enhanced."),
		chromedp.SetValue(chromedp.ID("commentd-name"), "Di"),
		chromedp.SetValue(chromedp.ID("commentd-email"), "di@example.org"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.querySelector('.commentd-is-pending, .commentd-status.commentd-is-error')`),
	)
	if got := text(t, ctx, ".commentd-status"); got != "Your comment is awaiting moderation." {
		t.Fatalf("after posting on the included article the live region says %q", got)
	}

	// Too many comments from this address: 429, with how long to wait.
	do(t, ctx, "write another comment",
		chromedp.SetValue(chromedp.ID("commentd-body"), "Written in a hurry."),
		chromedp.SetValue(chromedp.ID("commentd-name"), "Cy"),
		chromedp.SetValue(chromedp.ID("commentd-email"), "cy@example.org"),
	)
	env.rules(t, func(doc map[string]any) {
		doc["rate_limits"].(map[string]any)["ip"] = map[string]any{"every": "1h", "burst": 1}
	})
	// This test and the browser share 127.0.0.1; the test takes the one
	// comment allowed.
	env.comment(t, "/posts/fetched/", map[string]any{"name": "Ed", "email": "ed@example.org", "body": "Takes the allowance."})
	do(t, ctx, "post too often",
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.Poll[chromedp.Void](`/too quickly/.test(document.querySelector('.commentd-status').textContent)`),
	)
	if got := get(t, ctx, "kept body", chromedp.Value(chromedp.ID("commentd-body"))); got != "Written in a hurry." {
		t.Errorf("after 429 the text became %q", got)
	}

	expectProblems(t, problems, "ERR_INTERNET_DISCONNECTED", "status of 429")

	// A stranger's page: the browser keeps commentd's answers from it.
	do(t, ctx, "open a stranger's page", chromedp.Navigate(env.stranger+"/posts/fetched/"),
		chromedp.WaitVisible(chromedp.CSS(".commentd-load-error")))
	if got := text(t, ctx, ".commentd-load-error"); !strings.Contains(got, "could not be loaded") {
		t.Errorf("on a stranger's page the container says %q", got)
	}
	time.Sleep(200 * time.Millisecond) // the counts request, refused too
	if got := text(t, ctx, "#count-fetched"); got != "" {
		t.Errorf("on a stranger's page a count shows %q", got)
	}
}

// TestWidgetWithoutJavaScript follows the classic path on a blog that
// includes the section on its server, with JavaScript off: a mistake comes
// back beside its field with the text kept, the corrected form lands back
// on the blog at the new comment, and a Reply link (?replytocom=) posts a
// reply that nests once approved.
func TestWidgetWithoutJavaScript(t *testing.T) {
	env := startWidgetEnv(t)
	parent := env.comment(t, "/posts/included/", map[string]any{"name": "Marta Keel", "email": "marta@example.net", "body": "Lovely walk."})
	env.approve(t, parent)
	ctx := browser(t)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
	article := env.blog + "/posts/included/"

	do(t, ctx, "open the article", chromedp.Navigate(article))
	if got := text(t, ctx, "#commentd-count"); got != "1 Response" {
		t.Errorf("count heading = %q", got)
	}
	do(t, ctx, "post without an email",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Posted without JavaScript."),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Ann"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("commentd-email-error")),
	)
	if got := get(t, ctx, "kept body", chromedp.Value(chromedp.ID("commentd-body"))); got != "Posted without JavaScript." {
		t.Errorf("the comment was not kept: %q", got)
	}
	if got := get(t, ctx, "aria-invalid", chromedp.AttributeValue(chromedp.ID("commentd-email"), "aria-invalid")); got.Value != "true" {
		t.Errorf("email aria-invalid = %q", got.Value)
	}
	do(t, ctx, "fill in the email", chromedp.SendKeys(chromedp.ID("commentd-email"), "ann@example.org"))
	submitAndLoad(t, ctx, "post the corrected form")
	location := get(t, ctx, "location", chromedp.Location())
	if !strings.HasPrefix(location, article+"#comment-") {
		t.Fatalf("after posting the browser is at %q, want %s#comment-<id>", location, article)
	}
	own := strings.TrimPrefix(location, article+"#comment-")
	env.approve(t, own)

	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#comment-"+parent+" > article .commentd-reply")))); err != nil {
		t.Fatalf("follow Reply: %v", err)
	}
	if location := get(t, ctx, "location", chromedp.Location()); !strings.Contains(location, "replytocom="+parent) {
		t.Errorf("the Reply link led to %q", location)
	}
	if got := text(t, ctx, "#commentd-reply-title"); got != "Leave a Reply to Marta Keel" {
		t.Errorf("form title = %q", got)
	}
	do(t, ctx, "fill in the reply",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "A reply without JavaScript."),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Ann"),
		chromedp.SendKeys(chromedp.ID("commentd-email"), "ann@example.org"),
	)
	submitAndLoad(t, ctx, "post the reply")
	location = get(t, ctx, "location", chromedp.Location())
	if !strings.HasPrefix(location, article+"#comment-") {
		t.Fatalf("after replying the browser is at %q", location)
	}
	reply := strings.TrimPrefix(location, article+"#comment-")
	env.approve(t, reply)
	do(t, ctx, "reload", chromedp.Navigate(article))
	if got := text(t, ctx, "#commentd-count"); got != "3 Responses" {
		t.Errorf("count heading = %q, want 3 Responses", got)
	}
	nested := get(t, ctx, "nested reply", chromedp.Nodes(chromedp.CSS("#comment-"+parent+" > .commentd-replies > #comment-"+reply), chromedp.AtLeast(0)))
	if len(nested) != 1 {
		t.Error("the reply is not nested under its parent")
	}
}

// submitAndLoad clicks the form's button and waits for the page it leads
// to (after the redirect) to load.
func submitAndLoad(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("button[type=submit]")))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// xssHook records any call of __x(), which every payload below makes if
// it runs.
const xssHook = `window.__xss = []; window.__x = function (w) { window.__xss.push(String(w)); };`

// TestWidgetNeverInsertsServerHTML posts names, websites and bodies that
// would run script if any of them became HTML, approves them, stores
// javascript: websites that no submission could, and plants a tampered
// pending comment in localStorage; then the fetched section, the section
// enhanced in place and the widget's own drawing of pending comments must
// show them as text, with no link that is not http(s), and nothing runs.
// The blog has no CSP, so only the widget stands between the payloads and
// the page.
func TestWidgetNeverInsertsServerHTML(t *testing.T) {
	env := startWidgetEnv(t)
	article := "/posts/fetched/"
	names := []string{`<img src=x onerror=__x('name1')>`, `"><svg onload=__x('name2')>`, `</b><script>__x('name3')</script>`}
	var ids []string
	for i, name := range names {
		ids = append(ids, env.comment(t, article, map[string]any{
			"name": name, "email": fmt.Sprintf("x%d@example.org", i), "website": fmt.Sprintf("https://x%d.example/", i),
			"body": fmt.Sprintf("<img src=x onerror=__x('body%d')> <script>__x('body%d')</script> [link](javascript:__x('link%d')) <b onclick=__x()>b</b> %d", i, i, i, i),
		}))
	}
	for _, id := range ids {
		env.approve(t, id)
	}
	db, err := sql.Open("sqlite", "file:"+env.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE comments SET author_website = ? WHERE id = ?`, "javascript:__x('href')", ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE comments SET author_website = ? WHERE id = ?`, "data:text/html,<script>__x('data')</script>", ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE comments SET author_website = ? WHERE id = ?`, `https://x2.example/"><img src=x onerror=__x('site')>`, ids[2]); err != nil {
		t.Fatal(err)
	}

	ctx := browser(t)
	problems := watchPage(ctx)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: xssHook}); err != nil {
		t.Fatalf("install the hook: %v", err)
	}
	check := func(where string) {
		t.Helper()
		for i, id := range ids {
			if got := text(t, ctx, "#comment-"+id+" .commentd-author"); got != names[i] {
				t.Errorf("%s: name %d shown as %q, want the text %q", where, i, got, names[i])
			}
		}
		bad := js[[]string](t, ctx, `Array.from(document.querySelectorAll('#commentd [href]')).map(a => a.getAttribute('href')).filter(h => /^\s*(javascript|data|vbscript):/i.test(h))`)
		if len(bad) != 0 {
			t.Errorf("%s: links %q", where, bad)
		}
		if n := js[int](t, ctx, `document.querySelectorAll('#commentd script, #commentd img, #commentd svg, #commentd [onerror], #commentd [onload], #commentd [onclick]').length`); n != 0 {
			t.Errorf("%s: %d script, image or handler elements in the section", where, n)
		}
		if ran := js[[]string](t, ctx, `window.__xss`); len(ran) != 0 {
			t.Errorf("%s: payloads ran: %v", where, ran)
		}
	}

	do(t, ctx, "open the fetched section", chromedp.Navigate(env.blog+article), enhanced())
	check("fetched section")
	for _, i := range []int{0, 1} {
		if n := js[int](t, ctx, `document.querySelectorAll('#comment-`+ids[i]+` .commentd-author a').length`); n != 0 {
			t.Errorf("the stored non-http website of comment %d became a link", i)
		}
	}
	if href := js[string](t, ctx, `document.querySelector('#comment-`+ids[2]+` .commentd-author a').href`); !strings.HasPrefix(href, "https://x2.example/") {
		t.Errorf("the http(s) website is linked as %q", href)
	}

	// The reader's own comment, drawn by the widget from the submit answer.
	do(t, ctx, "post a hostile comment",
		chromedp.SetValue(chromedp.ID("commentd-body"), "<img src=x onerror=__x('own')> **own**"),
		chromedp.SetValue(chromedp.ID("commentd-name"), `<img src=x onerror=__x('ownname')>`),
		chromedp.SetValue(chromedp.ID("commentd-email"), "own@example.org"),
		chromedp.SetValue(chromedp.ID("commentd-website"), "https://own.example/"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending")),
	)
	check("own pending comment")
	if got := text(t, ctx, ".commentd-is-pending .commentd-author a"); got != `<img src=x onerror=__x('ownname')>` {
		t.Errorf("own name shown as %q, want the text in a link to the website", got)
	}

	// What the widget keeps in localStorage is the browser's, so it is
	// checked again when drawn: a tampered entry stays text, and a
	// javascript: website no link.
	do(t, ctx, "tamper with the kept comment", chromedp.Evaluate[chromedp.Void](`localStorage.setItem('commentd:demo:`+article+`', JSON.stringify([{
		id: 'planted', parent_id: null, name: '<img src=x onerror=__x("planted")>', website: 'javascript:__x("plantedhref")',
		body_html: '<img src=x onerror=__x("plantedbody")>', text: '<img src=x onerror=__x("plantedtext")>',
		created_at: new Date().toISOString(), kept: Date.now() }]))`))
	do(t, ctx, "reload", chromedp.Reload(), enhanced(), chromedp.WaitVisible(chromedp.ID("comment-planted")))
	check("planted pending comment")
	if n := js[int](t, ctx, `document.querySelectorAll('#comment-planted .commentd-author a').length`); n != 0 {
		t.Error("a javascript: website from localStorage became a link")
	}
	if text := js[string](t, ctx, `document.querySelector('#comment-planted .commentd-body').textContent`); !strings.Contains(text, "<img") {
		t.Errorf("a pending comment from localStorage is not drawn as text: %q", text)
	}

	// The same comments on the demo page, enhanced in place.
	do(t, ctx, "open the demo article", chromedp.Navigate(env.origin+"/demo/"), enhanced())
	if ran := js[[]string](t, ctx, `window.__xss`); len(ran) != 0 {
		t.Errorf("demo page: payloads ran: %v", ran)
	}
	expectProblems(t, problems)
}

// TestWidgetScreenshots writes docs/widget-light.png and
// docs/widget-dark.png (with COMMENTD_SCREENSHOTS=1): the demo article's
// comment section with a thread and a comment awaiting moderation.
func TestWidgetScreenshots(t *testing.T) {
	if os.Getenv("COMMENTD_SCREENSHOTS") != "1" {
		t.Skip("set COMMENTD_SCREENSHOTS=1 to write docs/widget-*.png")
	}
	env := startWidgetEnv(t)
	marta := env.comment(t, "/demo/", map[string]any{"name": "Marta Keel", "email": "marta@example.net", "website": "https://marta.example",
		"body": "I walked the new stretch on Sunday morning. The gravel is *firm*, even after the rain."})
	env.approve(t, marta)
	tom := env.comment(t, "/demo/", map[string]any{"name": "Tom Rowe", "email": "tom@example.com", "parent_id": marta,
		"body": "Same here: dry feet all the way to the footbridge. Thank you to everyone who carried gravel!"})
	env.approve(t, tom)
	jo := env.comment(t, "/demo/", map[string]any{"name": "Jo Bright", "email": "jo@example.org", "website": "https://jo-bright.example",
		"body": "Will the benches be ready by the summer? The society's page has [the plans](https://example.org/plans)."})
	env.approve(t, jo)
	ctx := browser(t)
	problems := watchPage(ctx)
	do(t, ctx, "post as a reader",
		chromedp.EmulateViewport(820, 900),
		chromedp.Navigate(env.origin+"/demo/"), enhanced(),
		chromedp.SetValue(chromedp.ID("commentd-body"), "Is the path step-free from the lock keeper's cottage? I'd like to bring my father's wheelchair."),
		chromedp.SetValue(chromedp.ID("commentd-name"), "Priya Shah"),
		chromedp.SetValue(chromedp.ID("commentd-email"), "priya@example.org"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending")),
	)
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		}); err != nil {
			t.Fatalf("colour scheme: %v", err)
		}
		// Some room around the section, set through the CSSOM (which the
		// demo page's policy allows, unlike a style attribute).
		do(t, ctx, "reload in "+scheme, chromedp.Reload(), enhanced(), chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending")),
			chromedp.Evaluate[chromedp.Void](`document.activeElement.blur(); document.getElementById('commentd').style.padding = '4px 20px 20px'`))
		png := get(t, ctx, "screenshot", chromedp.Screenshot(chromedp.ID("commentd")))
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "widget-"+scheme+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expectProblems(t, problems)
}
