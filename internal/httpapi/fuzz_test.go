package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/comment"
)

// FuzzSubmitDecode feeds arbitrary bodies and content types through the
// submission decoder and validator, as handleSubmit runs them, and checks
// that the outcome is one a reader can act on: a per-field error naming
// known fields, a bad request, or an unsupported media type, always a 4xx;
// or a submission whose fields are within their documented bounds.
func FuzzSubmitDecode(f *testing.F) {
	const (
		jsonType = "application/json"
		formType = "application/x-www-form-urlencoded"
	)
	for _, seed := range []struct{ contentType, body string }{
		{jsonType, `{"page":"/a","name":"Ann","email":"ann@example.com","body":"hi"}`},
		{jsonType, `{"page":"/a","page_url":"https://blog.example/a","page_title":"A","parent_id":"0190","name":"Ann","email":"ann@bücher.example","website":"example.com/blog","body":"*hi*\n\nthere","form_token":"t","url":""}`},
		{jsonType + "; charset=utf-8", `{"page":" /a ","name":" Ann ","email":" ann@example.com ","body":" hi "}`},
		{jsonType, `{"page":1,"name":["x"],"email":{"a":1},"body":null}`},
		{jsonType, `{"PAGE":"/a","Name":"Ann","EMAIL":"ann@example.com","Body":"hi"}`},
		{jsonType, `{"page":"/a","name":"Ann","email":"ann@example.com","body":"a\u0000b"}`},
		{jsonType, `{"page":"/a","name":"Ann\nB","email":"ann@localhost","website":"javascript:alert(1)","body":"hi"}`},
		{jsonType, `{"page":"/a","name":"Ann","email":"a@b.c","website":"http://user:pw@example.com","body":"hi"}`},
		{jsonType, `{"page":"/a","name":"Ann","email":"a@b.c","website":"https://[::1]:8080/x","body":"hi"}`},
		{jsonType, `{"page":"\ud800","name":"\udfff","email":"a@b.c","body":"hi"}`},
		{jsonType, "{\"page\":\"/a\",\"name\":\"\xff\",\"email\":\"a@b.c\",\"body\":\"hi\"}"},
		{jsonType, `{"page":"/a","name":"Ann","email":"a@example.ｏｒｇ","body":"hi"}`},
		{jsonType, `{"page":"/a","page":"/b","name":"Ann","email":"a@b.c","body":"hi","extra":true}`},
		{jsonType, `[]`},
		{jsonType, `null`},
		{jsonType, `{"page":`},
		{jsonType, ``},
		{formType, "page=%2Fa&name=Ann&email=ann%40example.com&body=hi"},
		{formType, "page=%2Fa&name=Ann&email=ann%40example.com&body=hi+there%0D%0Abye&website=example.com&url=bot"},
		{formType, "page=%2Fa&name=%FF&email=a%40b.c&body=%00"},
		{formType, "page=%2Fa;name=Ann"},
		{formType, "page=%zz"},
		{formType, "name=Ann&name=Bob&email=a%40b.c&email=&page=x&body=x"},
		{formType, "page=x&name=Ann&email=a%40b.c&body=x&website=HTTPS%3A%2F%2FExample.COM%3A443%2Fp%3Fq%23f"},
		{formType, "page=x&name=Ann&email=a%40b.c&body=x&website=localhost%3A8080"},
		{formType, "page=x&name=Ann&email=" + strings.Repeat("a", 65) + "%40b.c&body=x"},
		{formType, ""},
		{"text/plain", "page=x"},
		{"multipart/form-data; boundary=x", "--x--"},
		{"", `{"page":"/a"}`},
		{"application/json; charset", `{}`},
	} {
		f.Add(seed.contentType, []byte(seed.body))
	}

	e := echo.New()
	v := newValidator()
	fields := jsonFieldNames()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sites/blog/comments", bytes.NewReader(body))
		req.Header.Set(echo.HeaderContentType, contentType)
		c := e.NewContext(req, httptest.NewRecorder())

		// As handleSubmit does.
		sub, err := decodeSubmit(c)
		decoded := sub
		var verr *comment.ValidationError
		if err == nil || errors.As(err, &verr) {
			sub.trim()
			err = mergeFieldErrors(err, check(v, &sub))
		}

		mt, _, _ := mime.ParseMediaType(contentType)
		supported := mt == echo.MIMEApplicationJSON || mt == echo.MIMEApplicationForm
		if got := errors.Is(err, errUnsupportedMedia); got == supported {
			t.Fatalf("content type %q: unsupported media error is %v, want %v", contentType, got, !supported)
		}
		if err != nil {
			checkSubmitError(t, err, fields)
			return
		}
		checkSubmission(t, sub)
		checkEncodingsAgree(t, e, decoded)
	})
}

// jsonFieldNames returns the JSON names of submitRequest's fields.
func jsonFieldNames() map[string]bool {
	names := map[string]bool{}
	rt := reflect.TypeFor[submitRequest]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}

// checkSubmitError fails t unless err is one of the errors a submission may
// end in, answered with a 4xx.
func checkSubmitError(t *testing.T, err error, fields map[string]bool) {
	t.Helper()
	var (
		verr *comment.ValidationError
		berr *badRequest
	)
	switch {
	case errors.As(err, &verr):
		if len(verr.Fields) == 0 {
			t.Fatalf("validation error %v names no field", err)
		}
		for name, msg := range verr.Fields {
			if name == "" || !utf8.ValidString(name) || !fields[name] {
				t.Fatalf("validation error names field %q, not a field of the request", name)
			}
			if strings.TrimSpace(msg) == "" {
				t.Fatalf("validation error for %q has no message", name)
			}
		}
	case errors.As(err, &berr):
		if berr.msg == "" {
			t.Fatal("bad request without a message")
		}
	case errors.Is(err, errUnsupportedMedia):
	default:
		t.Fatalf("error %T %v is none of the submission errors", err, err)
	}
	status, body, _ := errorResponse(err)
	if status < 400 || status >= 500 {
		t.Fatalf("error %v is answered with status %d, want a 4xx", err, status)
	}
	if body.Error == "" {
		t.Fatalf("error %v is answered without a message", err)
	}
	if verr != nil && !reflect.DeepEqual(body.Fields, verr.Fields) {
		t.Fatalf("answer's fields %v differ from the error's %v", body.Fields, verr.Fields)
	}
}

// checkSubmission fails t unless the accepted submission sub is within
// the bounds the API documents.
func checkSubmission(t *testing.T, sub submitRequest) {
	t.Helper()
	for _, f := range []struct {
		name      string
		value     string
		max       int
		required  bool
		multiline bool
	}{
		{"page", sub.Page, maxPageBytes, true, false},
		{"page_url", sub.PageURL, maxPageURLBytes, false, false},
		{"page_title", sub.PageTitle, maxPageTitleBytes, false, false},
		{"parent_id", sub.ParentID, maxParentIDBytes, false, false},
		{"name", sub.Name, maxNameBytes, true, false},
		{"email", sub.Email, maxEmailBytes, true, false},
		{"website", sub.Website, maxWebsiteBytes, false, false},
		{"body", sub.Body, maxBodyBytes, true, true},
		{"form_token", sub.FormToken, 200, false, false},
		{"url", sub.Honeypot, 2000, false, true},
	} {
		if len(f.value) > f.max {
			t.Fatalf("accepted %s of %d bytes, more than %d", f.name, len(f.value), f.max)
		}
		if f.value != strings.TrimSpace(f.value) {
			t.Fatalf("accepted %s %q has surrounding space", f.name, f.value)
		}
		if f.required && f.value == "" {
			t.Fatalf("accepted an empty %s", f.name)
		}
		if f.name == "url" {
			continue // the honeypot is only measured; the spam rules judge it
		}
		if !utf8.ValidString(f.value) {
			t.Fatalf("accepted %s %q is not valid UTF-8", f.name, f.value)
		}
		for _, r := range f.value {
			if unicode.IsControl(r) && r != '\t' && !(f.multiline && (r == '\n' || r == '\r')) {
				t.Fatalf("accepted %s %q holds control character %U", f.name, f.value, r)
			}
		}
	}
	local, domain, ok := strings.Cut(sub.Email, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") {
		t.Fatalf("accepted email %q is not local@domain.tld", sub.Email)
	}
	for name, s := range map[string]string{"website": sub.Website, "page_url": sub.PageURL} {
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted %s %q is not an http(s) URL with a host and no user info (error %v)", name, s, err)
		}
	}
}

// checkEncodingsAgree fails t unless sub, sent again as JSON and as a form,
// decodes to itself both ways: a reader gets the same result from the
// widget and from the classic form. A honeypot that is not UTF-8 (only a
// form can send one) cannot be sent as JSON, so such a submission is not
// compared.
func checkEncodingsAgree(t *testing.T, e *echo.Echo, sub submitRequest) {
	t.Helper()
	if !utf8.ValidString(sub.Honeypot) {
		return
	}
	js, err := json.Marshal(map[string]string{
		"page": sub.Page, "page_url": sub.PageURL, "page_title": sub.PageTitle, "parent_id": sub.ParentID,
		"name": sub.Name, "email": sub.Email, "website": sub.Website, "body": sub.Body,
		"form_token": sub.FormToken, "url": sub.Honeypot,
	})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for name, s := range map[string]string{
		"page": sub.Page, "page_url": sub.PageURL, "page_title": sub.PageTitle, "parent_id": sub.ParentID,
		"name": sub.Name, "email": sub.Email, "website": sub.Website, "body": sub.Body,
		"form_token": sub.FormToken, "url": sub.Honeypot,
	} {
		form.Set(name, s)
	}
	for _, enc := range []struct{ contentType, body string }{
		{echo.MIMEApplicationJSON, string(js)},
		{echo.MIMEApplicationForm, form.Encode()},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sites/blog/comments", strings.NewReader(enc.body))
		req.Header.Set(echo.HeaderContentType, enc.contentType)
		got, err := decodeSubmit(e.NewContext(req, httptest.NewRecorder()))
		if err != nil {
			t.Fatalf("decode %s %q: %v", enc.contentType, enc.body, err)
		}
		if got != sub {
			t.Fatalf("decoded as %s:\n got %+v\nwant %+v", enc.contentType, got, sub)
		}
	}
}
