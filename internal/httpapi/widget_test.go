package httpapi

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/commentd/commentd/internal/comment"
)

// fragment is a parsed comment section.
type fragment struct {
	raw  string
	root *html.Node
}

func (s *testServer) section(t *testing.T, site string, q url.Values, header map[string]string) (response, fragment) {
	t.Helper()
	r := s.do(t, http.MethodGet, "/sites/"+site+"/thread?"+q.Encode(), "", nil, header)
	if r.status != http.StatusOK {
		return r, fragment{}
	}
	root, err := html.Parse(strings.NewReader(string(r.body)))
	if err != nil {
		t.Fatalf("parse fragment: %v", err)
	}
	return r, fragment{raw: string(r.body), root: root}
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// all returns the element nodes under n (n included) for which match is true.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id }
}

func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, _ := attr(n, "class")
		return slices.Contains(strings.Fields(v), class)
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (f fragment) one(t *testing.T, what string, match func(*html.Node) bool) *html.Node {
	t.Helper()
	nodes := all(f.root, match)
	if len(nodes) != 1 {
		t.Fatalf("%s: %d matches, want 1", what, len(nodes))
	}
	return nodes[0]
}

// field returns the form control named name.
func (f fragment) field(t *testing.T, name string) *html.Node {
	t.Helper()
	return f.one(t, "field "+name, func(n *html.Node) bool {
		v, ok := attr(n, "name")
		return ok && v == name && (n.Data == "input" || n.Data == "textarea")
	})
}

// storeApproved writes an approved comment straight into the store, as no
// submission could (a javascript: website, say), to prove that the page
// would not trust it either.
func (s *testServer) storeApproved(t *testing.T, id, page, name, website, bodyHTML string) {
	t.Helper()
	now := time.Now().UTC()
	c := comment.Comment{ID: id, SiteID: "blog", PageKey: page, Depth: 1, AuthorName: name, AuthorEmail: "x@example.org",
		AuthorWebsite: website, Body: "stored", BodyHTML: bodyHTML, Status: comment.StatusApproved, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateComment(context.Background(), c, comment.Page{URL: "https://blog.example" + page}); err != nil {
		t.Fatal(err)
	}
}

func TestThreadSection(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	page := "/2026/11/towpath"
	first := s.submitOK(t, "blog", with(valid(), "name", `Ann <script>alert(1)</script>`, "website", "https://ann.example/?a=1&b=2"))
	s.approve(t, first)
	reply := s.submitOK(t, "blog", with(valid(), "parent_id", first, "name", "Bo", "body", "A *reply*."))
	s.approve(t, reply)
	s.storeApproved(t, "0000-stored", page, `"><img src=x onerror=alert(1)>`, "javascript:alert(document.domain)", "<p>Stored.</p>")
	s.submitOK(t, "blog", with(valid(), "name", "Still Pending")) // held: not shown

	q := url.Values{"page": {page}, "page_url": {"https://blog.example" + page + "?utm=x"}, "page_title": {"The towpath"}}
	r, f := s.section(t, "blog", q, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store (the fragment holds a fresh form token)", cc)
	}
	if strings.Contains(strings.ToLower(f.raw), "<html") || strings.Contains(strings.ToLower(f.raw), "<body") {
		t.Error("the fragment is a whole document")
	}

	t.Run("count heading", func(t *testing.T) {
		if got := textOf(f.one(t, "heading", byID("commentd-count"))); got != "3 Responses" {
			t.Errorf("heading = %q, want 3 Responses", got)
		}
	})
	t.Run("nesting and only approved", func(t *testing.T) {
		li := f.one(t, "reply", byID("comment-"+reply))
		var parents []string
		for p := li.Parent; p != nil; p = p.Parent {
			if id, _ := attr(p, "id"); strings.HasPrefix(id, "comment-") {
				parents = append(parents, id)
			}
		}
		if !slices.Equal(parents, []string{"comment-" + first}) {
			t.Errorf("the reply sits in %v, want [comment-%s]", parents, first)
		}
		if got := textOf(f.one(t, "reply body", func(n *html.Node) bool {
			return byClass("commentd-body")(n) && n.Parent.Parent == li
		})); got != "A reply." {
			t.Errorf("reply body text = %q", got)
		}
		if strings.Contains(f.raw, "Still Pending") {
			t.Error("a held comment is in the section")
		}
		// The server's own address is in the form's action; the commenters'
		// (also 127.0.0.1 here) must be nowhere else.
		rest := strings.ReplaceAll(f.raw, s.URL, "")
		for _, private := range []string{"ann@example.org", "x@example.org", "127.0.0.1", "Go-http-client"} {
			if strings.Contains(rest, private) {
				t.Errorf("the section shows the private %q", private)
			}
		}
	})
	t.Run("names are text, websites only http(s)", func(t *testing.T) {
		for _, bad := range []string{"<script>alert(1)", `<img src=x`, "javascript:", "onerror=alert(1)>"} {
			if strings.Contains(f.raw, bad) {
				t.Errorf("the fragment contains %q unescaped", bad)
			}
		}
		stored := f.one(t, "stored comment", byID("comment-0000-stored"))
		author := all(stored, byClass("commentd-author"))[0]
		if links := all(author, func(n *html.Node) bool { return n.Data == "a" }); len(links) != 0 {
			t.Errorf("a javascript: website became a link: %v", links[0].Attr)
		}
		if got := textOf(author); got != `"><img src=x onerror=alert(1)>` {
			t.Errorf("hostile name shown as %q, want it as text", got)
		}
		a := all(f.one(t, "first", byID("comment-"+first)), func(n *html.Node) bool {
			return n.Data == "a" && n.Parent != nil && byClass("commentd-author")(n.Parent)
		})
		if len(a) != 1 {
			t.Fatal("the http(s) website is not a link")
		}
		if href, _ := attr(a[0], "href"); href != "https://ann.example/?a=1&b=2" {
			t.Errorf("website href = %q", href)
		}
		if rel, _ := attr(a[0], "rel"); rel != "nofollow ugc noopener" {
			t.Errorf("website rel = %q", rel)
		}
		for _, n := range all(f.root, func(n *html.Node) bool { _, ok := attr(n, "href"); return ok }) {
			href, _ := attr(n, "href")
			if u, err := url.Parse(href); err != nil || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") {
				t.Errorf("href %q is neither relative nor http(s)", href)
			}
		}
	})
	t.Run("form", func(t *testing.T) {
		form := f.one(t, "form", func(n *html.Node) bool { return n.Data == "form" })
		if action, _ := attr(form, "action"); action != s.URL+"/api/v1/sites/blog/comments" {
			t.Errorf("form action = %q, want this server's absolute form endpoint", action)
		}
		if method, _ := attr(form, "method"); method != "post" {
			t.Errorf("form method = %q", method)
		}
		text := textOf(form)
		for _, want := range []string{"Leave a Reply", "Your email address will not be published. Required fields are marked *",
			"Comment *", "Name *", "Email *", "Website", "Save my name, email, and website in this browser for the next time I comment.", "Post Comment"} {
			if !strings.Contains(text, want) {
				t.Errorf("form lacks %q", want)
			}
		}
		hidden := map[string]string{"page": page, "page_url": "https://blog.example" + page + "?utm=x", "page_title": "The towpath", "parent_id": ""}
		for name, want := range hidden {
			n := f.field(t, name)
			if typ, _ := attr(n, "type"); typ != "hidden" {
				t.Errorf("%s is type %q, want hidden", name, typ)
			}
			if v, _ := attr(n, "value"); v != want {
				t.Errorf("%s = %q, want %q", name, v, want)
			}
		}
		if tok, _ := attr(f.field(t, "form_token"), "value"); len(tok) < 16 {
			t.Errorf("form_token = %q, want a fresh token", tok)
		}
		if v, _ := attr(f.field(t, "url"), "value"); v != "" {
			t.Errorf("honeypot url = %q, want empty", v)
		}
		for _, name := range []string{"body", "name", "email", "website"} {
			n := f.field(t, name)
			id, _ := attr(n, "id")
			f.one(t, "label of "+name, func(l *html.Node) bool { v, _ := attr(l, "for"); return l.Data == "label" && v == id })
		}
		if _, ok := attr(f.one(t, "cancel", byClass("commentd-cancel")), "hidden"); !ok {
			t.Error("the cancel-reply link shows without a reply")
		}
		f.one(t, "live region", func(n *html.Node) bool { v, _ := attr(n, "aria-live"); return v == "polite" })
	})
	t.Run("reply links", func(t *testing.T) {
		link := all(f.one(t, "first", byID("comment-"+first)), byClass("commentd-reply"))[0]
		href, _ := attr(link, "href")
		want := "https://blog.example" + page + "?replytocom=" + first + "&utm=x#commentd-respond"
		if href != want {
			t.Errorf("Reply href = %q, want %q", href, want)
		}
		_, f := s.section(t, "blog", url.Values{"page": {page}, "page_url": {"https://evil.example/x"}}, nil)
		link = all(f.one(t, "first", byID("comment-"+first)), byClass("commentd-reply"))[0]
		if href, _ := attr(link, "href"); href != "?replytocom="+first+"#commentd-respond" {
			t.Errorf("with a foreign page_url, Reply href = %q, want a relative link", href)
		}
	})
	t.Run("replytocom", func(t *testing.T) {
		q := url.Values{"page": {page}, "page_url": {"https://blog.example" + page}, "replytocom": {reply}}
		_, f := s.section(t, "blog", q, nil)
		if v, _ := attr(f.field(t, "parent_id"), "value"); v != reply {
			t.Errorf("parent_id = %q, want %s", v, reply)
		}
		if got := textOf(f.one(t, "title", byID("commentd-reply-title"))); got != "Leave a Reply to Bo" {
			t.Errorf("form title = %q", got)
		}
		cancel := f.one(t, "cancel", byClass("commentd-cancel"))
		if _, hidden := attr(cancel, "hidden"); hidden {
			t.Error("the cancel-reply link is hidden while replying")
		}
		if href, _ := attr(all(cancel, func(n *html.Node) bool { return n.Data == "a" })[0], "href"); href != "https://blog.example"+page+"#commentd-respond" {
			t.Errorf("cancel href = %q", href)
		}
		q.Set("replytocom", "no-such-comment")
		_, f = s.section(t, "blog", q, nil)
		if v, _ := attr(f.field(t, "parent_id"), "value"); v != "" {
			t.Errorf("an unknown replytocom set parent_id %q", v)
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			site string
			q    url.Values
			want int
		}{
			{"no page", "blog", url.Values{}, 422},
			{"bad page_url", "blog", url.Values{"page": {"/a"}, "page_url": {"javascript:alert(1)"}}, 422},
			{"unknown site", "nosuch", url.Values{"page": {"/a"}}, 404},
		}
		for _, tt := range tests {
			if r, _ := s.section(t, tt.site, tt.q, nil); r.status != tt.want {
				t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.want)
			}
		}
	})
}

func TestThreadSectionCountsAndDepth(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	page := "/2026/11/towpath"
	_, f := s.section(t, "blog", url.Values{"page": {page}}, nil)
	if got := textOf(f.one(t, "heading", byID("commentd-count"))); got != "No Responses yet" {
		t.Errorf("empty heading = %q", got)
	}
	parent := ""
	var chain []string
	for range comment.MaxDepth {
		id := s.submitOK(t, "blog", with(valid(), "parent_id", parent))
		s.approve(t, id)
		chain = append(chain, id)
		parent = id
		if len(chain) == 1 {
			_, f := s.section(t, "blog", url.Values{"page": {page}}, nil)
			if got := textOf(f.one(t, "heading", byID("commentd-count"))); got != "1 Response" {
				t.Errorf("heading = %q, want 1 Response", got)
			}
		}
	}
	_, f = s.section(t, "blog", url.Values{"page": {page}}, nil)
	for i, id := range chain {
		links := all(f.one(t, "comment", byID("comment-"+id)), func(n *html.Node) bool {
			return byClass("commentd-reply")(n) && n.Parent.Parent.Parent != nil && byID("comment-"+id)(n.Parent.Parent.Parent)
		})
		if wantLink := i+1 < comment.MaxDepth; (len(links) == 1) != wantLink {
			t.Errorf("comment at depth %d has %d Reply links, want a link: %v", i+1, len(links), wantLink)
		}
	}
}

func TestWidgetCORS(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	const own, other, stranger = "https://blog.example", "https://other.example", "https://evil.example"
	tests := []struct {
		name, method, path, origin, want string
	}{
		{"section, own origin", "GET", "/sites/blog/thread?page=/a", own, own},
		{"section, another site's origin", "GET", "/sites/blog/thread?page=/a", other, ""},
		{"section, stranger", "GET", "/sites/blog/thread?page=/a", stranger, ""},
		{"section preflight, own origin", "OPTIONS", "/sites/blog/thread", own, own},
		{"section preflight, stranger", "OPTIONS", "/sites/blog/thread", stranger, ""},
		{"counts, own origin", "GET", "/api/v1/sites/blog/counts?page=/a", own, own},
		{"counts, stranger", "GET", "/api/v1/sites/blog/counts?page=/a", stranger, ""},
		{"counts preflight, stranger", "OPTIONS", "/api/v1/sites/blog/counts", stranger, ""},
		{"comments, own origin", "GET", "/api/v1/sites/blog/comments?page=/a", own, own},
		{"comments, stranger", "GET", "/api/v1/sites/blog/comments?page=/a", stranger, ""},
		{"comments preflight, own origin", "OPTIONS", "/api/v1/sites/blog/comments", own, own},
		{"comments preflight, stranger", "OPTIONS", "/api/v1/sites/blog/comments", stranger, ""},
		{"form token, own origin", "GET", "/api/v1/sites/blog/form-token?page=/a", own, own},
		{"form token, stranger", "GET", "/api/v1/sites/blog/form-token?page=/a", stranger, ""},
		{"script, anyone", "GET", "/embed.js", stranger, "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Origin": tt.origin}
			if tt.method == "OPTIONS" {
				h["Access-Control-Request-Method"] = "POST"
				h["Access-Control-Request-Headers"] = "content-type"
			}
			r := s.do(t, tt.method, tt.path, "", nil, h)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tt.want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.want)
			}
			if tt.method == "OPTIONS" {
				allowed := r.header.Get("Access-Control-Allow-Headers")
				if (tt.want != "") != strings.Contains(strings.ToLower(allowed), "content-type") {
					t.Errorf("Access-Control-Allow-Headers = %q", allowed)
				}
			}
			if tt.want != "*" && !slices.Contains(r.header.Values("Vary"), "Origin") {
				t.Errorf("Vary = %v, want Origin", r.header.Values("Vary"))
			}
		})
	}
}

func TestEmbedScriptRoutes(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	stable := s.do(t, "GET", "/embed.js", "", nil, nil)
	if stable.status != 200 || !strings.HasPrefix(stable.header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("/embed.js: status %d, type %q", stable.status, stable.header.Get("Content-Type"))
	}
	if cc := stable.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
		t.Errorf("/embed.js Cache-Control = %q, want a short lifetime", cc)
	}
	var info embedInfo
	s.do(t, "GET", "/embed.json?site=blog", "", nil, nil).json(t, &info)
	sum := sha512.Sum384(stable.body)
	if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); info.Integrity != want {
		t.Errorf("integrity = %q, want %q", info.Integrity, want)
	}
	if !strings.HasPrefix(info.Src, s.URL+"/embed.") || info.StableSrc != s.URL+"/embed.js" {
		t.Errorf("src = %q, stable_src = %q", info.Src, info.StableSrc)
	}
	for _, want := range []string{`src="` + info.Src + `"`, `integrity="` + info.Integrity + `"`, `crossorigin="anonymous"`, `data-site="blog"`, `<div id="commentd"></div>`} {
		if !strings.Contains(info.HTML, want) {
			t.Errorf("snippet %q lacks %q", info.HTML, want)
		}
	}

	hashed := s.do(t, "GET", strings.TrimPrefix(info.Src, s.URL), "", nil, nil)
	if hashed.status != 200 || string(hashed.body) != string(stable.body) {
		t.Fatalf("%s: status %d", info.Src, hashed.status)
	}
	if cc := hashed.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("hashed Cache-Control = %q", cc)
	}
	if r := s.do(t, "GET", "/embed.0123456789ab.js", "", nil, nil); r.status != 404 {
		t.Errorf("another release's name: status %d, want 404", r.status)
	}
	etag := stable.header.Get("ETag")
	if r := s.do(t, "GET", "/embed.js", "", nil, map[string]string{"If-None-Match": etag}); etag == "" || r.status != 304 {
		t.Errorf("revalidation with ETag %q: status %d, want 304", etag, r.status)
	}
	if r := s.do(t, "GET", "/static/embed.js", "", nil, nil); r.status != 200 || string(r.body) != string(stable.body) {
		t.Errorf("/static/embed.js: status %d", r.status)
	}
	if r := s.do(t, "HEAD", "/embed.js", "", nil, nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD /embed.js: status %d, %d bytes", r.status, len(r.body))
	}
}

// TestDemoPageRunsOnlyOwnScript: the demo page may load commentd's own
// script and call its API; every other answer keeps the strict policy.
func TestDemoPageRunsOnlyOwnScript(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	ctx := context.Background()
	if err := s.store.UpsertSite(ctx, comment.Site{ID: "demo", Name: "Demo", Origins: []string{s.URL},
		RateLimit: comment.RateLimit{Every: time.Second, Burst: 100}}); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, "GET", "/demo/", "", nil, nil)
	if r.status != 200 {
		t.Fatalf("/demo/: status %d, %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("demo CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("demo CSP %q allows unsafe sources", csp)
	}
	var info embedInfo
	s.do(t, "GET", "/embed.json", "", nil, nil).json(t, &info)
	page := string(r.body)
	// html/template writes the + of base64 as &#43;, which is the same
	// attribute value.
	if tag := `<script src="/` + strings.TrimPrefix(info.Src, s.URL+"/") + `" integrity="` + info.Integrity + `"`; !strings.Contains(html.UnescapeString(page), tag) {
		t.Errorf("demo page lacks %s", tag)
	}
	for _, want := range []string{
		`<div id="commentd">`, `id="commentd-count">No Responses yet</h2>`, `action="/api/v1/sites/demo/comments"`,
		`data-commentd-count="/demo/heronry/"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("demo page lacks %q", want)
		}
	}
	if r := s.do(t, "GET", "/demo/orchard/", "", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `value="/demo/orchard/"`) {
		t.Errorf("/demo/orchard/: status %d", r.status)
	}
	if r := s.do(t, "GET", "/demo/nosuch/", "", nil, nil); r.status != 404 {
		t.Errorf("/demo/nosuch/: status %d, want 404", r.status)
	}
	for _, path := range []string{"/sites/demo/thread?page=/demo/", "/healthz", "/embed.js"} {
		if csp := s.do(t, "GET", path, "", nil, nil).header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q allows scripts", path, csp)
		}
	}
}

func TestSubmissionFromForeignPageRefused(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	tests := []struct {
		name, origin string
		want         int
	}{
		{"no origin (a server)", "", 201},
		{"the site's own page", "https://blog.example", 201},
		{"this server's own page", s.URL, 201},
		{"another site's page", "https://other.example", 403},
		{"a stranger", "https://evil.example", 403},
		{"an opaque origin", "null", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			form := url.Values{"page": {"/p"}, "name": {"N"}, "email": {"n@example.org"}, "body": {"From " + tt.name}}
			r := s.do(t, "POST", "/api/v1/sites/blog/comments", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), h)
			if got := r.status; (got == 201 || got == 303) != (tt.want == 201) || (tt.want == 403 && got != 403) {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}
