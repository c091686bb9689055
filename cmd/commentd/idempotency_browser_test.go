package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWidgetRetryAfterLostAnswer: the reader's comment reaches commentd and
// is stored, but the answer is lost on the way back (a proxy answers 502
// instead). Sent again unchanged, it goes with the same Idempotency-Key,
// is answered as the first time and shown as awaiting moderation, and is
// stored once. The next comment gets a new key.
func TestWidgetRetryAfterLostAnswer(t *testing.T) {
	env := startWidgetEnv(t)
	target, err := url.Parse(env.origin)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		keys []string // of every comment posted through the proxy
	)
	errLost := errors.New("answer lost on purpose")
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/comments") {
			return nil
		}
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		first := len(keys) == 1
		mu.Unlock()
		if first && resp.StatusCode == http.StatusCreated {
			return errLost
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		w.WriteHeader(http.StatusBadGateway)
	}
	// The proxy serves a blog article too, so that the page and the API it
	// talks to share the proxy's origin (the server's own, to commentd,
	// since the proxy passes the Host header on).
	var self string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/posts/") {
			blogPages(self).ServeHTTP(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	self = proxy.URL

	ctx := browser(t)
	problems := watchPage(ctx)
	do(t, ctx, "open the article", chromedp.Navigate(proxy.URL+"/posts/fetched/"), enhanced())
	do(t, ctx, "post a comment whose answer is lost",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Posted over a bad line."),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Flo"),
		chromedp.SendKeys(chromedp.ID("commentd-email"), "flo@example.org"),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.querySelector('.commentd-status.commentd-is-error') !== null`),
	)
	if got := text(t, ctx, ".commentd-status"); !strings.Contains(got, "502") {
		t.Errorf("after the lost answer the live region says %q", got)
	}
	// The button is marked busy while a submission is on its way.
	do(t, ctx, "send it again",
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#commentd-respond button[aria-disabled]') === null`),
	)
	if got := text(t, ctx, ".commentd-status"); got != "Your comment is awaiting moderation." {
		t.Fatalf("after the retry the live region says %q", got)
	}
	do(t, ctx, "post another comment",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "And a second thought."),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('.commentd-is-pending').length === 2`),
	)

	mu.Lock()
	got := append([]string(nil), keys...)
	mu.Unlock()
	hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
	switch {
	case len(got) != 3:
		t.Fatalf("%d comments posted through the proxy, want 3 (keys %q)", len(got), got)
	case !hex.MatchString(got[0]):
		t.Errorf("key %q, want 32 hex digits", got[0])
	case got[1] != got[0]:
		t.Errorf("the retry went with key %q, the first attempt with %q", got[1], got[0])
	case got[2] == got[1] || !hex.MatchString(got[2]):
		t.Errorf("the next comment went with key %q after %q, want a new one", got[2], got[1])
	}

	r := env.in.call(t, "GET", "/api/v1/moderation/comments?site=demo&status=pending", nil, env.admin())
	if r.status != http.StatusOK {
		t.Fatalf("queue: %d %s", r.status, r.body)
	}
	var queue struct {
		Comments []struct {
			Body string `json:"body"`
		} `json:"comments"`
	}
	r.decode(t, &queue)
	n := 0
	for _, c := range queue.Comments {
		if c.Body == "Posted over a bad line." {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the comment whose answer was lost is stored %d times, want once", n)
	}
	expectProblems(t, problems, "status of 502")
}
