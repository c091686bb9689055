package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func (s *testServer) threadWith(t *testing.T, page, ifNoneMatch string) response {
	t.Helper()
	h := map[string]string{}
	if ifNoneMatch != "" {
		h["If-None-Match"] = ifNoneMatch
	}
	return s.do(t, http.MethodGet, "/api/v1/sites/blog/comments?page="+page, "", nil, h)
}

// Thread answers carry a strong ETag; a matching If-None-Match gets 304,
// and every change to the page (approve, edit, delete) gives a new tag and
// the new content at once, although the thread is served from the cache.
func TestThreadETagFollowsChanges(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	first := s.submitOK(t, "blog", with(valid(), "page", "/etag"))
	s.approve(t, first)

	r := s.threadWith(t, "/etag", "")
	tag := r.header.Get("ETag")
	if r.status != http.StatusOK || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || len(tag) < 10 {
		t.Fatalf("first read: status %d, ETag %q; want 200 and a strong tag", r.status, tag)
	}
	if got := r.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", got)
	}
	for _, h := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
		r := s.threadWith(t, "/etag", h)
		if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != tag {
			t.Errorf("If-None-Match %s: status %d, %d body bytes, ETag %q; want 304, none, %q", h, r.status, len(r.body), r.header.Get("ETag"), tag)
		}
	}
	if r := s.threadWith(t, "/etag", `"other"`); r.status != http.StatusOK {
		t.Errorf("If-None-Match with another tag: status %d, want 200", r.status)
	}
	// All but the first of those reads were answered from memory.
	if hits := testutil.ToFloat64(s.cacheHits); hits < 5 {
		t.Errorf("cache hits = %v after six reads of an unchanged page, want at least 5", hits)
	}

	steps := []struct {
		name   string
		change func()
		want   func(threadJSON) bool
	}{
		{"approve a second comment", func() {
			s.approve(t, s.submitOK(t, "blog", with(valid(), "page", "/etag")))
		}, func(th threadJSON) bool { return th.Total == 2 }},
		{"edit the first", func() {
			r := s.do(t, http.MethodPatch, "/api/v1/moderation/comments/"+first, "application/json",
				strings.NewReader(`{"body":"Edited by a moderator."}`), map[string]string{"Authorization": "Bearer " + testAdminToken})
			if r.status != http.StatusOK {
				t.Fatalf("edit: status %d, %s", r.status, r.body)
			}
		}, func(th threadJSON) bool { return strings.Contains(th.Comments[0].BodyHTML, "Edited by a moderator.") }},
		{"delete the first", func() {
			if r := s.mod(t, http.MethodPost, "/comments/"+first+"/delete", testAdminToken); r.status != http.StatusOK {
				t.Fatalf("delete: status %d, %s", r.status, r.body)
			}
		}, func(th threadJSON) bool { return th.Total == 1 && th.Comments[0].ID != first }},
	}
	for _, step := range steps {
		step.change()
		r := s.threadWith(t, "/etag", tag)
		if r.status != http.StatusOK {
			t.Fatalf("after %s: status %d with the old tag, want 200", step.name, r.status)
		}
		var th threadJSON
		r.json(t, &th)
		if !step.want(th) {
			t.Errorf("after %s: thread %s", step.name, r.body)
		}
		if next := r.header.Get("ETag"); next == tag || next == "" {
			t.Errorf("after %s: ETag %q, want a new one", step.name, next)
		} else {
			tag = next
		}
	}
}

// Counts come from the cache too, and follow approvals at once.
func TestCountsFollowChanges(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	count := func() int {
		t.Helper()
		r := s.do(t, http.MethodGet, "/api/v1/sites/blog/counts?page=/counted&page=/other", "", nil, nil)
		var got countsResponse
		r.json(t, &got)
		return got.Counts["/counted"]
	}
	for want := range 3 {
		if got := count(); got != want {
			t.Fatalf("count = %d, want %d", got, want)
		}
		s.thread(t, "blog", "/counted") // a complete entry, as well as the count
		s.approve(t, s.submitOK(t, "blog", with(valid(), "page", "/counted")))
	}
}

// The server-rendered section reads the same cached thread.
func TestSectionFollowsApproval(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	path := "/sites/blog/thread?page=/section"
	if r := s.do(t, http.MethodGet, path, "", nil, nil); r.status != http.StatusOK {
		t.Fatalf("section: status %d", r.status)
	}
	id := s.submitOK(t, "blog", with(valid(), "page", "/section", "body", "Visible after approval."))
	s.approve(t, id)
	r := s.do(t, http.MethodGet, path, "", nil, nil)
	if !strings.Contains(string(r.body), "Visible after approval.") {
		t.Errorf("section after approval lacks the comment: %s", r.body)
	}
}

func TestThreadCacheControl(t *testing.T) {
	for _, tt := range []struct {
		shared time.Duration
		want   string
	}{
		{0, "no-cache"},
		{5 * time.Second, "public, max-age=0, s-maxage=5"},
	} {
		if got := newThreads(nil, nil, tt.shared).control; got != tt.want {
			t.Errorf("shared max age %v: Cache-Control %q, want %q", tt.shared, got, tt.want)
		}
	}
}
