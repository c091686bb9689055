package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/commentd/commentd/internal/auth"
)

type threadJSON struct {
	Page     string        `json:"page"`
	Total    int           `json:"total"`
	Comments []commentJSON `json:"comments"`
}

type commentJSON struct {
	ID       string        `json:"id"`
	ParentID *string       `json:"parent_id"`
	BodyHTML string        `json:"body_html"`
	Replies  []commentJSON `json:"replies"`
}

func (s *testServer) thread(t *testing.T, site, page string) threadJSON {
	t.Helper()
	r := s.do(t, http.MethodGet, "/api/v1/sites/"+site+"/comments?page="+url.QueryEscape(page), "", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("thread: status %d, body %s", r.status, r.body)
	}
	var got threadJSON
	r.json(t, &got)
	return got
}

func TestThreadShowsOnlyApprovedAndNestsReplies(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	page := "/2026/11/towpath"
	first := s.submitOK(t, "blog", valid())
	if got := s.thread(t, "blog", page); got.Total != 0 || len(got.Comments) != 0 {
		t.Fatalf("pending comment is public: %+v", got)
	}
	if r := s.postJSON(t, "blog", with(valid(), "parent_id", first)); r.status != 422 {
		t.Fatalf("reply to a pending comment: status %d, want 422", r.status)
	}
	s.approve(t, first)
	reply := s.submitOK(t, "blog", with(valid(), "parent_id", first, "body", "I agree."))
	second := s.submitOK(t, "blog", with(valid(), "body", "Second top-level."))
	s.approve(t, reply)
	s.approve(t, second)

	got := s.thread(t, "blog", page)
	if got.Total != 3 || len(got.Comments) != 2 {
		t.Fatalf("thread = %+v, want 3 comments, 2 at top level", got)
	}
	if got.Comments[0].ID != first || got.Comments[1].ID != second {
		t.Errorf("top level order = %s, %s; want %s, %s (oldest first)", got.Comments[0].ID, got.Comments[1].ID, first, second)
	}
	if len(got.Comments[0].Replies) != 1 || got.Comments[0].Replies[0].ID != reply {
		t.Errorf("replies of first = %+v, want [%s]", got.Comments[0].Replies, reply)
	}
	if p := got.Comments[0].Replies[0].ParentID; p == nil || *p != first {
		t.Errorf("reply parent_id = %v, want %s", p, first)
	}
	if !strings.Contains(got.Comments[0].BodyHTML, "<em>walk</em>") {
		t.Errorf("body_html = %q, want rendered Markdown", got.Comments[0].BodyHTML)
	}
	if other := s.thread(t, "blog", "/another"); other.Total != 0 {
		t.Errorf("another page shows %d comments", other.Total)
	}
	if r := s.postJSON(t, "blog", with(valid(), "page", "/another", "parent_id", first)); r.status != 422 {
		t.Errorf("reply from another page: status %d, want 422", r.status)
	}
}

func TestReplyDepthIsBounded(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	parent := ""
	for depth := 1; depth <= 5; depth++ {
		id := s.submitOK(t, "blog", with(valid(), "parent_id", parent, "body", fmt.Sprintf("depth %d", depth)))
		s.approve(t, id)
		parent = id
	}
	r := s.postJSON(t, "blog", with(valid(), "parent_id", parent))
	if r.status != 422 {
		t.Fatalf("reply at depth 6: status %d, want 422; body %s", r.status, r.body)
	}
	var got errorBody
	r.json(t, &got)
	if got.Fields["parent_id"] == "" {
		t.Errorf("no parent_id error in %s", r.body)
	}
	th := s.thread(t, "blog", "/2026/11/towpath")
	depth, node := 0, th.Comments
	for len(node) > 0 {
		depth++
		node = node[0].Replies
	}
	if depth != 5 {
		t.Errorf("thread nests %d levels, want 5", depth)
	}
}

func TestCounts(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	for range 2 {
		s.approve(t, s.submitOK(t, "blog", with(valid(), "page", "/a")))
	}
	s.submitOK(t, "blog", with(valid(), "page", "/b")) // pending: not counted
	r := s.do(t, http.MethodGet, "/api/v1/sites/blog/counts?page=/a&page=/b&page=/c", "", nil, nil)
	var got countsResponse
	r.json(t, &got)
	want := map[string]int{"/a": 2, "/b": 0, "/c": 0}
	for k, v := range want {
		if n, ok := got.Counts[k]; !ok || n != v {
			t.Errorf("count of %s = %d (present %v), want %d", k, n, ok, v)
		}
	}
	if r := s.do(t, http.MethodGet, "/api/v1/sites/blog/counts", "", nil, nil); r.status != 422 {
		t.Errorf("counts without pages: status %d, want 422", r.status)
	}
	many := "/api/v1/sites/blog/counts?" + strings.Repeat("page=x&", 101)
	if r := s.do(t, http.MethodGet, many, "", nil, nil); r.status != 422 {
		t.Errorf("counts of 101 pages: status %d, want 422", r.status)
	}
	if r := s.do(t, http.MethodGet, "/api/v1/sites/nosuch/counts?page=/a", "", nil, nil); r.status != 404 {
		t.Errorf("counts of unknown site: status %d, want 404", r.status)
	}
}

func TestModerationAuth(t *testing.T) {
	digest := sha256.Sum256([]byte("other-site-token-abcdef"))
	tok, err := auth.SiteToken("other-mod", hex.EncodeToString(digest[:]), []string{"other"})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, serverOpts{tokens: []auth.Token{tok}})
	id := s.submitOK(t, "blog", valid())
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{"queue without token", "GET", "/comments?site=blog", "", 401},
		{"queue with wrong token", "GET", "/comments?site=blog", "nope", 401},
		{"queue as admin", "GET", "/comments?site=blog", testAdminToken, 200},
		{"queue of another site", "GET", "/comments?site=blog", "other-site-token-abcdef", 403},
		{"queue of own site", "GET", "/comments?site=other", "other-site-token-abcdef", 200},
		{"approve without token", "POST", "/comments/" + id + "/approve", "", 401},
		{"approve another site's comment", "POST", "/comments/" + id + "/approve", "other-site-token-abcdef", 403},
		{"get another site's comment", "GET", "/comments/" + id, "other-site-token-abcdef", 403},
		{"approve unknown id", "POST", "/comments/0192f1c3-0000-7000-8000-000000000000/approve", testAdminToken, 404},
		{"approve malformed id", "POST", "/comments/%27%20or%201=1/approve", testAdminToken, 404},
		{"bad status filter", "GET", "/comments?status=nonsense", testAdminToken, 422},
		{"bad cursor", "GET", "/comments?cursor=bm90LWEtY3Vyc29y", testAdminToken, 422},
		{"unknown site", "GET", "/comments?site=nosuch", testAdminToken, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := s.mod(t, tt.method, tt.path, tt.token); r.status != tt.want {
				t.Errorf("status = %d, want %d; body %s", r.status, tt.want, r.body)
			}
		})
	}
	var got commentResponse
	s.mod(t, "GET", "/comments/"+id, testAdminToken).json(t, &got)
	if got.Comment.Status != "pending" {
		t.Errorf("after refused actions status = %q, want pending", got.Comment.Status)
	}
}

func TestModerationQueueAndActions(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	var ids []string
	for i := range 7 {
		ids = append(ids, s.submitOK(t, "blog", with(valid(), "body", fmt.Sprintf("comment %d", i), "email", fmt.Sprintf("r%d@example.org", i))))
	}
	s.submitOK(t, "other", valid())

	// Walk the blog queue in pages of 3: oldest first, no gaps, no repeats.
	var seen []string
	cursor := ""
	for range 5 {
		r := s.mod(t, "GET", "/comments?site=blog&limit=3&cursor="+url.QueryEscape(cursor), testAdminToken)
		var page queueResponse
		r.json(t, &page)
		for _, c := range page.Comments {
			seen = append(seen, c.ID)
			if c.Author.Email == "" || c.IP == "" || len(c.Reasons) == 0 {
				t.Errorf("queue entry lacks the moderator's view: %+v", c)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("queue walk = %v, want %v", seen, ids)
	}

	var got commentResponse
	s.mod(t, "POST", "/comments/"+ids[0]+"/approve", testAdminToken).json(t, &got)
	if got.Comment.Status != "approved" {
		t.Errorf("after approve status = %q", got.Comment.Status)
	}
	s.mod(t, "POST", "/comments/"+ids[0]+"/approve", testAdminToken).json(t, &got)
	if got.Comment.Status != "approved" {
		t.Errorf("after second approve status = %q", got.Comment.Status)
	}
	s.mod(t, "POST", "/comments/"+ids[1]+"/reject", testAdminToken)
	s.mod(t, "POST", "/comments/"+ids[2]+"/spam", testAdminToken)

	var full commentResponse
	s.mod(t, "GET", "/comments/"+ids[0], testAdminToken).json(t, &full)
	if len(full.History) != 2 || full.History[0].Action != "submit" || full.History[1].Action != "approve" {
		t.Errorf("history = %+v, want submit then one approve", full.History)
	}
	if full.History[1].Actor != "admin" || full.History[1].FromStatus != "pending" {
		t.Errorf("approve event = %+v, want actor admin from pending", full.History[1])
	}

	for status, want := range map[string]int{"pending": 4, "approved": 1, "rejected": 1, "spam": 1} {
		var page queueResponse
		s.mod(t, "GET", "/comments?site=blog&status="+status, testAdminToken).json(t, &page)
		if len(page.Comments) != want {
			t.Errorf("%s: %d comments, want %d", status, len(page.Comments), want)
		}
	}
	var all queueResponse
	s.mod(t, "GET", "/comments", testAdminToken).json(t, &all)
	if len(all.Comments) != 5 {
		t.Errorf("admin queue over every site has %d pending, want 5", len(all.Comments))
	}
}

func TestFormPost(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	form := url.Values{
		"page": {"/2026/11/towpath"}, "page_url": {"https://blog.example/2026/11/towpath#comments"},
		"name": {"Ann"}, "email": {"ann@example.org"}, "body": {"From a form."},
	}
	t.Run("redirects back with anchor", func(t *testing.T) {
		r := s.postForm(t, "blog", form)
		if r.status != http.StatusSeeOther {
			t.Fatalf("status = %d, want 303; body %s", r.status, r.body)
		}
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, "https://blog.example/2026/11/towpath#comment-") {
			t.Errorf("Location = %q, want the article with the comment's anchor", loc)
		}
	})
	t.Run("foreign page_url is not followed", func(t *testing.T) {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("page_url", "https://evil.example/phish")
		f.Set("body", "From a form, with a foreign return address.")
		r := s.postForm(t, "blog", f)
		if r.status != http.StatusCreated || r.header.Get("Location") != "" {
			t.Fatalf("status = %d, Location %q; want 201 page and no redirect", r.status, r.header.Get("Location"))
		}
		if !strings.Contains(string(r.body), "awaiting moderation") {
			t.Errorf("thank-you page lacks the moderation notice: %s", r.body)
		}
	})
	t.Run("errors beside fields, entries kept", func(t *testing.T) {
		f := url.Values{"page": {"/2026/11/towpath"}, "page_url": {"https://blog.example/2026/11/towpath"},
			"name": {"Ann <b>"}, "email": {"not-an-address"}, "body": {"Kept text"}}
		r := s.postForm(t, "blog", f)
		if r.status != 422 {
			t.Fatalf("status = %d, want 422", r.status)
		}
		html := string(r.body)
		for _, want := range []string{
			`id="commentd-email" name="email"`, `aria-invalid="true" aria-describedby="commentd-email-error"`,
			`id="commentd-email-error">Please enter a valid email address`,
			`value="Ann &lt;b&gt;"`, `>Kept text</textarea>`, `href="https://blog.example/2026/11/towpath"`,
		} {
			if !strings.Contains(html, want) {
				t.Errorf("form page lacks %q", want)
			}
		}
		if strings.Contains(html, `commentd-name-error`) {
			t.Error("the valid name field is marked as an error")
		}
	})
	t.Run("rate limited form gets a page", func(t *testing.T) {
		s := newTestServer(t, serverOpts{burst: 1})
		first := url.Values{}
		for k, v := range form {
			first[k] = v
		}
		first.Set("body", "An earlier comment.") // not a duplicate of the next
		s.postForm(t, "blog", first)
		r := s.postForm(t, "blog", form)
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("status = %d, type %q; want 429 HTML", r.status, r.header.Get("Content-Type"))
		}
		if !strings.Contains(string(r.body), "too quickly") {
			t.Errorf("429 page does not say why: %s", r.body)
		}
		if !strings.Contains(string(r.body), ">From a form.</textarea>") || !strings.Contains(string(r.body), `value="ann@example.org"`) {
			t.Errorf("429 page lost what the reader typed: %s", r.body)
		}
		if r.header.Get("Retry-After") == "" {
			t.Error("429 page without Retry-After")
		}
	})
}

func TestCORS(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	tests := []struct {
		name, method, path, origin, want string
	}{
		{"own origin read", "GET", "/api/v1/sites/blog/comments?page=/a", "https://blog.example", "https://blog.example"},
		{"own origin preflight", "OPTIONS", "/api/v1/sites/blog/comments", "https://blog.example", "https://blog.example"},
		{"other site's origin", "GET", "/api/v1/sites/blog/comments?page=/a", "https://other.example", ""},
		{"stranger", "OPTIONS", "/api/v1/sites/blog/comments", "https://evil.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.method, tt.path, "", nil, map[string]string{"Origin": tt.origin, "Access-Control-Request-Method": "POST"})
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tt.want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSecurityHeadersAndHealth(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	r := s.do(t, "GET", "/healthz", "", nil, nil)
	if r.status != 200 || r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Content-Security-Policy") == "" {
		t.Errorf("healthz: status %d, headers %v", r.status, r.header)
	}
	if r := s.do(t, "GET", "/readyz", "", nil, nil); r.status != 200 {
		t.Errorf("readyz without checks: status %d", r.status)
	}
	if r := s.do(t, "GET", "/nowhere", "", nil, nil); r.status != 404 {
		t.Errorf("unknown route: status %d", r.status)
	}
}
