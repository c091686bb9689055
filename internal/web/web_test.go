package web

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html from the current output")

// TestThreadGolden draws a comment section with a reply, a reply form
// aimed at a comment, and hostile names, and compares it with
// testdata/thread.golden.html (go test -update rewrites it).
func TestThreadGolden(t *testing.T) {
	tmpl, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	data := Thread{
		Base:  "https://comments.example",
		Site:  "blog",
		Page:  "/2026/11/towpath",
		Total: 3,
		Comments: []Comment{
			{ID: "c1", Name: "Marta Keel", Website: "https://marta.example/?a=1&b=2", BodyHTML: "<p>Firm <em>gravel</em>.</p>", CreatedAt: at,
				ReplyURL: "https://blog.example/2026/11/towpath?replytocom=c1#commentd-respond",
				Replies:  []Comment{{ID: "c2", Name: `<img src=x onerror=alert(1)>`, BodyHTML: "<p>Same here.</p>", CreatedAt: at.Add(time.Hour)}}},
			{ID: "c3", Name: `"Quoted" & <b>bold</b>`, BodyHTML: "<p>Step-free?</p>", CreatedAt: at.Add(2 * time.Hour),
				ReplyURL: "https://blog.example/2026/11/towpath?replytocom=c3#commentd-respond"},
		},
		Form: Form{
			Action:    "https://comments.example/api/v1/sites/blog/comments",
			Values:    FormValues{Page: "/2026/11/towpath", PageURL: "https://blog.example/2026/11/towpath", PageTitle: "The towpath", ParentID: "c1", FormToken: "TOKEN"},
			Embedded:  true,
			ReplyTo:   "Marta Keel",
			CancelURL: "https://blog.example/2026/11/towpath#commentd-respond",

			OffersReplies: true,
		},
		Pending: Comment{Pending: true},
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "thread", data); err != nil {
		t.Fatal(err)
	}
	// Asset URLs carry a hash of the file, which changes with every edit of
	// the stylesheet; the golden file need not.
	got := regexp.MustCompile(`\?v=[0-9a-f]+`).ReplaceAll(buf.Bytes(), []byte("?v=HASH"))
	path := filepath.Join("testdata", "thread.golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("thread fragment differs from %s (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestResponses(t *testing.T) {
	for n, want := range map[int]string{0: "No Responses yet", 1: "1 Response", 2: "2 Responses", 101: "101 Responses"} {
		if got := Responses(n); got != want {
			t.Errorf("Responses(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestEmbedScript(t *testing.T) {
	s, err := EmbedScript()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(s.Body)
	if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); s.Integrity != want {
		t.Errorf("Integrity = %q, want %q", s.Integrity, want)
	}
	if !regexp.MustCompile(`^embed\.[0-9a-f]{12}\.js$`).MatchString(s.File) {
		t.Errorf("File = %q, want embed.<12 hex>.js", s.File)
	}
	if len(s.Body) == 0 || !bytes.Contains(s.Body, []byte("data-commentd-count")) {
		t.Error("Body is not embed.js")
	}
}
