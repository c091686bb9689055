package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
)

func (s *testServer) modJSON(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, method, "/api/v1/moderation"+path, "application/json", bytes.NewReader(b), map[string]string{"Authorization": "Bearer " + token})
}

func (s *testServer) detail(t *testing.T, id string) commentResponse {
	t.Helper()
	var got commentResponse
	r := s.mod(t, "GET", "/comments/"+id, testAdminToken)
	if r.status != 200 {
		t.Fatalf("detail %s: %d %s", id, r.status, r.body)
	}
	r.json(t, &got)
	return got
}

func TestActionsDeleteRestoreUndo(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	id := s.submitOK(t, "blog", valid())
	steps := []struct {
		action     string
		wantStatus int
		want       string
	}{
		{"approve", 200, "approved"},
		{"delete", 200, "deleted"},
		{"delete", 200, "deleted"},
		{"restore", 200, "approved"}, // back to where it was before deletion
		{"spam", 200, "spam"},
		{"undo", 200, "approved"}, // undoes the spam
		{"undo", 422, ""},         // an undo is not undone
		{"frobnicate", 404, ""},
	}
	for i, st := range steps {
		r := s.mod(t, "POST", "/comments/"+id+"/"+st.action, testAdminToken)
		if r.status != st.wantStatus {
			t.Fatalf("step %d %s: status %d, want %d; %s", i, st.action, r.status, st.wantStatus, r.body)
		}
		if st.want == "" {
			continue
		}
		var got actionResponse
		r.json(t, &got)
		if got.Comment.Status != st.want {
			t.Fatalf("step %d %s: status %q, want %q", i, st.action, got.Comment.Status, st.want)
		}
	}
	h := s.detail(t, id).History
	var actions []string
	for _, e := range h {
		actions = append(actions, e.Action+":"+e.FromStatus+">"+e.ToStatus)
	}
	want := "submit:>pending approve:pending>approved delete:approved>deleted restore:deleted>approved spam:approved>spam undo:spam>approved"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("history = %s\nwant      %s", got, want)
	}
}

func TestEditKeepsOriginal(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	id := s.submitOK(t, "blog", with(valid(), "body", "Orignal *text*", "website", "https://ann.example"))
	r := s.modJSON(t, "PATCH", "/comments/"+id, testAdminToken, map[string]string{"name": "Ann R.", "website": "", "body": "Original **text**"})
	if r.status != 200 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	d := s.detail(t, id)
	if d.Comment.Body != "Original **text**" || !strings.Contains(d.Comment.BodyHTML, "<strong>text</strong>") || d.Comment.Author.Name != "Ann R." || d.Comment.Author.Website != "" {
		t.Errorf("after edit: %+v", d.Comment.modComment)
	}
	if len(d.Revisions) != 1 || d.Revisions[0].Body != "Orignal *text*" || d.Revisions[0].AuthorWebsite != "https://ann.example" || d.Revisions[0].EditedBy != "admin" {
		t.Errorf("revisions = %+v, want the original kept", d.Revisions)
	}
	if last := d.History[len(d.History)-1]; last.Action != "edit" {
		t.Errorf("last event = %+v, want the edit", last)
	}
	bad := s.modJSON(t, "PATCH", "/comments/"+id, testAdminToken, map[string]string{"name": "", "website": "javascript:x", "body": "ok"})
	if bad.status != 422 || !strings.Contains(string(bad.body), `"website"`) || !strings.Contains(string(bad.body), `"name"`) {
		t.Errorf("bad edit: %d %s", bad.status, bad.body)
	}
}

func TestBulk(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	a := s.submitOK(t, "blog", valid())
	b := s.submitOK(t, "blog", valid())
	other := s.submitOK(t, "other", valid())
	moderator := s.userToken(t, "mod@example.org", map[string]comment.Role{"blog": comment.RoleModerator})
	r := s.modJSON(t, "POST", "/comments/bulk", moderator, map[string]any{"ids": []string{a, b, a, other, "0192f1c3-0000-7000-8000-000000000000"}, "action": "approve"})
	if r.status != 200 {
		t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	var got bulkResponse
	r.json(t, &got)
	summary := []string{}
	for _, res := range got.Results {
		summary = append(summary, fmt.Sprintf("%v/%d/%s", res.OK, res.Code, res.Status))
	}
	if want := "true/0/approved true/0/approved false/403/ false/404/"; strings.Join(summary, " ") != want {
		t.Errorf("bulk results = %v, want %s", summary, want)
	}
	for _, body := range []map[string]any{{"ids": []string{}, "action": "approve"}, {"ids": []string{a}, "action": "explode"}} {
		if r := s.modJSON(t, "POST", "/comments/bulk", moderator, body); r.status != 422 {
			t.Errorf("bulk %v: status %d, want 422", body, r.status)
		}
	}
}

func TestTrustAndBlockLists(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	good := s.submitOK(t, "blog", with(valid(), "email", "Friend@Example.org"))
	bad := s.submitOK(t, "blog", with(valid(), "email", "spammer@example.net"))
	s.mod(t, "POST", "/comments/"+good+"/approve-and-trust", testAdminToken)
	if r := s.mod(t, "POST", "/comments/"+bad+"/spam-and-block", testAdminToken); r.status != 200 {
		t.Fatalf("spam-and-block: %d %s", r.status, r.body)
	}
	var lists map[string][]listEntryJSON
	s.mod(t, "GET", "/sites/blog/lists", testAdminToken).json(t, &lists)
	got := fmt.Sprint(values(lists[comment.ListTrustedEmails]), values(lists[comment.ListBlockedEmails]), values(lists[comment.ListBlockedIPs]))
	if got != "[friend@example.org] [spammer@example.net] [127.0.0.1]" {
		t.Errorf("lists = %s", got)
	}
	if s.detail(t, good).Comment.Status != "approved" || s.detail(t, bad).Comment.Status != "spam" {
		t.Error("statuses not changed by the combined actions")
	}
}

func values(list []listEntryJSON) []string {
	out := []string{}
	for _, e := range list {
		out = append(out, e.Value)
	}
	return out
}

func TestQueueFiltersAndContext(t *testing.T) {
	s := newTestServer(t, serverOpts{trusted: mustPrefixes(t, "127.0.0.1/32")})
	post := func(fields map[string]any, ip string) string {
		b, _ := json.Marshal(fields)
		r := s.do(t, "POST", "/api/v1/sites/blog/comments", "application/json", bytes.NewReader(b), map[string]string{"X-Forwarded-For": ip})
		var got submitted
		r.json(t, &got)
		return got.Comment.ID
	}
	parent := post(with(valid(), "email", "ann@example.org", "body", "Towpath gravel is firm"), "192.0.2.1")
	s.approve(t, parent)
	spam := post(with(valid(), "email", "ANN@example.org", "body", "buy cheap watches"), "192.0.2.1")
	s.mod(t, "POST", "/comments/"+spam+"/spam", testAdminToken)
	reply := post(with(valid(), "email", "bo@example.org", "name", "Bo Walker", "parent_id", parent, "body", "The gravel near the lock is loose"), "198.51.100.2")
	post(with(valid(), "email", "cy@example.org", "body", "Unrelated remark"), "198.51.100.3")

	tests := []struct {
		name, query string
		want        int
	}{
		{"all pending", "", 2},
		{"by email any case", "email=BO@example.org", 1},
		{"by ip", "ip=198.51.100.3", 1},
		{"by words", "q=gravel+lock", 1},
		{"by author name", "q=walker", 1},
		{"words in another status", "status=spam&q=watches", 1},
		{"no match", "q=zeppelin", 0},
		{"hostile query", "q=" + url.QueryEscape(`"gravel" OR 1=1; -- NEAR(*) )(`), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.mod(t, "GET", "/comments?site=blog&"+tt.query, testAdminToken)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var page queueResponse
			r.json(t, &page)
			if len(page.Comments) != tt.want {
				t.Errorf("%d comments, want %d", len(page.Comments), tt.want)
			}
		})
	}
	if r := s.mod(t, "GET", "/comments?ip=not-an-ip", testAdminToken); r.status != 422 {
		t.Errorf("bad ip filter: status %d", r.status)
	}
	var page queueResponse
	s.mod(t, "GET", "/comments?site=blog&email=bo@example.org", testAdminToken).json(t, &page)
	it := page.Comments[0]
	if it.ID != reply || it.Parent == nil || it.Parent.ID != parent || it.Parent.Author != "Ann Reader" || !strings.Contains(it.Parent.BodyHTML, "Towpath") {
		t.Errorf("reply's parent = %+v", it.Parent)
	}
	if it.PageURL != "" && !strings.HasPrefix(it.PageURL, "https://blog.example") {
		t.Errorf("page url = %q", it.PageURL)
	}
	var annPage queueResponse
	s.mod(t, "GET", "/comments?site=blog&status=approved", testAdminToken).json(t, &annPage)
	if h := annPage.Comments[0].History; h["approved"] != 1 || h["spam"] != 1 {
		t.Errorf("author history of ann = %v, want 1 approved and 1 spam", h)
	}
}

func TestTokensAndMembersAPI(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	owner := s.userToken(t, "owner@example.org", map[string]comment.Role{"blog": comment.RoleOwner})
	mod := s.userToken(t, "mod@example.org", map[string]comment.Role{"blog": comment.RoleModerator})
	api := func(method, path, token string, body any) response {
		b, _ := json.Marshal(body)
		return s.do(t, method, path, "application/json", bytes.NewReader(b), map[string]string{"Authorization": "Bearer " + token})
	}
	// Tokens are made and revoked from a signed-in session (the UI) or the
	// command line, never by another token.
	if r := api("POST", "/api/v1/tokens", mod, map[string]string{"name": "laptop"}); r.status != http.StatusForbidden {
		t.Errorf("token creating a token: %d", r.status)
	}
	u, err := s.store.UserByEmail(context.Background(), "mod@example.org")
	if err != nil {
		t.Fatal(err)
	}
	session := comment.Principal{UserID: u.ID, Name: u.Email}
	value, tok, err := s.accounts.CreateToken(context.Background(), session, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if r := api("GET", "/api/v1/moderation/comments?site=blog", value, nil); r.status != 200 {
		t.Errorf("new token does not work: %d", r.status)
	}
	if r := api("GET", "/api/v1/tokens", mod, nil); !strings.Contains(string(r.body), "laptop") || strings.Contains(string(r.body), value) {
		t.Errorf("token list: %s", r.body)
	}
	if r := api("DELETE", "/api/v1/tokens/"+tok.ID, value, nil); r.status != http.StatusForbidden {
		t.Errorf("a token revoking itself: status %d, want 403", r.status)
	}
	if err := s.accounts.RevokeToken(context.Background(), session, tok.ID); err != nil {
		t.Fatal(err)
	}
	if r := api("GET", "/api/v1/moderation/comments?site=blog", value, nil); r.status != 401 {
		t.Errorf("revoked token: status %d, want 401", r.status)
	}
	if _, err := s.accounts.CreateUser(context.Background(), "new@example.org", "", false); err != nil {
		t.Fatal(err)
	}
	if r := api("PUT", "/api/v1/moderation/sites/blog/members", mod, map[string]string{"email": "new@example.org", "role": "moderator"}); r.status != 403 {
		t.Errorf("moderator grants: %d, want 403", r.status)
	}
	if r := api("PUT", "/api/v1/moderation/sites/blog/members", owner, map[string]string{"email": "new@example.org", "role": "moderator"}); r.status != 204 {
		t.Errorf("owner grants: %d %s", r.status, r.body)
	}
	if r := api("PUT", "/api/v1/moderation/sites/other/members", owner, map[string]string{"email": "new@example.org", "role": "moderator"}); r.status != 403 {
		t.Errorf("owner grants on another site: %d, want 403", r.status)
	}
	r := api("GET", "/api/v1/moderation/sites/blog/members", owner, nil)
	for _, want := range []string{"new@example.org", "mod@example.org", "owner@example.org"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("members lack %s: %s", want, r.body)
		}
	}
}

func TestEventStream(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	mod := s.userToken(t, "mod@example.org", map[string]comment.Role{"blog": comment.RoleModerator})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/v1/moderation/events", nil)
	req.Header.Set("Authorization", "Bearer "+mod)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan()                    // "retry: ..." once the stream is open
	s.submitOK(t, "other", valid()) // another site: not for this moderator
	id := s.submitOK(t, "blog", valid())
	var got []string
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "data: ") {
			got = append(got, l)
			break
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], id) || !strings.Contains(got[0], `"type":"comment.held"`) || !strings.Contains(got[0], `"site":"blog"`) {
		t.Fatalf("first event = %v, want the held comment %s of blog", got, id)
	}
	if strings.Contains(got[0], "@") {
		t.Errorf("event carries an email: %s", got[0])
	}
}

func TestTokenCannotManageTokens(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	tok := s.userToken(t, "mod@example.org", map[string]comment.Role{"blog": comment.RoleModerator})
	b, _ := json.Marshal(map[string]string{"name": "child"})
	r := s.do(t, "POST", "/api/v1/tokens", "application/json", bytes.NewReader(b), map[string]string{"Authorization": "Bearer " + tok})
	if r.status != http.StatusForbidden {
		t.Errorf("a token creating a token: status %d, want 403", r.status)
	}
	if r := s.do(t, "GET", "/api/v1/tokens", "", nil, map[string]string{"Authorization": "Bearer " + tok}); r.status != 200 {
		t.Errorf("a token listing tokens: status %d", r.status)
	}
}

func TestStreamEndsWhenRightsGo(t *testing.T) {
	s := newTestServer(t, serverOpts{heartbeat: 100 * time.Millisecond})
	tok := s.userToken(t, "mod@example.org", map[string]comment.Role{"blog": comment.RoleModerator})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/v1/moderation/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() {
		t.Fatal("stream did not open")
	}
	u, err := s.store.UserByEmail(ctx, "mod@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.accounts.Revoke(ctx, comment.Principal{Admin: true}, u.ID, "blog"); err != nil {
		t.Fatal(err)
	}
	// The token still authenticates but may moderate nothing: the stream
	// keeps running without events for blog. Revoke the token itself and
	// the stream must end.
	list, _ := s.accounts.Tokens(ctx, comment.Principal{UserID: u.ID})
	if err := s.accounts.RevokeToken(ctx, comment.Principal{UserID: u.ID}, list[0].ID); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
	}
	if ctx.Err() != nil {
		t.Fatal("the stream of a revoked token did not end")
	}
}

func TestChangeAnnouncedOnce(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	id := s.submitOK(t, "blog", valid())
	feed, stop := s.bus.Subscribe()
	defer stop()
	done := make(chan struct{})
	for range 10 {
		go func() {
			defer func() { done <- struct{}{} }()
			req, _ := http.NewRequest("POST", s.URL+"/api/v1/moderation/comments/"+id+"/approve", nil)
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for range 10 {
		<-done
	}
	// A marker event after the approvals: everything before it has arrived.
	_ = s.bus.Publish(context.Background(), eventsMarker())
	changed := 0
	for e := range feed {
		if e.Type == "marker" {
			break
		}
		if e.Type == "comment.changed" && e.CommentID == id {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d change events for 10 concurrent approvals, want 1", changed)
	}
	if h := s.detail(t, id).History; len(h) != 2 {
		t.Errorf("history has %d events, want submit and one approve", len(h))
	}
}

func TestUndoTakesBackListEntries(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	id := s.submitOK(t, "blog", with(valid(), "email", "maybe@example.net"))
	s.mod(t, "POST", "/comments/"+id+"/spam-and-block", testAdminToken)
	if r := s.mod(t, "POST", "/comments/"+id+"/undo", testAdminToken); r.status != 200 {
		t.Fatalf("undo: %d %s", r.status, r.body)
	}
	var lists map[string][]listEntryJSON
	s.mod(t, "GET", "/sites/blog/lists", testAdminToken).json(t, &lists)
	if n := len(lists[comment.ListBlockedEmails]) + len(lists[comment.ListBlockedIPs]); n != 0 {
		t.Errorf("after undo the block lists hold %d entries: %v", n, lists)
	}
	if st := s.detail(t, id).Comment.Status; st != "pending" {
		t.Errorf("status after undo = %q", st)
	}
}

func TestPatchKeepsFieldsLeftOut(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	id := s.submitOK(t, "blog", with(valid(), "website", "https://ann.example"))
	if r := s.modJSON(t, "PATCH", "/comments/"+id, testAdminToken, map[string]string{"body": "Shorter."}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	d := s.detail(t, id)
	if d.Comment.Author.Website != "https://ann.example" || d.Comment.Author.Name != "Ann Reader" || d.Comment.Body != "Shorter." {
		t.Errorf("after patching the body: %+v", d.Comment.modComment)
	}
	s.modJSON(t, "PATCH", "/comments/"+id, testAdminToken, map[string]string{"body": "Shorter."})
	if d := s.detail(t, id); len(d.Revisions) != 1 {
		t.Errorf("an edit that changes nothing made a revision: %d revisions", len(d.Revisions))
	}
}

func TestIPFilterAcceptsMappedSpelling(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	s.submitOK(t, "blog", valid())
	var page queueResponse
	s.mod(t, "GET", "/comments?site=blog&ip="+url.QueryEscape("::ffff:127.0.0.1"), testAdminToken).json(t, &page)
	if len(page.Comments) != 1 {
		t.Errorf("filter by ::ffff:127.0.0.1 found %d comments, want 1", len(page.Comments))
	}
}

func eventsMarker() events.Event { return events.Event{Type: "marker", SiteID: "blog"} }
