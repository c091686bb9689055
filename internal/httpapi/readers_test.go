package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/notify"
)

var testReaderSecret = []byte("reader-secret-0123456789abcdef01")

// blogOffers offers reply notifications on site "blog" only.
func blogOffers(siteID string) bool { return siteID == "blog" }

// storedByEmail returns the one comment of the address, whatever its status.
func (s *testServer) storedByEmail(t *testing.T, email string) comment.Comment {
	t.Helper()
	var found []comment.Comment
	for _, st := range []comment.Status{comment.StatusPending, comment.StatusApproved, comment.StatusSpam} {
		cs, err := s.store.List(context.Background(), comment.ListFilter{Status: st, AuthorEmail: email, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, cs...)
	}
	if len(found) != 1 {
		t.Fatalf("%d comments by %s, want 1", len(found), email)
	}
	return found[0]
}

func TestSubmitNotifyReplies(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	cases := []struct {
		name string
		site string
		form bool
		set  any // JSON value or form value; nil: not sent
		want bool
	}{
		{"json true", "blog", false, true, true},
		{"json false", "blog", false, false, false},
		{"json absent", "blog", false, nil, false},
		{"json true, site does not offer it", "other", false, true, false},
		{"form ticked", "blog", true, "1", true},
		{"form ticked as on", "blog", true, "on", true},
		{"form ticked as TRUE", "blog", true, "TRUE", true},
		{"form unticked", "blog", true, nil, false},
		{"form unticked as off", "blog", true, "off", false},
		{"form unticked as 0", "blog", true, "0", false},
		{"form unticked as empty", "blog", true, "", false},
		{"form ticked, site does not offer it", "other", true, "1", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			email := "notify-" + string(rune('a'+i)) + "@example.org"
			v := with(valid(), "email", email)
			if tc.set != nil {
				v["notify_replies"] = tc.set
			}
			var r response
			if tc.form {
				f := url.Values{}
				for k, val := range v {
					f.Set(k, val.(string))
				}
				r = s.postForm(t, tc.site, f)
			} else {
				r = s.postJSON(t, tc.site, v)
			}
			if r.status != http.StatusCreated {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			if got := s.storedByEmail(t, email).NotifyReplies; got != tc.want {
				t.Errorf("stored NotifyReplies = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("json of the wrong type", func(t *testing.T) {
		r := s.postJSON(t, "blog", with(valid(), "notify_replies", "yes"))
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422; body %s", r.status, r.body)
		}
		var body struct{ Fields map[string]string }
		r.json(t, &body)
		if body.Fields["notify_replies"] != "This must be true or false." {
			t.Errorf("fields = %v", body.Fields)
		}
	})
	// A form value that is neither ticked nor unticked is a field error,
	// reported with the other fields' errors, not read as ticked.
	for _, val := range []string{"yes", "2", "no", "checked"} {
		t.Run("form value "+val, func(t *testing.T) {
			email := "notify-form-" + val + "@example.org"
			f := url.Values{}
			for k, v := range with(valid(), "email", email, "notify_replies", val, "name", "") {
				f.Set(k, v.(string))
			}
			r := s.postForm(t, "blog", f)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422; body %s", r.status, r.body)
			}
			// The form comes back with both errors marked.
			for _, want := range []string{"This must be true or false.", "Please enter your name."} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("form page lacks %q:\n%s", want, r.body)
				}
			}
		})
	}
}

// notifyBox matches the "notify me of replies" checkbox, capturing
// whether it is ticked.
var notifyBox = regexp.MustCompile(`<input id="commentd-notify_replies" name="notify_replies" type="checkbox" value="1"( checked)?>`)

func TestFormShowsNotifyBox(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	for _, tc := range []struct {
		site string
		want bool
	}{{"blog", true}, {"other", false}} {
		r := s.do(t, http.MethodGet, "/sites/"+tc.site+"/thread?page=/a", "", nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s thread: status %d", tc.site, r.status)
		}
		m := notifyBox.FindSubmatch(r.body)
		if (m != nil) != tc.want {
			t.Errorf("%s: notify box shown = %v, want %v", tc.site, m != nil, tc.want)
		}
		if m != nil && len(m[1]) > 0 {
			t.Errorf("%s: the notify box is ticked by default", tc.site)
		}
		if tc.want && !strings.Contains(string(r.body), "Notify me of replies by email") {
			t.Errorf("%s: no label", tc.site)
		}
	}
	// The form shown again with errors keeps the reader's choice.
	f := url.Values{"page": {"/a"}, "body": {"Hello."}, "email": {"x@example.org"}, "notify_replies": {"1"}}
	r := s.postForm(t, "blog", f)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("form with errors: status %d", r.status)
	}
	if m := notifyBox.FindSubmatch(r.body); m == nil || len(m[1]) == 0 {
		t.Errorf("form with errors lost the ticked box:\n%s", r.body)
	}
	r = s.postForm(t, "other", f)
	if notifyBox.Match(r.body) {
		t.Errorf("form with errors of a site that does not offer it shows the box")
	}
}

func TestNoNotifyBoxWithoutOffer(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	r := s.do(t, http.MethodGet, "/sites/blog/thread?page=/a", "", nil, nil)
	if notifyBox.Match(r.body) {
		t.Errorf("notify box shown with no OffersReplies")
	}
	v := with(valid(), "email", "nooffer@example.org", "notify_replies", true)
	if r := s.postJSON(t, "blog", v); r.status != http.StatusCreated {
		t.Fatalf("status %d", r.status)
	}
	if s.storedByEmail(t, "nooffer@example.org").NotifyReplies {
		t.Errorf("notify_replies stored where no site offers it")
	}
}

func (s *testServer) readerState(t *testing.T, site, email string) comment.ReaderState {
	t.Helper()
	st, err := s.store.ReaderState(context.Background(), site, email)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// askConfirm submits a comment by email on the blog asking for reply
// notifications and records the confirmation request the notification
// worker would: the address is then unconfirmed.
func (s *testServer) askConfirm(t *testing.T, email string) {
	t.Helper()
	ctx := context.Background()
	if r := s.postJSON(t, "blog", with(valid(), "email", email, "notify_replies", true)); r.status != http.StatusCreated {
		t.Fatalf("submit: status %d, body %s", r.status, r.body)
	}
	c := s.storedByEmail(t, email)
	now := time.Now().UTC().Truncate(time.Microsecond)
	jobs, err := s.store.ClaimNotifyJobs(ctx, now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []comment.JobOutcome
	for _, j := range jobs {
		o := comment.JobOutcome{JobID: j.ID}
		if j.Kind == comment.NotifyConfirm && j.CommentID == c.ID {
			o.Confirm = &comment.ConfirmRequest{SiteID: "blog", EmailLower: strings.ToLower(email), CommentID: c.ID, At: now, NotSince: now.Add(-24 * time.Hour)}
		}
		outcomes = append(outcomes, o)
	}
	if _, err := s.store.FinishNotifyJobs(ctx, outcomes); err != nil {
		t.Fatal(err)
	}
	if got := s.readerState(t, "blog", email); got != comment.ReaderUnconfirmed {
		t.Fatalf("state after the confirmation request = %q, want unconfirmed", got)
	}
}

// readerFormRE matches the one form of a reader's page: it posts to the
// page's own URL (no action), nowhere else.
var readerFormRE = regexp.MustCompile(`<form method="post">`)

// checkReaderPage checks what every page of a reader's link must be.
func checkReaderPage(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	h := r.header
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=UTF-8",
		"Content-Security-Policy": strictCSP + "; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	body := strings.ToLower(string(r.body))
	if strings.Contains(body, "reader@example.org") || strings.Contains(body, "eader@") {
		t.Errorf("page shows the address:\n%s", r.body)
	}
	if strings.Contains(body, "<form") && len(readerFormRE.FindAllString(body, -1)) != strings.Count(body, "<form") {
		t.Errorf("a form posts elsewhere than the page's own URL:\n%s", r.body)
	}
}

func TestReaderConfirmLink(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	now := time.Now()
	tok := notify.SealReaderToken(testReaderSecret, notify.PurposeConfirm, "blog", "Reader@Example.org", now.Add(time.Hour))
	s.askConfirm(t, "Reader@Example.org")
	u := notify.ConfirmURL(s.URL, testReaderSecret, "blog", "Reader@Example.org", now)
	if !strings.HasPrefix(u, s.URL+"/notify/confirm?t=") {
		t.Fatalf("ConfirmURL = %q", u)
	}

	// Fetching the link (as a mail scanner would) changes nothing.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := s.do(t, method, "/notify/confirm?t="+url.QueryEscape(tok), "", nil, nil)
		checkReaderPage(t, r, http.StatusOK)
	}
	r := s.do(t, http.MethodGet, strings.TrimPrefix(u, s.URL), "", nil, nil)
	checkReaderPage(t, r, http.StatusOK)
	page := string(r.body)
	for _, want := range []string{"r***@example.org", "Blog", `<form method="post">`, `<button class="commentd-button" type="submit">Confirm</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("confirm page lacks %q:\n%s", want, page)
		}
	}
	if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderUnconfirmed {
		t.Fatalf("state after GET = %q, want unconfirmed", got)
	}

	// The button: the token in the form's field.
	form := url.Values{"t": {tok}}.Encode()
	r = s.do(t, http.MethodPost, "/notify/confirm", "application/x-www-form-urlencoded", strings.NewReader(form), nil)
	checkReaderPage(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "Reply notifications confirmed") {
		t.Errorf("confirmed page:\n%s", r.body)
	}
	if got := s.readerState(t, "blog", "READER@example.org"); got != comment.ReaderConfirmed {
		t.Fatalf("state after POST = %q, want confirmed", got)
	}
	// Again: the same, said to be done already.
	r = s.do(t, http.MethodPost, "/notify/confirm", "application/x-www-form-urlencoded", strings.NewReader(form), nil)
	checkReaderPage(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "already confirmed") {
		t.Errorf("second confirmation:\n%s", r.body)
	}
	// The page of a confirmed address has no button.
	r = s.do(t, http.MethodGet, "/notify/confirm?t="+url.QueryEscape(tok), "", nil, nil)
	checkReaderPage(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "<form") || !strings.Contains(string(r.body), "already confirmed") {
		t.Errorf("page of a confirmed address:\n%s", r.body)
	}
	if got := s.readerState(t, "other", "reader@example.org"); got != comment.ReaderUnknown {
		t.Errorf("another site's state = %q, want unknown", got)
	}
}

func TestReaderUnsubscribeLink(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	ctx := context.Background()
	s.askConfirm(t, "reader@example.org")
	if _, err := s.store.ConfirmReader(ctx, "blog", "reader@example.org", time.Now()); err != nil {
		t.Fatal(err)
	}
	u := notify.UnsubscribeURL(s.URL+"/", testReaderSecret, "blog", "reader@example.org")
	path := strings.TrimPrefix(u, s.URL)

	r := s.do(t, http.MethodGet, path, "", nil, nil)
	checkReaderPage(t, r, http.StatusOK)
	for _, want := range []string{"r***@example.org", `<form method="post">`, ">Unsubscribe</button>"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("unsubscribe page lacks %q:\n%s", want, r.body)
		}
	}
	if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderConfirmed {
		t.Fatalf("state after GET = %q, want confirmed", got)
	}

	// RFC 8058 one-click: POST to the link itself, no cookie, no CSRF
	// token, from no origin of ours.
	oneClick := func(contentType string, body []byte) response {
		return s.do(t, http.MethodPost, path, contentType, bytes.NewReader(body), map[string]string{"Origin": "null"})
	}
	r = oneClick("application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
	checkReaderPage(t, r, http.StatusOK)
	if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderUnsubscribed {
		t.Fatalf("state after one-click = %q, want unsubscribed", got)
	}
	// The page offers to send reply notifications again, with the same
	// token, to the same URL.
	for _, want := range []string{`<form method="post">`, `name="resubscribe" value="1"`, "Send me reply notifications again"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("unsubscribed page lacks %q:\n%s", want, r.body)
		}
	}
	r = oneClick("application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
	checkReaderPage(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "already unsubscribed") {
		t.Errorf("second one-click:\n%s", r.body)
	}

	// multipart/form-data, which RFC 8058 also allows, for an address the
	// site has no record of: it is recorded as unsubscribed.
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	if err := w.WriteField("List-Unsubscribe", "One-Click"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	other := notify.UnsubscribeURL("", testReaderSecret, "blog", "never@example.org")
	r = s.do(t, http.MethodPost, other, w.FormDataContentType(), &mp, nil)
	checkReaderPage(t, r, http.StatusOK)
	if got := s.readerState(t, "blog", "never@example.org"); got != comment.ReaderUnsubscribed {
		t.Errorf("state of an unknown address after one-click = %q, want unsubscribed", got)
	}

	// "Send me reply notifications again": the unsubscribe page's button.
	r = s.do(t, http.MethodGet, path, "", nil, nil)
	checkReaderPage(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `name="resubscribe" value="1"`) || !strings.Contains(string(r.body), "already unsubscribed") {
		t.Errorf("page of an unsubscribed address:\n%s", r.body)
	}
	r = s.do(t, http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader("resubscribe=1"), nil)
	checkReaderPage(t, r, http.StatusOK)
	if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderConfirmed {
		t.Errorf("state after resubscribing = %q, want confirmed", got)
	}
	if !strings.Contains(string(r.body), "Reply notifications confirmed") {
		t.Errorf("resubscribed page:\n%s", r.body)
	}
	// An unsubscribed address is confirmed by its confirm link too (the
	// reader holds the mailbox either way).
	if _, err := s.store.UnsubscribeReader(ctx, "blog", "reader@example.org", time.Now()); err != nil {
		t.Fatal(err)
	}
	tok := notify.SealReaderToken(testReaderSecret, notify.PurposeConfirm, "blog", "reader@example.org", time.Now().Add(time.Hour))
	r = s.do(t, http.MethodPost, "/notify/confirm?t="+url.QueryEscape(tok), "application/x-www-form-urlencoded", nil, nil)
	checkReaderPage(t, r, http.StatusOK)
	if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderConfirmed {
		t.Errorf("state after confirming again = %q, want confirmed", got)
	}
}

// TestReaderLinkUnreadableForm: a POST to a reader link whose form cannot
// be read whole (too large, malformed multipart) changes nothing and is
// refused, rather than acting on the part that was read: a resubscribe cut
// off by the body limit must not unsubscribe.
func TestReaderLinkUnreadableForm(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	ctx := context.Background()
	s.askConfirm(t, "reader@example.org")
	if _, err := s.store.UnsubscribeReader(ctx, "blog", "reader@example.org", time.Now()); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(notify.UnsubscribeURL(s.URL+"/", testReaderSecret, "blog", "reader@example.org"), s.URL)
	huge := "x=" + strings.Repeat("a", 2<<20) + "&resubscribe=1"
	tests := []struct {
		name, contentType string
		body              io.Reader
		status            int
	}{
		// Chunked (no Content-Length), so that only the body limit stops it.
		{"too large", "application/x-www-form-urlencoded", io.MultiReader(strings.NewReader(huge)), http.StatusRequestEntityTooLarge},
		{"multipart without boundary", "multipart/form-data", strings.NewReader("resubscribe=1"), http.StatusBadRequest},
		{"multipart cut short", "multipart/form-data; boundary=b", strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"resubscribe\"\r\n\r\n1"), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, http.MethodPost, path, tt.contentType, tt.body, nil)
			if r.status != tt.status {
				t.Errorf("status = %d, want %d:\n%.300s", r.status, tt.status, r.body)
			}
			if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderUnsubscribed {
				t.Errorf("state = %q, want it unchanged (unsubscribed)", got)
			}
		})
	}
}

// TestReaderConfirmLinkAfterErase: a confirm link of an address of which
// there is no record (its data was erased after the link was sent) is no
// longer valid: 400 with a page that says so, and nothing is stored. A
// resubscribe with an unsubscribe link of such an address likewise.
func TestReaderConfirmLinkAfterErase(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	ctx := context.Background()
	s.askConfirm(t, "reader@example.org")
	if _, err := s.store.ErasePersonalData(ctx, "reader@example.org", false, comment.AuditEntry{At: time.Now(), Actor: "test",
		Action: comment.AuditGDPRErase, Subject: "erase"}); err != nil {
		t.Fatal(err)
	}
	tok := notify.SealReaderToken(testReaderSecret, notify.PurposeConfirm, "blog", "reader@example.org", time.Now().Add(time.Hour))
	unsub := notify.UnsubscribeURL("", testReaderSecret, "blog", "reader@example.org")
	for _, r := range []response{
		s.do(t, http.MethodGet, "/notify/confirm?t="+url.QueryEscape(tok), "", nil, nil),
		s.do(t, http.MethodPost, "/notify/confirm?t="+url.QueryEscape(tok), "application/x-www-form-urlencoded", nil, nil),
		s.do(t, http.MethodPost, "/notify/confirm", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"t": {tok}}.Encode()), nil),
		s.do(t, http.MethodPost, unsub, "application/x-www-form-urlencoded", strings.NewReader("resubscribe=1"), nil),
	} {
		checkReaderPage(t, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "This link is no longer valid") || strings.Contains(string(r.body), "<form") {
			t.Errorf("page:\n%s", r.body)
		}
		if got := s.readerState(t, "blog", "reader@example.org"); got != comment.ReaderUnknown {
			t.Fatalf("state = %q, want unknown (nothing stored)", got)
		}
	}
}

func TestReaderBadLinks(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	now := time.Now()
	seal := func(secret []byte, purpose, site string, expires time.Time) string {
		return notify.SealReaderToken(secret, purpose, site, "reader@example.org", expires)
	}
	good := seal(testReaderSecret, notify.PurposeConfirm, "blog", now.Add(time.Hour))
	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 'A' ^ 'B'
	if tampered[len(tampered)/2] == good[len(good)/2] {
		t.Fatal("tampering changed nothing")
	}
	cases := []struct {
		name, path, token, want string
	}{
		{"tampered", "/notify/confirm", string(tampered), "not valid"},
		{"truncated", "/notify/confirm", good[:len(good)-5], "not valid"},
		{"missing", "/notify/confirm", "", "not valid"},
		{"garbage", "/notify/unsubscribe", "<script>alert(1)</script>", "not valid"},
		{"confirm token used to unsubscribe", "/notify/unsubscribe", good, "not valid"},
		{"unsubscribe token used to confirm", "/notify/confirm", seal(testReaderSecret, notify.PurposeUnsubscribe, "blog", time.Time{}), "not valid"},
		{"other secret", "/notify/unsubscribe", seal([]byte("another-secret-0123456789abcdef0"), notify.PurposeUnsubscribe, "blog", time.Time{}), "not valid"},
		{"site gone", "/notify/confirm", seal(testReaderSecret, notify.PurposeConfirm, "gone", now.Add(time.Hour)), "not valid"},
		{"expired", "/notify/confirm", seal(testReaderSecret, notify.PurposeConfirm, "blog", now.Add(-time.Minute)), "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := "?t=" + url.QueryEscape(tc.token)
			for _, r := range []response{
				s.do(t, http.MethodGet, tc.path+q, "", nil, nil),
				s.do(t, http.MethodPost, tc.path+q, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"), nil),
				s.do(t, http.MethodPost, tc.path, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"t": {tc.token}}.Encode()), nil),
			} {
				checkReaderPage(t, r, http.StatusBadRequest)
				if !strings.Contains(string(r.body), tc.want) {
					t.Errorf("page does not say %q:\n%s", tc.want, r.body)
				}
				if strings.Contains(string(r.body), "<script>") || strings.Contains(string(r.body), "<form") {
					t.Errorf("bad-link page has a form or the token's markup:\n%s", r.body)
				}
			}
			for _, site := range []string{"blog", "other", "gone"} {
				if got := s.readerState(t, site, "reader@example.org"); got != comment.ReaderUnknown {
					t.Errorf("state on %s = %q after a bad link, want unknown", site, got)
				}
			}
		})
	}
}

// TestNotifyRepliesIdempotency: a retry with the same Idempotency-Key that
// changes notify_replies is another submission, refused as such.
func TestNotifyRepliesIdempotency(t *testing.T) {
	s := newTestServer(t, serverOpts{offers: blogOffers})
	v := with(valid(), "email", "idem@example.org", "notify_replies", true)
	post := func(v map[string]any) response {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/json", bytes.NewReader(b),
			map[string]string{"Idempotency-Key": "notify-key-0123456789"})
	}
	if r := post(v); r.status != http.StatusCreated {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	if r := post(v); r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("same retry: %d %s", r.status, r.body)
	}
	r := post(with(v, "notify_replies", false))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "idempotency_key") {
		t.Fatalf("retry with the box unticked: %d %s", r.status, r.body)
	}
}
