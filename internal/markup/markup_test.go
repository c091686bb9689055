package markup

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.html from the current output")

func TestRender(t *testing.T) {
	r := NewRenderer()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "empty", src: "", want: ""},
		{name: "blank", src: " \n\t\n ", want: ""},
		{name: "trimmed", src: "\n\n  hello  \n\n", want: "<p>hello</p>"},
		{name: "soft break is a line break", src: "one\ntwo", want: "<p>one<br>\ntwo</p>"},
		{name: "strikethrough", src: "~~gone~~", want: "<p><del>gone</del></p>"},
		{
			name: "markdown link",
			src:  "[a](https://example.com/x)",
			want: `<p><a href="https://example.com/x" rel="nofollow ugc noopener">a</a></p>`,
		},
		{
			name: "link title dropped",
			src:  `[a](https://example.com "t")`,
			want: `<p><a href="https://example.com" rel="nofollow ugc noopener">a</a></p>`,
		},
		{
			name: "upper-case scheme",
			src:  "[a](HTTPS://example.com)",
			want: `<p><a href="https://example.com" rel="nofollow ugc noopener">a</a></p>`,
		},
		{
			name: "bare url",
			src:  "go to https://example.com/x.",
			want: `<p>go to <a href="https://example.com/x" rel="nofollow ugc noopener">https://example.com/x</a>.</p>`,
		},
		{
			name: "www name",
			src:  "www.example.com",
			want: `<p><a href="http://www.example.com" rel="nofollow ugc noopener">www.example.com</a></p>`,
		},
		{
			name: "autolink",
			src:  "<https://example.com>",
			want: `<p><a href="https://example.com" rel="nofollow ugc noopener">https://example.com</a></p>`,
		},
		{name: "relative link is text", src: "[a](/path)", want: "<p>a</p>"},
		{name: "fragment link is text", src: "[a](#top)", want: "<p>a</p>"},
		{name: "scheme-relative link is text", src: "[a](//example.com)", want: "<p>a</p>"},
		{name: "mailto link is text", src: "[a](mailto:x@example.com)", want: "<p>a</p>"},
		{name: "email is text", src: "x@example.com", want: "<p>x@example.com</p>"},
		{name: "email autolink is text", src: "<x@example.com>", want: "<p>x@example.com</p>"},
		{name: "ftp url is text", src: "ftp://example.com/f", want: "<p>ftp://example.com/f</p>"},
		{name: "host-less http link is text", src: "[a](http:///x)", want: "<p>a</p>"},
		{name: "image removed", src: "a ![i](https://example.com/i.png) b", want: "<p>a  b</p>"},
		{name: "image-only paragraph removed", src: "![i](https://example.com/i.png)", want: ""},
		{name: "link around image removed", src: "[![i](https://example.com/i.png)](https://example.com)", want: ""},
		{name: "heading becomes paragraph", src: "# Title\n## Sub", want: "<p>Title</p>\n<p>Sub</p>"},
		{name: "thematic break removed", src: "a\n\n***\n\nb", want: "<p>a</p>\n<p>b</p>"},
		{name: "raw inline html removed", src: "<b>x</b>", want: "<p>x</p>"},
		{name: "code class removed", src: "```go\nx\n```", want: "<pre><code>x\n</code></pre>"},
		{name: "ordered list start removed", src: "3. c", want: "<ol>\n<li>c</li>\n</ol>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Render(tt.src)
			if err != nil {
				t.Fatalf("Render(%q) error: %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("Render(%q)\n got: %q\nwant: %q", tt.src, got, tt.want)
			}
			assertSafe(t, got)
		})
	}
}

// TestRenderGolden renders testdata/NAME.md and compares it with
// testdata/NAME.html; run with -update to rewrite the .html files.
func TestRenderGolden(t *testing.T) {
	r := NewRenderer()
	tests := []struct {
		name string
	}{
		{"paragraphs"},
		{"emphasis"},
		{"code_span"},
		{"fenced_code"},
		{"blockquote"},
		{"lists"},
		{"nested_list"},
		{"link"},
		{"bare_url"},
		{"autolink"},
		{"line_breaks"},
		{"heading"},
		{"image"},
		{"raw_html_block"},
		{"raw_html_inline"},
		{"unicode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", tt.name+".md"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Render(string(src))
			if err != nil {
				t.Fatalf("Render error: %v", err)
			}
			assertSafe(t, got)

			golden := filepath.Join("testdata", tt.name+".html")
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("%s.md rendered differently from %s\n got:\n%s\nwant:\n%s", tt.name, golden, got, want)
			}
		})
	}
}

// TestRenderConcurrent shares one Renderer between goroutines; run it with
// -race.
func TestRenderConcurrent(t *testing.T) {
	r := NewRenderer()
	inputs := []string{
		benchComment,
		"[x](javascript:alert(1)) <img src=x onerror=alert(1)>",
		"# heading\n\n![i](https://example.com/i.png)\n\nhttps://example.com",
	}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		out, err := r.Render(in)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(inputs)
				got, err := r.Render(inputs[k])
				if err != nil {
					t.Errorf("Render error: %v", err)
					return
				}
				if got != want[k] {
					t.Errorf("concurrent Render(%q)\n got: %q\nwant: %q", inputs[k], got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchComment is a typical comment of about 600 bytes: paragraphs,
// emphasis, a link, a bare URL and a list.
const benchComment = `Thanks for writing this up. I have cycled along the old harbour road for
about six years and the section near the ferry terminal is **genuinely
dangerous** at rush hour, so the new lane is *very* welcome.

A few things the article does not mention:

- the council's own [traffic survey](https://council.example.org/reports/2024/traffic-survey.pdf)
  counted over 900 bikes a day in June;
- the lights at the roundabout still give cyclists about four seconds;
- nobody has said who will clear the lane of leaves in autumn.

The full consultation is at https://consult.example.org/harbour-road if
anyone wants to add their view before Friday.
`

func BenchmarkRender(b *testing.B) {
	r := NewRenderer()
	b.SetBytes(int64(len(benchComment)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(benchComment); err != nil {
			b.Fatal(err)
		}
	}
}
