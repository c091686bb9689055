package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/commentd/commentd/internal/testenv"
)

// The stored-XSS test: every payload of testdata/xss/payloads.txt is stored
// as a comment's body, name, website and page title (where each field
// accepts it) and rendered in headless Chromium on every path that shows
// comments, with hooks that record any script a payload manages to run.
// The whole check runs twice: under the pages' real Content-Security-Policy,
// and with the browser told to ignore it, so that a hole in the sanitiser or
// in the templates' escaping cannot hide behind the policy.

// readXSSCorpus is the shared corpus, which must hold at least 100
// payloads.
func readXSSCorpus(t *testing.T) []testenv.XSSPayload {
	t.Helper()
	out := testenv.XSSCorpus(t)
	if len(out) < 100 {
		t.Fatalf("the corpus has %d payloads, want at least 100", len(out))
	}
	return out
}

// xssLine is s as a single-line field takes it: newlines as spaces, cut
// to at most max bytes between characters.
func xssLine(s string, max int) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	for len(s) > max {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// xssDemoPages are the demo site's article pages; the approved payloads
// are spread over them.
var xssDemoPages = []string{"/demo/", "/demo/heronry/", "/demo/orchard/"}

const (
	xssAdminToken = "xss-test-admin-token-0123456789abc"
	xssPassword   = "moderate hostile input"
	xssModerator  = "xss-mod@example.org"
)

// xssEnv is one commentd with a demo site, a blog on another origin that
// embeds it, and the payloads stored as comments.
type xssEnv struct {
	in      *instance
	origin  string
	blog    string
	db      string
	corpus  []testenv.XSSPayload
	names   map[string]string // comment id -> the name it was stored with
	titles  []string          // the blog's page titles, by demo page
	demo    []string          // approved comment id per corpus index
	replies []string          // pending replies to demo[i], by corpus index
	spam    []string          // replies whose honeypot held the payload
	// edited is a pending comment that gets every payload saved over it
	// through the edit form's endpoint, once editsMade.
	edited    string
	editsMade bool
	// websites holds, per corpus index, the website derived from the
	// payload that the API accepted, or "".
	websites []string
}

// xssBlogPages serves the blog: /fetched/N/ has the empty container that
// embed.js fills with the section of xssDemoPages[N]; /included/N/ has
// that section included by the blog's server and no script at all (the
// no-JavaScript path, with JavaScript on so that anything injected would
// run); /own/SITE/ is an empty article of site SITE for posting through
// the widget. Page titles are payloads, which the widget and the blog
// pass to commentd as page_title. Every page carries the policy a site
// embedding commentd would.
func xssBlogPages(origin string, titles []string) http.Handler {
	const layout = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title><link rel="icon" href="data:,"></head>
<body><main><h1>An article</h1><p>With a comment section.</p>
<div id="commentd">%s</div></main>
%s</body></html>`
	csp := fmt.Sprintf("default-src 'none'; script-src %[1]s; connect-src %[1]s; style-src %[1]s; img-src 'self' data:; base-uri 'none'; form-action %[1]s", origin)
	script := func(site, page string) string {
		return fmt.Sprintf(`<script src="%s/embed.js" data-site="%s" data-page="%s" async></script>`, origin, site, html.EscapeString(page))
	}
	mux := http.NewServeMux()
	index := func(w http.ResponseWriter, r *http.Request) (int, bool) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 || n >= len(xssDemoPages) {
			http.NotFound(w, r)
			return 0, false
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		return n, true
	}
	mux.HandleFunc("GET /fetched/{n}/", func(w http.ResponseWriter, r *http.Request) {
		if n, ok := index(w, r); ok {
			fmt.Fprintf(w, layout, html.EscapeString(titles[n]), "", script("demo", xssDemoPages[n]))
		}
	})
	mux.HandleFunc("GET /included/{n}/", func(w http.ResponseWriter, r *http.Request) {
		n, ok := index(w, r)
		if !ok {
			return
		}
		// The page's address as the blog knows it, its query decoded: a
		// hostile query reaches commentd as typed.
		pageURL := "http://" + r.Host + r.URL.Path
		if raw, err := url.QueryUnescape(r.URL.RawQuery); err == nil && raw != "" {
			pageURL += "?" + raw
		}
		q := url.Values{"page": {xssDemoPages[n]}, "page_url": {pageURL}, "page_title": {titles[n]}}
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
		fmt.Fprintf(w, layout, html.EscapeString(titles[n]), section, "")
	})
	mux.HandleFunc("GET /own/{site}/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprintf(w, layout, "Own comments", "", script(r.PathValue("site"), r.URL.Path))
	})
	return mux
}

// TestStoredXSSInBrowser stores every corpus payload as comments and
// renders them in Chromium on each path, once under the real
// Content-Security-Policy and once with the policy bypassed:
//
//   - the widget on the demo page (server-rendered section, enhanced) and on
//     another origin (section fetched by embed.js), the section included by
//     a blog's server with no script, and the reader's own comments drawn
//     by the widget from the submit answers and, after a reload, from
//     localStorage;
//   - the moderator UI: cards inserted live into the queue as comments
//     arrive, the queue as rendered (with page titles, page keys, user
//     agents and parent snippets made of payloads), comment pages, and the
//     edit form (saved edits with every payload kept as earlier versions,
//     and a refused edit redrawn with what was typed).
//
// On each page, before any page script runs, alert, confirm, prompt, print
// and open are replaced and window.__xss defined, all recording into an
// array, as are CSP violations; dialogs, renderer-initiated navigations and
// requests to xss-sink.invalid are recorded by the test. After loading, it
// hovers, focuses and clicks every element of the comment area (links are
// only read), waits for timers and animations, and requires: nothing
// recorded; no on* attribute; no script, iframe, object, embed, base, meta,
// form (but commentd's own), svg, style and the like; no href, src, action,
// formaction, xlink:href or other URL attribute with a javascript:,
// vbscript: or data: scheme after normalisation; every link http(s),
// mailto or relative; every stored comment present, its author's name
// shown as text. Every HTML and JSON answer of commentd must carry a
// Content-Security-Policy and X-Content-Type-Options: nosniff.
func TestStoredXSSInBrowser(t *testing.T) {
	env := startXSSEnv(t)
	env.seedDemo(t)
	env.checkHeadersOverHTTP(t)

	for _, mode := range []struct {
		name   string
		bypass bool
		live   string // the site whose queue gets comments live
		own    string // the site the widget posts to
	}{
		{name: "csp", live: "xss-live-a", own: "xss-own-a"},
		{name: "bypass-csp", bypass: true, live: "xss-live-b", own: "xss-own-b"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			b := newXSSBrowser(t, env.origin, mode.bypass)
			env.publicPaths(t, b)
			env.ownComments(t, b, mode.own)
			env.signIn(t, b)
			ids := env.moderatorQueues(t, b, mode.live)
			env.moderatorPages(t, b, ids)
			b.checkHeadersSeen(t, "HTML page", "HTML fragment", "JSON")
		})
	}
}

func startXSSEnv(t *testing.T) *xssEnv {
	t.Helper()
	corpus := readXSSCorpus(t)
	port := freePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	byID := map[string]string{}
	for _, p := range corpus {
		byID[p.ID] = p.Text
	}
	var titles []string
	for _, id := range []string{"br-title-close", "br-double-quote-svg", "mx-title"} {
		titles = append(titles, xssLine(byID[id], 500))
	}
	blog := httptest.NewServer(xssBlogPages(origin, titles))
	t.Cleanup(blog.Close)
	dir := t.TempDir()
	db := filepath.Join(dir, "commentd.db")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:%d
database_url: unused.db
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 1ms, burst: 100000}
sites:
  - {id: demo, name: Demo blog, origins: [%[2]s, %[3]s]}
  - {id: xss-live-a, name: Live A, origins: [%[3]s]}
  - {id: xss-live-b, name: Live B, origins: [%[3]s]}
  - {id: xss-own-a, name: Own A, origins: [%[3]s]}
  - {id: xss-own-b, name: Own B, origins: [%[3]s]}
`, port, origin, blog.URL)
	in := start(t, setup{yaml: yaml, env: map[string]string{
		"COMMENTD_LISTEN":       fmt.Sprintf("127.0.0.1:%d", port),
		"COMMENTD_DATABASE_URL": db,
		"COMMENTD_ADMIN_TOKEN":  xssAdminToken,
	}})
	cfg := filepath.Join(dir, "commentd.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, db, xssPassword+"\n", "user", "create", "--config", cfg, "--email", xssModerator, "--role", "admin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	env := &xssEnv{in: in, origin: origin, blog: blog.URL, db: db, corpus: corpus, names: map[string]string{}, titles: titles}
	for _, site := range []string{"demo", "xss-live-a", "xss-live-b", "xss-own-a", "xss-own-b"} {
		env.openRules(t, site)
	}
	return env
}

func (env *xssEnv) admin(h map[string]string) map[string]string {
	out := map[string]string{"Authorization": "Bearer " + xssAdminToken}
	for k, v := range h {
		out[k] = v
	}
	return out
}

// openRules lets a site take comments as fast as the test sends them: no
// rate limit to speak of and no minimum time on the form. Every comment
// is still held for moderation.
func (env *xssEnv) openRules(t *testing.T, site string) {
	t.Helper()
	r := env.in.call(t, "GET", "/api/v1/sites/"+site+"/rules", nil, env.admin(nil))
	if r.status != 200 {
		t.Fatalf("get rules of %s: %d %s", site, r.status, r.body)
	}
	var doc map[string]any
	r.decode(t, &doc)
	doc["min_submit_seconds"] = 0
	limits := map[string]any{}
	for _, k := range []string{"ip", "prefix", "email", "page", "site"} {
		limits[k] = map[string]any{"every": "1ms", "burst": 100000}
	}
	doc["rate_limits"] = limits
	if strings.HasPrefix(site, "xss-live-") {
		// The reasons a moderator reads quote what these matched.
		doc["hold_words"] = []string{`/<[^>]{0,25}/`, "onerror", "javascript"}
	}
	b, _ := json.Marshal(doc)
	if r := env.in.call(t, "PUT", "/api/v1/sites/"+site+"/rules", bytes.NewReader(b), env.admin(map[string]string{"Content-Type": "application/json"})); r.status != 200 {
		t.Fatalf("put rules of %s: %d %s", site, r.status, r.body)
	}
}

// submit posts a comment through the public API. Where a hostile value is
// refused (422 naming the field), it is replaced by fallback[field] and
// the comment posted again; a refusal with no fallback fails the test.
// It returns the id and the fields as stored.
func (env *xssEnv) submit(t *testing.T, site string, v, fallback map[string]any, header map[string]string) (string, map[string]any) {
	t.Helper()
	for range 4 {
		r := env.in.post(t, site, v, header)
		switch r.status {
		case 201:
			var got struct {
				Comment struct {
					ID string `json:"id"`
				} `json:"comment"`
			}
			r.decode(t, &got)
			if n, ok := v["name"].(string); ok {
				env.names[got.Comment.ID] = n
			}
			return got.Comment.ID, v
		case 422:
			var verr struct {
				Fields map[string]string `json:"fields"`
			}
			r.decode(t, &verr)
			next := map[string]any{}
			for k, val := range v {
				next[k] = val
			}
			for f := range verr.Fields {
				alt, ok := fallback[f]
				if !ok {
					t.Fatalf("submit to %s refused %s: %s\n%v", site, f, r.body, v)
				}
				delete(fallback, f)
				next[f] = alt
			}
			v = next
		default:
			t.Fatalf("submit to %s: %d %s", site, r.status, r.body)
		}
	}
	t.Fatalf("submit to %s: still refused after replacing fields: %v", site, v)
	return "", nil
}

// approve approves ids through the moderation API, in bulk.
func (env *xssEnv) approve(t *testing.T, ids []string) {
	t.Helper()
	for len(ids) > 0 {
		n := min(len(ids), 100)
		b, _ := json.Marshal(map[string]any{"ids": ids[:n], "action": "approve"})
		r := env.in.call(t, "POST", "/api/v1/moderation/comments/bulk", bytes.NewReader(b), env.admin(map[string]string{"Content-Type": "application/json"}))
		if r.status != 200 {
			t.Fatalf("bulk approve: %d %s", r.status, r.body)
		}
		var got struct {
			Results []struct {
				ID    string `json:"id"`
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			} `json:"results"`
		}
		r.decode(t, &got)
		for _, res := range got.Results {
			if !res.OK {
				t.Fatalf("approve %s: %s", res.ID, res.Error)
			}
		}
		ids = ids[n:]
	}
}

// xssWebsiteFor is a website made of payload i: the payload without spaces
// as the path of an https URL. The API accepts those that are still valid
// web addresses.
func xssWebsiteFor(i int, p testenv.XSSPayload) string {
	return xssLine(fmt.Sprintf("https://w%d.example/%s", i, strings.Join(strings.Fields(p.Text), "")), 200)
}

// seedDemo stores the corpus on the demo site: each payload approved on
// one of its pages (as body, name and, where accepted, website), then a
// pending reply to each (for the parent snippets of the moderator queue).
// Some stored websites are then overwritten in the database with values
// no submission could make (javascript:, data:, a quote breaking out of
// the attribute), as an older version or an import might have left them.
func (env *xssEnv) seedDemo(t *testing.T) {
	t.Helper()
	for i, p := range env.corpus {
		pg := xssDemoPages[i%len(xssDemoPages)]
		v := map[string]any{
			"page": pg, "page_title": xssLine(p.Text, 500),
			"name": xssLine(p.Text, 245), "email": fmt.Sprintf("approved%d@example.org", i), "body": p.Text,
		}
		// Every other author has a website, so that names are shown both
		// as link text and as plain text.
		if i%2 == 1 {
			v["website"] = xssWebsiteFor(i, p)
		}
		id, stored := env.submit(t, "demo", v, map[string]any{"website": ""}, nil)
		env.demo = append(env.demo, id)
		w, _ := stored["website"].(string)
		env.websites = append(env.websites, w)
	}
	env.approve(t, env.demo)
	accepted := 0
	for _, w := range env.websites {
		if w != "" {
			accepted++
		}
	}
	t.Logf("%d payloads stored; the API accepted %d of them inside a website", len(env.demo), accepted)

	db, err := sql.Open("sqlite", "file:"+env.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The even ones have no website of their own.
	for i, w := range []string{
		"javascript:top.__xss('planted-website')",
		" JaVaScRiPt:top.__xss('planted-website-case')",
		"java\tscript:top.__xss('planted-website-tab')",
		"data:text/html,<script>top.__xss('planted-website-data')</script>",
		"vbscript:alert(1)",
		`https://planted.example/"><img src=x onerror=top.__xss('planted-website-quote')>`,
	} {
		if _, err := db.Exec(`UPDATE comments SET author_website = ? WHERE id = ?`, w, env.demo[i]); err != nil {
			t.Fatalf("plant a website: %v", err)
		}
	}

	// Replies: every fifth fills in the honeypot with the payload, which
	// marks it as spam and quotes the field in the reasons a moderator
	// reads.
	n := len(env.corpus)
	for i := range env.corpus {
		p := env.corpus[(i+1)%n]
		v := map[string]any{
			"page": xssDemoPages[i%len(xssDemoPages)], "parent_id": env.demo[i],
			"name": xssLine(p.Text, 245), "email": fmt.Sprintf("reply%d@example.org", i), "body": p.Text,
		}
		if i%5 == 0 {
			v["url"] = xssLine(p.Text, 2000)
		}
		id, _ := env.submit(t, "demo", v, nil, map[string]string{"User-Agent": xssLine("Mozilla/5.0 "+p.Text, 512)})
		if i%5 == 0 {
			env.spam = append(env.spam, id)
		} else {
			env.replies = append(env.replies, id)
		}
	}
	env.edited, _ = env.submit(t, "demo", map[string]any{
		"page": "/demo/", "name": "Edited often", "email": "edited@example.org", "body": "Soon to be edited.",
	}, nil, nil)
}

// checkHeadersOverHTTP asks for commentd's HTML and JSON routes without a
// browser, answers with errors included: each must carry a policy and
// nosniff.
func (env *xssEnv) checkHeadersOverHTTP(t *testing.T) {
	t.Helper()
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
	for _, req := range []struct {
		method, path string
		body         string
		header       map[string]string
	}{
		{method: "GET", path: "/demo/"},
		{method: "GET", path: "/demo/heronry/?replytocom=" + env.demo[1]},
		{method: "GET", path: "/sites/demo/thread?page=%2Fdemo%2F"},
		{method: "GET", path: "/sites/demo/thread?page=%2Fdemo%2F&page_title=%3Cscript%3E&page_url=javascript%3Aalert(1)"},
		{method: "GET", path: "/api/v1/sites/demo/comments?page=%2Fdemo%2F"},
		{method: "GET", path: "/api/v1/sites/demo/counts?page=%2Fdemo%2F"},
		{method: "GET", path: "/api/v1/sites/demo/form-token?page=%2Fdemo%2F"},
		{method: "GET", path: "/api/v1/sites/nowhere/comments?page=%2F"},
		{method: "GET", path: "/api/v1/moderation/comments/" + env.demo[0], header: env.admin(nil)},
		{method: "GET", path: "/api/v1/moderation/comments?site=demo&status=pending", header: env.admin(nil)},
		{method: "GET", path: "/admin/login"},
		{method: "GET", path: "/admin/queue"},
		{method: "GET", path: "/embed.json"},
		{method: "GET", path: "/demo/nowhere/"},
		{method: "GET", path: "/nowhere"},
		{method: "DELETE", path: "/demo/"},
		{method: "POST", path: "/api/v1/sites/demo/comments", header: map[string]string{"Content-Type": "application/json"},
			body: `{"page": "/demo/", "name": "<script>", "email": "not an address", "body": "x"}`},
		{method: "POST", path: "/api/v1/sites/demo/comments", header: form,
			body: "page=%2Fdemo%2F&name=%3Cscript%3E&email=bad&website=javascript%3Aalert(1)&body=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E"},
		{method: "POST", path: "/api/v1/sites/demo/comments", header: map[string]string{"Content-Type": "application/json"},
			body: `{"body": "` + strings.Repeat("x", 1<<20) + `"}`},
	} {
		r := env.in.call(t, req.method, req.path, strings.NewReader(req.body), req.header)
		what := fmt.Sprintf("%s %s: %d", req.method, req.path, r.status)
		if len(what) > 120 {
			what = what[:120]
		}
		if ct := r.header.Get("Content-Type"); (r.status < 300 || r.status >= 400) && !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s with Content-Type %q, want HTML or JSON", what, ct)
		}
		if r.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s without Content-Security-Policy", what)
		}
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s with X-Content-Type-Options %q, want nosniff", what, got)
		}
	}
}

// xssRecordingHooks runs in every frame before the page's own scripts:
// the dialog functions, open and __xss record their calls, and so do
// policy violations (which, on these pages, only injected markup would
// cause). A frame records into the top page's list when it can reach it.
const xssRecordingHooks = `(() => {
  let list;
  try { list = window.top.__xssCalls; } catch (e) { /* another origin */ }
  if (!list) {
    list = [];
    Object.defineProperty(window, '__xssCalls', { value: list });
  }
  const where = window === window.top ? '' : ' in a frame';
  const record = (name) => function () {
    list.push(name + '(' + Array.from(arguments).map(String).join(', ') + ')' + where);
  };
  for (const name of ['alert', 'confirm', 'prompt', 'print', 'open']) window[name] = record(name);
  window.__xss = record('__xss');
  document.addEventListener('securitypolicyviolation', (e) => {
    list.push('policy violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '') + where);
  }, true);
})();`

// xssBrowser is one Chromium tab with the hooks installed and the
// recorders running.
type xssBrowser struct {
	ctx     context.Context
	origin  string
	mode    string
	started time.Time

	mu       sync.Mutex
	watchNav bool
	dialogs  []string
	navs     []string
	sinks    []string
	headers  []string       // responses of commentd without the headers
	seen     map[string]int // checked responses of commentd by kind
	streams  int            // answers to /admin/events so far
}

func newXSSBrowser(t *testing.T, origin string, bypass bool) *xssBrowser {
	t.Helper()
	// browser gives a browser a minute; this one does more, and a loaded
	// machine under -race may need longer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(browser(t)), 4*time.Minute)
	t.Cleanup(cancel)
	b := &xssBrowser{ctx: ctx, origin: origin, seen: map[string]int{}, mode: "csp", started: time.Now()}
	if bypass {
		b.mode = "bypass-csp"
		if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
			t.Fatalf("bypass CSP: %v", err)
		}
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: xssRecordingHooks}); err != nil {
		t.Fatalf("install the hooks: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network events: %v", err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	navs := chromedp.Events(ctx, page.FrameRequestedNavigation)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	responses := chromedp.Events(ctx, network.ResponseReceived)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprintf("%s dialog %q on %s", ev.Type, ev.Message, ev.URL))
			b.mu.Unlock()
			// Dismiss it, or the page would stall.
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}()
	go func() {
		for ev, err := range navs {
			if err != nil {
				return
			}
			b.mu.Lock()
			if b.watchNav {
				b.navs = append(b.navs, fmt.Sprintf("%s navigation to %s", ev.Reason, ev.URL))
			}
			b.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			if u := ev.Request.URL; strings.Contains(u, "xss-sink") || strings.HasPrefix(strings.ToLower(u), "javascript:") {
				b.mu.Lock()
				b.sinks = append(b.sinks, "request to "+u+" from "+ev.DocumentURL)
				b.mu.Unlock()
			}
		}
	}()
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			b.response(ev)
		}
	}()
	return b
}

// response checks an answer of commentd's for the headers every HTML and
// JSON answer must have.
func (b *xssBrowser) response(ev network.EventResponseReceived) {
	r := ev.Response
	if r == nil || !strings.HasPrefix(r.URL, b.origin+"/") {
		return
	}
	if strings.Contains(r.URL, "/admin/events") {
		b.mu.Lock()
		b.streams++
		b.mu.Unlock()
	}
	var kind string
	switch {
	case r.MimeType == "text/html" && ev.Type == network.ResourceTypeDocument:
		kind = "HTML page"
	case r.MimeType == "text/html":
		kind = "HTML fragment"
	case r.MimeType == "application/json":
		kind = "JSON"
	default:
		return
	}
	header := func(name string) string {
		for k, v := range r.Headers {
			if strings.EqualFold(k, name) {
				return fmt.Sprint(v)
			}
		}
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen[kind]++
	if header("Content-Security-Policy") == "" {
		b.headers = append(b.headers, fmt.Sprintf("%s %s (%d) has no Content-Security-Policy", kind, r.URL, r.Status))
	}
	if got := header("X-Content-Type-Options"); got != "nosniff" {
		b.headers = append(b.headers, fmt.Sprintf("%s %s (%d) has X-Content-Type-Options %q", kind, r.URL, r.Status, got))
	}
}

// checkHeadersSeen fails t for each answer without the headers, and if an
// expected kind of answer was never seen (the check would then prove
// nothing).
func (b *xssBrowser) checkHeadersSeen(t *testing.T, kinds ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, h := range b.headers {
		t.Error(h)
	}
	for _, kind := range kinds {
		if b.seen[kind] == 0 {
			t.Errorf("no %s answer of commentd was seen", kind)
		}
	}
	t.Logf("%s: checked the headers of %d pages, %d fragments and %d JSON answers", b.mode, b.seen["HTML page"], b.seen["HTML fragment"], b.seen["JSON"])
}

// xssProbeSpec says where a page shows comments and what it must show.
type xssProbeSpec struct {
	Scripts  string      `json:"scripts"`  // the origin every script of the page comes from
	Area     string      `json:"area"`     // the comment area: every element in it is checked
	Interact string      `json:"interact"` // content hovered, focused and clicked
	Exempt   string      `json:"exempt"`   // commentd's own forms and controls in the area
	IDs      []string    `json:"ids"`      // ids of elements that must be in the area
	Texts    [][2]string `json:"texts"`    // [selector, text] pairs, white space collapsed
	Values   [][2]string `json:"values"`   // [selector, value] pairs of form fields
	Contains [][2]string `json:"contains"` // [selector, text] pairs: the element's text includes it
	Count    *[2]any     `json:"count"`    // [selector, at least this many]
}

type xssProbeResult struct {
	Ran      []string `json:"ran"`
	Problems []string `json:"problems"`
	Checked  int      `json:"checked"`
	Links    int      `json:"links"`
	Touched  int      `json:"touched"`
}

// xssProbeJS checks the comment area's DOM, then hovers, focuses and clicks
// its content, waits and returns what the hooks recorded.
const xssProbeJS = `async (spec) => {
  const out = { ran: [], problems: [], checked: 0, links: 0, touched: 0 };
  const startURL = location.href;
  const areas = Array.from(document.querySelectorAll(spec.area));
  if (!areas.length) out.problems.push('nothing matches ' + spec.area);
  const inArea = (el) => areas.some((a) => a.contains(el));
  const exempt = (el) => !!spec.exempt && el.matches(spec.exempt);
  const forbidden = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta', 'form',
    'svg', 'math', 'style', 'link', 'noscript', 'template', 'img', 'picture', 'source', 'video', 'audio', 'input', 'button',
    'textarea', 'select', 'details', 'marquee', 'xmp', 'noembed', 'title']);
  const urlAttrs = new Set(['href', 'xlink:href', 'src', 'srcset', 'action', 'formaction', 'data', 'poster', 'background',
    'cite', 'ping', 'lowsrc', 'dynsrc', 'codebase', 'archive', 'longdesc', 'usemap', 'manifest', 'icon', 'to', 'values', 'from', 'by']);
  const norm = (v) => v.replace(/[\s\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, '').toLowerCase();
  const badURL = (v) => /^(javascript|vbscript|data):/.test(norm(v));
  const where = (el) => {
    const c = el.closest('[id^="comment-"], .adm-card, .adm-revisions > li, [id]');
    return '<' + el.localName + '>' + (c ? ' in #' + c.id + (c.className ? '.' + c.className : '') : '');
  };
  const all = [];
  areas.forEach((a) => { all.push(a); a.querySelectorAll('*').forEach((e) => all.push(e)); });
  for (const el of all) {
    out.checked++;
    if (forbidden.has(el.localName) && !exempt(el)) out.problems.push('element ' + where(el));
    for (const a of Array.from(el.attributes)) {
      const name = a.name.toLowerCase();
      if (name.startsWith('on')) out.problems.push('handler ' + a.name + '=' + JSON.stringify(a.value) + ' on ' + where(el));
      if (urlAttrs.has(name) && badURL(a.value)) out.problems.push(a.name + '=' + JSON.stringify(a.value) + ' on ' + where(el));
      if (name === 'srcdoc') out.problems.push('srcdoc on ' + where(el));
      if (name === 'style' && /url\s*\(|expression\s*\(|behavior|binding|javascript|@import/i.test(a.value)) {
        out.problems.push('style ' + JSON.stringify(a.value) + ' on ' + where(el));
      }
    }
    if ((el.localName === 'a' || el.localName === 'area') && el.hasAttribute('href')) {
      out.links++;
      let scheme;
      try { scheme = new URL(el.getAttribute('href'), document.baseURI).protocol; } catch (e) { scheme = 'unparseable'; }
      if (!['http:', 'https:', 'mailto:'].includes(scheme)) out.problems.push('link to ' + JSON.stringify(el.getAttribute('href')) + ' on ' + where(el));
    }
  }
  // Anywhere in the document: no frame, plug-in, base or refresh, and no
  // script but commentd's own.
  document.querySelectorAll('base, meta[http-equiv], iframe, frame, object, embed').forEach((el) => out.problems.push('element ' + where(el) + ' in the document'));
  document.querySelectorAll('script').forEach((el) => {
    if (!el.src || !el.src.startsWith(spec.scripts + '/')) out.problems.push('script ' + JSON.stringify(el.src || el.textContent.slice(0, 80)) + ' in the document');
  });
  if (document.baseURI !== location.href.split('#')[0] && document.baseURI !== location.href) out.problems.push('base URI is ' + document.baseURI);
  for (const id of spec.ids || []) {
    const el = document.getElementById(id);
    if (!el || !inArea(el)) out.problems.push('#' + id + ' is not shown');
  }
  const collapse = (s) => s.replace(/\s+/g, ' ').trim();
  for (const [sel, want] of spec.texts || []) {
    const el = document.querySelector(sel);
    const got = el ? collapse(el.textContent) : null;
    if (got !== collapse(want)) out.problems.push(sel + ' shows ' + JSON.stringify(got) + ', want the text ' + JSON.stringify(want));
  }
  for (const [sel, want] of spec.contains || []) {
    const el = document.querySelector(sel);
    if (!el || !collapse(el.textContent).includes(collapse(want))) out.problems.push(sel + ' shows ' + JSON.stringify(el && el.textContent) + ', which lacks the text ' + JSON.stringify(want));
  }
  for (const [sel, want] of spec.values || []) {
    const el = document.querySelector(sel);
    if (!el || el.value !== want) out.problems.push(sel + ' holds ' + JSON.stringify(el && el.value) + ', want ' + JSON.stringify(want));
  }
  if (spec.count) {
    const n = document.querySelectorAll(spec.count[0]).length;
    if (n < spec.count[1]) out.problems.push(n + ' of ' + spec.count[0] + ', want at least ' + spec.count[1]);
  }

  const targets = new Set();
  if (spec.interact) document.querySelectorAll(spec.interact).forEach((r) => { targets.add(r); r.querySelectorAll('*').forEach((e) => targets.add(e)); });
  for (const el of targets) {
    out.touched++;
    for (const type of ['pointerover', 'pointerenter', 'mouseover', 'mouseenter', 'mousemove', 'pointerdown', 'mousedown', 'pointerup', 'mouseup']) {
      el.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window }));
    }
    try { el.focus({ preventScroll: true }); } catch (e) { /* not focusable */ }
    el.dispatchEvent(new FocusEvent('focus'));
    el.dispatchEvent(new FocusEvent('focusin', { bubbles: true }));
    // Links are only read (above): following one would leave the page.
    if (!el.closest('a, area, button, input, select, textarea, label, form')) {
      el.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
      el.dispatchEvent(new MouseEvent('dblclick', { bubbles: true, cancelable: true, view: window }));
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  out.ran = Array.from(window.__xssCalls || []);
  if (location.href !== startURL) out.problems.push('the page went to ' + location.href);
  return out;
}`

// probe checks the page loaded in b against spec and fails t for each
// problem, each hook call and each dialog, navigation or request to the
// sink recorded since the last probe.
func (b *xssBrowser) probe(t *testing.T, what string, spec xssProbeSpec) xssProbeResult {
	t.Helper()
	spec.Scripts = b.origin
	arg, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.watchNav = true
	b.mu.Unlock()
	res, err := chromedp.Run(b.ctx, chromedp.Evaluate[xssProbeResult]("("+xssProbeJS+")("+string(arg)+")", chromedp.EvalAwaitPromise))
	b.mu.Lock()
	b.watchNav = false
	dialogs, navs, sinks := b.dialogs, b.navs, b.sinks
	b.dialogs, b.navs, b.sinks = nil, nil, nil
	b.mu.Unlock()
	if err != nil {
		// A payload that navigates the page ends the probe with it.
		t.Fatalf("%s: probe: %v\ndialogs: %q\nnavigations: %q\nrequests to the sink: %q", what, err, dialogs, navs, sinks)
	}
	fail := func(kind string, list []string) {
		const max = 25
		for i, s := range list {
			if i == max {
				t.Errorf("%s: … and %d more %s", what, len(list)-max, kind)
				break
			}
			t.Errorf("%s: %s: %s", what, kind, s)
		}
	}
	fail("ran", res.Ran)
	fail("problem", res.Problems)
	fail("dialog", dialogs)
	fail("navigation", navs)
	fail("sink", sinks)
	if res.Checked == 0 || res.Touched == 0 {
		t.Errorf("%s: %d elements checked and %d touched: the probe saw nothing", what, res.Checked, res.Touched)
	}
	t.Logf("%s: %d elements checked, %d touched, %d links (at %.1fs)", what, res.Checked, res.Touched, res.Links, time.Since(b.started).Seconds())
	return res
}

// navigate loads url in b, failing t on error.
func (b *xssBrowser) navigate(t *testing.T, url string) {
	t.Helper()
	do(t, b.ctx, "open "+url, chromedp.Navigate(url))
}

// xssPublicExempt is commentd's own part of the comment section: the reply
// form, the template of a pending comment and the section's stylesheet.
const xssPublicExempt = `#commentd-respond form, #commentd-respond input, #commentd-respond textarea, #commentd-respond button, ` +
	`template.commentd-template, section.commentd > link[rel="stylesheet"]`

// publicSpec is what a page showing demo page n must show: each approved
// comment of that page, with its author's name as text.
func (env *xssEnv) publicSpec(n int) xssProbeSpec {
	spec := xssProbeSpec{Area: "#commentd", Interact: "#commentd .commentd-list", Exempt: xssPublicExempt}
	for i, id := range env.demo {
		if i%len(xssDemoPages) != n {
			continue
		}
		spec.IDs = append(spec.IDs, "comment-"+id)
		spec.Texts = append(spec.Texts, [2]string{"#comment-" + id + " .commentd-author", env.names[id]})
	}
	return spec
}

// publicPaths probes the three public ways the approved payloads are
// shown, for each demo page.
func (env *xssEnv) publicPaths(t *testing.T, b *xssBrowser) {
	t.Helper()
	for n, pg := range xssDemoPages {
		// Each page is opened as a reply to the author of payload n (the
		// form's heading names them), with a hostile query that becomes
		// part of the page address commentd writes into Reply links.
		parent := env.demo[n]
		query := "?replytocom=" + parent + `&q="><svg/onload=top.__xss('page-url')>'-alert(1)-'`
		spec := env.publicSpec(n)
		spec.Texts = append(spec.Texts, [2]string{"#commentd-reply-title", "Leave a Reply to " + env.names[parent]})
		spec.IDs = append(spec.IDs, "commentd-respond")
		b.navigate(t, env.origin+pg+query)
		do(t, b.ctx, "widget on "+pg, enhanced())
		b.probe(t, b.mode+": demo page "+pg, spec)

		b.navigate(t, fmt.Sprintf("%s/fetched/%d/%s", env.blog, n, query))
		do(t, b.ctx, "widget fetched for "+pg, enhanced())
		b.probe(t, b.mode+": widget on another origin, "+pg, spec)

		b.navigate(t, fmt.Sprintf("%s/included/%d/%s", env.blog, n, query))
		b.probe(t, b.mode+": section included without script, "+pg, spec)
		if got := js[string](t, b.ctx, `document.querySelector('#commentd input[name=page_title]').value`); got != env.titles[n] {
			t.Errorf("%s: the included section's page_title is %q", b.mode, got)
		}
		if n == 0 {
			env.formErrorPage(t, b)
		}
	}
}

// formErrorPage posts the reply form without JavaScript, with payloads in
// every field and an email commentd refuses: its answer is the form again,
// each field holding what was typed.
func (env *xssEnv) formErrorPage(t *testing.T, b *xssBrowser) {
	t.Helper()
	byID := map[string]string{}
	for _, p := range env.corpus {
		byID[p.ID] = p.Text
	}
	fields := [][2]string{
		{"#commentd-body", byID["br-textarea-close"] + "\n" + byID["mx-textarea"]},
		{"#commentd-name", xssLine(byID["br-double-quote-svg"], 245)},
		{"#commentd-email", `"><svg onload=top.__xss('email')>`},
		{"#commentd-website", `javascript:top.__xss('website')//"><svg onload=top.__xss('website')>`},
	}
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(f[0]), f[1]))
	}
	do(t, b.ctx, "fill in the form", steps...)
	xssSubmitForm(t, b.ctx, "#commentd-respond button[type=submit]")
	if loc := get(t, b.ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, env.origin+"/") {
		t.Fatalf("%s: the form led to %s, want commentd's page", b.mode, loc)
	}
	b.probe(t, b.mode+": reply form returned with errors", xssProbeSpec{
		Area: "main", Interact: "main", Values: fields, IDs: []string{"commentd-email-error"},
		Exempt: "form.commentd-form, form.commentd-form input, form.commentd-form textarea, form.commentd-form button",
	})
}

// xssOwnJS posts each item through the widget's own form, one at a time, and
// waits for the widget to draw it as awaiting moderation.
const xssOwnJS = `async (items) => {
  const box = document.getElementById('commentd');
  const f = box.querySelector('#commentd-respond form');
  for (const it of items) {
    const before = box.querySelectorAll('.commentd-is-pending').length;
    f.elements.body.value = it.body;
    f.elements.name.value = it.name;
    f.elements.email.value = it.email;
    f.elements.website.value = it.website;
    f.requestSubmit();
    const t0 = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 5));
      if (box.querySelectorAll('.commentd-is-pending').length > before) break;
      const status = f.querySelector('.commentd-status');
      if (status.classList.contains('commentd-is-error')) return it.id + ': ' + status.textContent;
      if (Date.now() - t0 > 10000) return it.id + ': no answer';
    }
  }
  return '';
}`

// ownComments posts every payload through the widget on the blog: the
// widget draws each from the submit answer (commentd's sanitised HTML),
// then, after a reload, from what it kept in localStorage (as text).
func (env *xssEnv) ownComments(t *testing.T, b *xssBrowser, site string) {
	t.Helper()
	type item struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Email   string `json:"email"`
		Website string `json:"website"`
		Body    string `json:"body"`
	}
	var items []item
	for i, p := range env.corpus {
		items = append(items, item{ID: p.ID, Name: xssLine(p.Text, 245), Email: fmt.Sprintf("own%d@example.org", i), Website: env.websites[i], Body: p.Text})
	}
	arg, _ := json.Marshal(items)
	b.navigate(t, env.blog+"/own/"+site+"/")
	do(t, b.ctx, "widget for own comments", enhanced())
	failed, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("("+xssOwnJS+")("+string(arg)+")", chromedp.EvalAwaitPromise))
	if err != nil || failed != "" {
		t.Fatalf("%s: post through the widget: %v %s", b.mode, err, failed)
	}
	count := &[2]any{"#commentd .commentd-is-pending", len(items)}
	b.probe(t, b.mode+": own comments drawn from the submit answers", xssProbeSpec{Area: "#commentd", Interact: "#commentd .commentd-list", Exempt: xssPublicExempt, Count: count})
	do(t, b.ctx, "reload", chromedp.Reload(), enhanced())
	b.probe(t, b.mode+": own comments drawn from localStorage", xssProbeSpec{Area: "#commentd", Interact: "#commentd .commentd-list", Exempt: xssPublicExempt, Count: count})
}

// xssAdminExempt is commentd's own part of the moderator pages: the action
// forms of a card, its select box and the edit form.
const xssAdminExempt = `form.adm-actions, form.adm-actions > input[type="hidden"], form.adm-actions > button.adm-btn, input.adm-select, ` +
	`form.adm-form, form.adm-form input, form.adm-form textarea, form.adm-form button`

// xssAdminContent is the part of a card an author wrote or sent.
func xssAdminContent(scope string) string {
	var sels []string
	for _, c := range []string{".adm-author", ".adm-context", ".adm-parent", ".adm-reasons", ".adm-body", ".adm-facts", ".adm-revisions", ".adm-page-head"} {
		sels = append(sels, scope+" "+c)
	}
	return strings.Join(sels, ", ")
}

func (env *xssEnv) queueSpec(ids []string) xssProbeSpec {
	spec := xssProbeSpec{Area: "#adm-queue", Interact: xssAdminContent("#adm-queue"), Exempt: xssAdminExempt}
	for _, id := range ids {
		spec.IDs = append(spec.IDs, "c-"+id)
		spec.Texts = append(spec.Texts, [2]string{"#c-" + id + " .adm-author-name", env.names[id]})
	}
	return spec
}

// xssEditJS saves one edit of comment id per item through the edit form's
// endpoint, as the form would post it.
const xssEditJS = `async (id, items) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  for (const it of items) {
    const body = new URLSearchParams({ _csrf: csrf, name: it.name, website: it.website, body: it.body });
    const r = await fetch('/admin/comments/' + encodeURIComponent(id) + '/edit', { method: 'POST', body, credentials: 'same-origin', redirect: 'manual' });
    if (r.type !== 'opaqueredirect') return it.id + ': ' + r.status;
  }
  return '';
}`

// moderatorQueues probes the moderator's queues: that of site
// live while the payloads arrive as comments, the same queue rendered
// (with values planted in the database), and the demo site's queues of
// replies and of spam. It returns the ids of the live comments.
func (env *xssEnv) moderatorQueues(t *testing.T, b *xssBrowser, live string) []string {
	t.Helper()
	queue := env.origin + "/admin?site=" + live + "&limit=200"
	b.mu.Lock()
	streams := b.streams
	b.mu.Unlock()
	b.navigate(t, queue)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		up := b.streams > streams
		b.mu.Unlock()
		if up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queue's event stream did not answer")
		}
	}

	// Payloads arrive while the moderator watches: each card is fetched
	// and inserted by admin.js.
	var (
		ids   []string
		shows [][2]string
	)
	for i, p := range env.corpus {
		line := xssLine(p.Text, 500)
		v := map[string]any{
			"page": xssLine(fmt.Sprintf("/p/%d/%s", i, line), 512), "page_url": fmt.Sprintf("%s/p/%d/%s", env.blog, i, strings.Join(strings.Fields(p.Text), "")),
			"name": xssLine(p.Text, 245), "email": fmt.Sprintf("p%d'-confirm`1`-'{{7*7}}@example.org", i),
			"website": xssWebsiteFor(i, p), "body": p.Text,
		}
		if i%2 == 0 { // odd ones have no title: the card shows the page key instead
			v["page_title"] = line
		}
		ua := xssLine("Mozilla/5.0 "+p.Text, 512)
		id, _ := env.submit(t, live, v, map[string]any{
			"page_url": fmt.Sprintf("%s/p/%d/", env.blog, i), "website": "", "email": fmt.Sprintf("live%d@example.org", i),
		}, map[string]string{"User-Agent": ua})
		ids = append(ids, id)
		// What the card must show as text: the user agent, the page's title
		// or key, and what the hold words matched.
		// (commentd keeps a user agent without its control characters.)
		shows = append(shows, [2]string{"#c-" + id + " .adm-ua", strings.ReplaceAll(ua, "\t", "")})
		if i%2 == 0 {
			shows = append(shows, [2]string{"#c-" + id + " .adm-context", line})
		} else {
			shows = append(shows, [2]string{"#c-" + id + " .adm-context", v["page"].(string)})
		}
		if strings.Contains(p.Text, "<") {
			shows = append(shows, [2]string{"#c-" + id + " .adm-reasons", "/<[^>]{0,25}/ (\""})
		}
		// A live stream that falls SubscriberBuffer events behind misses
		// the rest by design; a loaded machine can fall that far behind a
		// burst of 171, so the payloads arrive in rounds of 32.
		if len(ids)%32 == 0 {
			round := fmt.Sprintf(`document.querySelectorAll('#adm-queue .adm-card').length >= %d`, len(ids))
			if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](round, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
				n := js[int](t, b.ctx, `document.querySelectorAll('#adm-queue .adm-card').length`)
				t.Fatalf("%s: %d of the first %d cards arrived live: %v", b.mode, n, len(ids), err)
			}
		}
	}
	arrived := fmt.Sprintf(`document.querySelectorAll('#adm-queue .adm-card').length >= %d`, len(ids))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](arrived, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		n := js[int](t, b.ctx, `document.querySelectorAll('#adm-queue .adm-card').length`)
		t.Fatalf("%s: %d of %d cards arrived live: %v", b.mode, n, len(ids), err)
	}
	liveSpec := env.queueSpec(ids)
	liveSpec.Contains = shows
	b.probe(t, b.mode+": cards inserted live", liveSpec)

	// Values no submission could store, as an import might have left them.
	db, err := sql.Open("sqlite", "file:"+env.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, stmt := range []struct{ query, value string }{
		{`UPDATE comments SET author_website = ? WHERE id = ?`, "javascript:top.__xss('planted-admin-website')"},
		{`UPDATE comments SET author_website = ? WHERE id = ?`, "data:text/html,<script>top.__xss('planted-admin-data')</script>"},
		{`UPDATE pages SET url = ? WHERE key = (SELECT page_key FROM comments WHERE id = ?)`, "javascript:top.__xss('planted-page-url')"},
		{`UPDATE pages SET url = ? WHERE key = (SELECT page_key FROM comments WHERE id = ?)`, ` JaVa	ScRiPt:top.__xss('planted-page-url-case')`},
	} {
		if _, err := db.Exec(stmt.query, stmt.value, ids[i]); err != nil {
			t.Fatalf("plant %q: %v", stmt.value, err)
		}
	}
	b.navigate(t, queue)
	b.probe(t, b.mode+": queue", liveSpec)

	b.navigate(t, env.origin+"/admin?site=demo&limit=200")
	b.probe(t, b.mode+": queue of replies", env.queueSpec(env.replies))
	b.navigate(t, env.origin+"/admin?site=demo&status=spam&limit=200")
	spamSpec := env.queueSpec(env.spam)
	for _, id := range env.spam {
		spamSpec.Contains = append(spamSpec.Contains, [2]string{"#c-" + id + " .adm-reasons", "the hidden field was filled in"})
	}
	b.probe(t, b.mode+": spam with the honeypot quoted", spamSpec)

	// Leave, so that the event stream does not hold up the shutdown.
	do(t, b.ctx, "leave", chromedp.Navigate("about:blank"))
	return ids
}

// signIn signs the moderator in through the form.
func (env *xssEnv) signIn(t *testing.T, b *xssBrowser) {
	t.Helper()
	do(t, b.ctx, "sign in",
		chromedp.Navigate(env.origin+"/admin/login"),
		chromedp.WaitVisible(chromedp.ID("login-email")),
		chromedp.SendKeys(chromedp.ID("login-email"), xssModerator),
		chromedp.SendKeys(chromedp.ID("login-password"), xssPassword),
		chromedp.Click(chromedp.CSS(".adm-login button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("adm-queue")),
	)
}

// moderatorPages probes comment pages: those of live comments with
// planted values and some whose payloads aim at the page's own fields,
// that of the demo comment edited with every payload in turn (the edits
// are made through the edit form's endpoint by the first mode that gets
// here), and the edit form posted as a moderator would.
func (env *xssEnv) moderatorPages(t *testing.T, b *xssBrowser, ids []string) {
	t.Helper()
	// Comment pages: those with planted values, and those whose payloads
	// aim at the edit form's fields and the page's title. (Every payload
	// is on one comment page below, as an earlier version.)
	pageSpec := func(id string) xssProbeSpec {
		return xssProbeSpec{
			Area: ".adm-page-head, .adm-detail", Interact: xssAdminContent(".adm-detail") + ", .adm-page-head", Exempt: xssAdminExempt,
			IDs: []string{"c-" + id}, Texts: [][2]string{{"#c-" + id + " .adm-author-name", env.names[id]}},
		}
	}
	for i, p := range env.corpus {
		switch {
		case i < 4:
		case p.ID == "br-textarea-close", p.ID == "mx-textarea", p.ID == "br-title-close", p.ID == "br-double-quote-svg":
		default:
			continue
		}
		b.navigate(t, env.origin+"/admin/comments/"+ids[i])
		spec := pageSpec(ids[i])
		spec.Values = [][2]string{{"#edit-body", p.Text}}
		b.probe(t, b.mode+": comment page of "+p.ID, spec)
	}

	// Edits: every payload saved in turn over one comment, which then
	// shows all of them as earlier versions.
	type edit struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Website string `json:"website"`
		Body    string `json:"body"`
	}
	var edits []edit
	for i := range env.corpus {
		j := (i + 1) % len(env.corpus)
		p := env.corpus[j]
		edits = append(edits, edit{ID: p.ID, Name: xssLine(p.Text, 245), Website: env.websites[j], Body: p.Text})
	}
	target := env.edited
	if !env.editsMade {
		arg, _ := json.Marshal(edits)
		failed, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("("+xssEditJS+")("+strconv.Quote(target)+", "+string(arg)+")", chromedp.EvalAwaitPromise))
		if err != nil || failed != "" {
			t.Fatalf("%s: edits: %v %s", b.mode, err, failed)
		}
		env.names[target] = edits[len(edits)-1].Name
		env.editsMade = true
	}
	b.navigate(t, env.origin+"/admin/comments/"+target)
	spec := pageSpec(target)
	spec.Count = &[2]any{".adm-revisions > li", len(edits) - 1}
	b.probe(t, b.mode+": comment page after every payload was saved over it", spec)

	// The edit form, posted as a moderator would: a valid edit lands on
	// the comment page; a refused one comes back with what was typed.
	p := env.corpus[0]
	do(t, b.ctx, "fill in the edit form",
		chromedp.SetValue(chromedp.ID("edit-name"), xssLine(p.Text, 245)),
		chromedp.SetValue(chromedp.ID("edit-website"), "https://edited.example/"),
		chromedp.SetValue(chromedp.ID("edit-body"), p.Text),
	)
	xssSubmitForm(t, b.ctx, ".adm-form button[type=submit]")
	env.names[target] = xssLine(p.Text, 245)
	b.probe(t, b.mode+": comment page after an edit through the form", pageSpec(target))

	hostile := env.corpus[1]
	badSite := "javascript:top.__xss('edit-website')//\"><svg onload=top.__xss('edit-website')>"
	do(t, b.ctx, "fill in a refused edit",
		chromedp.SetValue(chromedp.ID("edit-name"), xssLine(hostile.Text, 245)),
		chromedp.SetValue(chromedp.ID("edit-website"), badSite),
		chromedp.SetValue(chromedp.ID("edit-body"), hostile.Text),
	)
	xssSubmitForm(t, b.ctx, ".adm-form button[type=submit]")
	spec = pageSpec(target)
	spec.Values = [][2]string{{"#edit-name", xssLine(hostile.Text, 245)}, {"#edit-website", badSite}, {"#edit-body", hostile.Text}}
	spec.IDs = append(spec.IDs, "edit-website-error")
	b.probe(t, b.mode+": edit form redrawn after a refused edit", spec)
}

// xssSubmitForm clicks a form's button and waits for the page it leads to.
func xssSubmitForm(t *testing.T, ctx context.Context, button string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(button)))); err != nil {
		t.Fatalf("submit %s: %v", button, err)
	}
}
