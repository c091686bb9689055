package web

import (
	"bytes"
	"strings"
	"testing"
)

func TestFormShowsErrorsBesideFields(t *testing.T) {
	tmpl, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	data := struct {
		Form    Form
		BackURL string
		Message string
	}{
		Form: Form{
			Action: "/api/v1/sites/demo/comments",
			Values: FormValues{Page: "/a", Name: `<b>"Ann"</b>`, Body: "hello"},
			Errors: map[string]string{"email": "Please fill in your email address."},
		},
	}
	if err := tmpl.ExecuteTemplate(&buf, "form.html", data); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		`aria-invalid="true" aria-describedby="commentd-email-error"`,
		`<span class="commentd-error" id="commentd-email-error">Please fill in your email address.</span>`,
		`value="&lt;b&gt;&#34;Ann&#34;&lt;/b&gt;"`,
		`Your email address will not be published. Required fields are marked`,
		`>hello</textarea>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("form page lacks %q", want)
		}
	}
	if strings.Contains(html, `<b>"Ann"</b>`) {
		t.Error("the name was not escaped")
	}
}
