package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSubmitValidation(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantFields []string // fields that must carry an error
	}{
		{name: "valid", body: valid(), wantStatus: http.StatusCreated},
		{name: "all missing", body: map[string]any{}, wantStatus: 422, wantFields: []string{"page", "name", "email", "body"}},
		{name: "whitespace only is missing", body: with(valid(), "name", " \t\n ", "body", "   "), wantStatus: 422, wantFields: []string{"name", "body"}},
		{name: "name at 245 bytes", body: with(valid(), "name", strings.Repeat("a", 245)), wantStatus: http.StatusCreated},
		{name: "name of 245 emoji is 980 bytes", body: with(valid(), "name", strings.Repeat("😀", 245)), wantStatus: 422, wantFields: []string{"name"}},
		{name: "name with newline", body: with(valid(), "name", "Ann\nReader"), wantStatus: 422, wantFields: []string{"name"}},
		{name: "body at 65525 bytes", body: with(valid(), "body", strings.Repeat("a", 65525)), wantStatus: http.StatusCreated},
		{name: "body over 65525 bytes", body: with(valid(), "body", strings.Repeat("é", 32763)), wantStatus: 422, wantFields: []string{"body"}},
		{name: "body with NUL", body: with(valid(), "body", "a\x00b"), wantStatus: 422, wantFields: []string{"body"}},
		{name: "body with escape char", body: with(valid(), "body", "a\x1b[31mb"), wantStatus: 422, wantFields: []string{"body"}},
		{name: "email without domain dot", body: with(valid(), "email", "ann@localhost"), wantStatus: 422, wantFields: []string{"email"}},
		{name: "email local part 64", body: with(valid(), "email", strings.Repeat("a", 64)+"@example.org"), wantStatus: http.StatusCreated},
		{name: "email local part 65", body: with(valid(), "email", strings.Repeat("a", 65)+"@example.org"), wantStatus: 422, wantFields: []string{"email"}},
		{name: "email full-width domain", body: with(valid(), "email", "ann@example.ｏｒｇ"), wantStatus: 422, wantFields: []string{"email"}},
		{name: "email full-width at end", body: with(valid(), "email", "ann@example.org\uff0e"), wantStatus: 422, wantFields: []string{"email"}},
		{name: "email IDN domain", body: with(valid(), "email", "ann@bücher.example"), wantStatus: http.StatusCreated},
		{name: "email over 100 bytes", body: with(valid(), "email", "a@"+strings.Repeat("b", 60)+"."+strings.Repeat("c", 40)+".org"), wantStatus: 422, wantFields: []string{"email"}},
		{name: "website javascript", body: with(valid(), "website", "javascript:alert(1)"), wantStatus: 422, wantFields: []string{"website"}},
		{name: "website JavaScript mixed case", body: with(valid(), "website", "JaVaScRiPt://alert(1)"), wantStatus: 422, wantFields: []string{"website"}},
		{name: "website data", body: with(valid(), "website", "data:text/html,<script>alert(1)</script>"), wantStatus: 422, wantFields: []string{"website"}},
		{name: "website with user info", body: with(valid(), "website", "https://bank.example@evil.example/"), wantStatus: 422, wantFields: []string{"website"}},
		{name: "website without scheme", body: with(valid(), "website", "ann.example/blog"), wantStatus: http.StatusCreated},
		{name: "website over 200 bytes", body: with(valid(), "website", "https://example.org/"+strings.Repeat("a", 190)), wantStatus: 422, wantFields: []string{"website"}},
		{name: "page over 512 bytes", body: with(valid(), "page", "/"+strings.Repeat("p", 512)), wantStatus: 422, wantFields: []string{"page"}},
		{name: "page_url not http", body: with(valid(), "page_url", "ftp://blog.example/a"), wantStatus: 422, wantFields: []string{"page_url"}},
		{name: "name of wrong JSON type", body: with(valid(), "name", 42), wantStatus: 422, wantFields: []string{"name"}},
		{name: "unknown parent", body: with(valid(), "parent_id", "0192f1c3-0000-7000-8000-000000000000"), wantStatus: 422, wantFields: []string{"parent_id"}},
		{name: "malformed parent", body: with(valid(), "parent_id", "nope"), wantStatus: 422, wantFields: []string{"parent_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.postJSON(t, "blog", tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantStatus != 422 {
				return
			}
			var got errorBody
			r.json(t, &got)
			for _, f := range tt.wantFields {
				if got.Fields[f] == "" {
					t.Errorf("no error for field %q; got %v", f, got.Fields)
				}
			}
			if len(got.Fields) != len(tt.wantFields) {
				t.Errorf("fields with errors = %v, want exactly %v", got.Fields, tt.wantFields)
			}
			for f, msg := range got.Fields {
				if v, ok := tt.body[f].(string); ok && len(v) > 3 && strings.Contains(msg, v) {
					t.Errorf("message for %s repeats the submitted value: %q", f, msg)
				}
			}
		})
	}
}

func TestSubmitMalformed(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	tests := []struct {
		name        string
		contentType string
		body        []byte
		site        string
		wantStatus  int
	}{
		{name: "malformed JSON", contentType: "application/json", body: []byte(`{"name": "a",`), site: "blog", wantStatus: 400},
		{name: "JSON not an object", contentType: "application/json", body: []byte(`[1,2]`), site: "blog", wantStatus: 400},
		{name: "invalid UTF-8 in JSON", contentType: "application/json", body: []byte("{\"page\":\"/a\",\"name\":\"\xff\xfe\",\"email\":\"a@b.org\",\"body\":\"x\"}"), site: "blog", wantStatus: 400},
		{name: "plain text", contentType: "text/plain", body: []byte("hello"), site: "blog", wantStatus: 415},
		{name: "unknown site", contentType: "application/json", body: []byte(`{"page":"/a","name":"A","email":"a@b.org","body":"x"}`), site: "nosuch", wantStatus: 404},
		{name: "empty body", contentType: "application/json", body: nil, site: "blog", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, http.MethodPost, "/api/v1/sites/"+tt.site+"/comments", tt.contentType, bytes.NewReader(tt.body), nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			var got errorBody
			r.json(t, &got)
			if got.Error == "" {
				t.Errorf("no error message in %s", r.body)
			}
		})
	}
}

func TestSubmitFormInvalidUTF8(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	r := s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/x-www-form-urlencoded",
		strings.NewReader("page=%2Fa&name=%FF%FE&email=a%40b.org&body=hi"), nil)
	if r.status != 422 {
		t.Fatalf("status = %d, want 422; body %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), `id="commentd-name-error"`) {
		t.Errorf("form page does not show the error beside the name field:\n%s", r.body)
	}
}

func TestClientCannotSetPrivateFields(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	id := s.submitOK(t, "blog", with(valid(), "status", "approved", "id", "chosen-id", "ip", "1.2.3.4", "body_html", "<script>x</script>", "depth", 1))
	if id == "chosen-id" {
		t.Fatal("the client chose the comment id")
	}
	r := s.mod(t, http.MethodGet, "/comments/"+id, testAdminToken)
	var got commentResponse
	r.json(t, &got)
	if got.Comment.Status != "pending" {
		t.Errorf("status = %q, want pending", got.Comment.Status)
	}
	if got.Comment.IP != "127.0.0.1" {
		t.Errorf("ip = %q, want the peer address 127.0.0.1", got.Comment.IP)
	}
	if strings.Contains(got.Comment.BodyHTML, "script") {
		t.Errorf("body_html = %q, taken from the client", got.Comment.BodyHTML)
	}
}

func TestWebsiteGetsScheme(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	r := s.postJSON(t, "blog", with(valid(), "website", "ann.example/blog"))
	var got submitted
	r.json(t, &got)
	if got.Comment.Author.Website != "https://ann.example/blog" {
		t.Errorf("website = %q, want https://ann.example/blog", got.Comment.Author.Website)
	}
}

func TestBodyLimit(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	huge := `{"page":"/a","name":"A","email":"a@b.org","body":"` + strings.Repeat("a", bodyLimit) + `"}`
	t.Run("content length", func(t *testing.T) {
		r := s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/json", strings.NewReader(huge), nil)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", r.status)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		// A reader of unknown length makes the client send the body chunked.
		r := s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/json", struct{ io.Reader }{strings.NewReader(huge)}, nil)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", r.status)
		}
	})
	t.Run("limit is near the largest comment", func(t *testing.T) {
		if bodyLimit < 6*65525 || bodyLimit > 450_000 {
			t.Errorf("bodyLimit = %d bytes, want just above six times the largest comment", bodyLimit)
		}
	})
	t.Run("largest valid JSON with every character escaped fits", func(t *testing.T) {
		esc := func(s string) string {
			var b strings.Builder
			for _, r := range s {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
			return b.String()
		}
		email := strings.Repeat("e", 64) + "@" + strings.Repeat("d", 31) + ".org"
		raw := fmt.Sprintf(`{"page":"%s","page_url":"%s","page_title":"%s","name":"%s","email":"%s","website":"%s","body":"%s"}`,
			esc("/"+strings.Repeat("p", 511)), esc("https://blog.example/"+strings.Repeat("u", 1979)), esc(strings.Repeat("t", 500)),
			esc(strings.Repeat("n", 245)), esc(email), esc("https://w.example/"+strings.Repeat("w", 182)), esc(strings.Repeat("b", 65525)))
		r := s.do(t, http.MethodPost, "/api/v1/sites/blog/comments", "application/json", strings.NewReader(raw), nil)
		if r.status != http.StatusCreated {
			t.Errorf("status = %d for %d bytes, want 201; body %.300s", r.status, len(raw), r.body)
		}
	})
	t.Run("largest valid form fits", func(t *testing.T) {
		f := url.Values{
			"page": {"/" + strings.Repeat("é", 255)}, "name": {strings.Repeat("é", 122)},
			"email": {"a@b.org"}, "body": {strings.Repeat("é", 32762)},
		}
		r := s.postForm(t, "blog", f)
		if r.status != http.StatusSeeOther && r.status != http.StatusCreated {
			t.Errorf("status = %d, want the comment accepted; body %.300s", r.status, r.body)
		}
	})
}

func TestValidationDoesNotSpendAllowance(t *testing.T) {
	s := newTestServer(t, serverOpts{burst: 3})
	for range 10 {
		if r := s.postJSON(t, "blog", with(valid(), "email", "broken")); r.status != 422 {
			t.Fatalf("invalid submission: status %d", r.status)
		}
	}
	for i := range 3 {
		if r := s.postJSON(t, "blog", valid()); r.status != http.StatusCreated {
			t.Fatalf("valid submission %d after invalid ones: status %d, body %s", i, r.status, r.body)
		}
	}
	r := s.postJSON(t, "blog", valid())
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("4th valid submission: status %d, want 429", r.status)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q, want seconds to wait", ra)
	}
}

func TestSubmitResponseIsPublic(t *testing.T) {
	s := newTestServer(t, serverOpts{})
	email := "private.person@example.org"
	r := s.postJSON(t, "blog", with(valid(), "email", email))
	sum := sha256.Sum256([]byte(email))
	for _, secret := range []string{email, "127.0.0.1", hex.EncodeToString(sum[:])} {
		if bytes.Contains(r.body, []byte(secret)) {
			t.Errorf("submit response contains %q: %s", secret, r.body)
		}
	}
}
