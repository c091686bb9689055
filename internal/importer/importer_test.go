package importer

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/markup"
)

func TestID(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 15, 30, 123_456_000, time.UTC)
	id := ID(at, "blog", "wordpress", "101")
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatalf("ID = %q: %v", id, err)
	}
	if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Errorf("ID %s: version %d, variant %v; want a UUIDv7", id, u.Version(), u.Variant())
	}
	sec, nsec := u.Time().UnixTime()
	if got := time.Unix(sec, nsec).UTC(); !got.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("ID %s carries time %v, want %v", id, got, at.Truncate(time.Millisecond))
	}
	if again := ID(at, "blog", "wordpress", "101"); again != id {
		t.Errorf("the same comment got ids %s and %s", id, again)
	}
	others := map[string]string{
		"other site":   ID(at, "blog2", "wordpress", "101"),
		"other source": ID(at, "blog", "disqus", "101"),
		"other id":     ID(at, "blog", "wordpress", "102"),
		// The parts are length-prefixed: moving a character from one to
		// the next changes the id.
		"shifted parts": ID(at, "blogw", "ordpress", "101"),
	}
	for name, o := range others {
		if o == id {
			t.Errorf("%s: same id %s", name, id)
		}
	}
	later := ID(at.Add(time.Millisecond), "blog", "wordpress", "101")
	if later <= id {
		t.Errorf("a later time gives id %s, not after %s", later, id)
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ws   Whitespace
		want string
	}{
		{"plain text", "Hello world", KeepNewlines, "Hello world"},
		{"newlines are breaks and paragraphs", "one\ntwo\n\n\n\nthree", KeepNewlines, "one\ntwo\n\nthree"},
		{"collapsed white space", "one\ntwo   three<br>four<p>five</p>", CollapseWhitespace, "one two three\nfour\n\nfive"},
		{"CRLF", "one\r\ntwo", KeepNewlines, "one\ntwo"},
		{"emphasis and strong", "<em>a</em> <i>b</i> <strong>c</strong> <b>d</b> <del>e</del>", KeepNewlines, "*a* *b* **c** **d** ~~e~~"},
		{"white space moves out of emphasis", "x<em> a </em>y", KeepNewlines, "x *a* y"},
		{"empty emphasis", "x<em> </em>y", KeepNewlines, "x y"},
		{"link", `<a href="https://ex.example/a_(b)?q=1&amp;r=2">the <b>site</b></a>`, KeepNewlines, "[the **site**](https://ex.example/a_%28b%29?q=1&r=2)"},
		{"link without text", `<a href="https://ex.example/"></a>`, KeepNewlines, `[https://ex.example/](https://ex.example/)`},
		{"javascript link becomes text", `<a href="javascript:alert(1)">click</a>`, KeepNewlines, "click"},
		{"relative link becomes text", `<a href="/about">about</a>`, KeepNewlines, "about"},
		{"link with credentials becomes text", `<a href="https://u:p@ex.example/">x</a>`, KeepNewlines, "x"},
		{"script and style vanish", `a<script>alert(1)</script><style>p{}</style>b`, KeepNewlines, "ab"},
		{"image vanishes", `a<img src="x" onerror="alert(1)">b`, KeepNewlines, "ab"},
		{"unknown tags become text", `<span class="x">a</span><font>b</font>`, KeepNewlines, "ab"},
		{"entities", "&lt;b&gt; &amp; &copy; &#8230; &quot;", KeepNewlines, `\<b\> \& © … "`},
		{"markup characters escaped", "5 * 3 _x_ [a](b) `c` ~d~ \\", KeepNewlines, "5 \\* 3 \\_x\\_ \\[a\\](b) \\`c\\` \\~d\\~ \\\\"},
		{"line starts escaped", "- a\n+ b\n1. c\n2) d\n# e\n= f", KeepNewlines, "\\- a\n\\+ b\n1\\. c\n2\\) d\n\\# e\n\\= f"},
		{"indentation dropped", "    not code\n\tnor this", KeepNewlines, "not code\nnor this"},
		{"code", "<code>a_b</code> and <code>x`y</code> and <code>`z</code>", KeepNewlines, "`a_b` and ``x`y`` and `` `z ``"},
		{"pre", "<pre>  if x {\n    y()\n  }</pre>", KeepNewlines, "```\n  if x {\n    y()\n  }\n```"},
		{"pre with fences", "<pre>```\nx\n```</pre>", KeepNewlines, "````\n```\nx\n```\n````"},
		{"blockquote", "<blockquote>one\n\ntwo</blockquote>after", KeepNewlines, "> one\n>\n> two\n\nafter"},
		{"nested blockquote", "<blockquote><p>a</p><blockquote>b</blockquote></blockquote>", CollapseWhitespace, "> a\n>\n> > b"},
		{"lists", "<ul><li>a</li><li>b</li></ul><ol start=\"3\"><li>c</li></ol>", CollapseWhitespace, "- a\n- b\n\n3. c"},
		{"paragraphs", "<p>a</p><p>b</p>", CollapseWhitespace, "a\n\nb"},
		{"HTML comment", "a<!-- hidden -->b", KeepNewlines, "ab"},
		{"unicode", "שלום 世界 🎉", KeepNewlines, "שלום 世界 🎉"},
		{"unclosed tags", "<em>open <strong>both", KeepNewlines, "*open **both***"},
		{"empty", "", KeepNewlines, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Markdown(tt.in, tt.ws); got != tt.want {
				t.Errorf("Markdown(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestMarkdownRendersAsTheHTMLRead checks what a reader sees after the
// converted text is rendered by the comment renderer.
func TestMarkdownRendersAsTheHTMLRead(t *testing.T) {
	r := markup.NewRenderer()
	tests := []struct {
		in, want string
	}{
		{"5 * 3 = 15 &amp; _x_ &lt;b&gt;bold&lt;/b&gt;\n- not a list\n1. nor this", "<p>5 * 3 = 15 &amp; _x_ &lt;b&gt;bold&lt;/b&gt;<br>\n- not a list<br>\n1. nor this</p>"},
		{`Buy <script>alert(1)</script><a href="javascript:alert(1)">now</a> <a href="https://ok.example/">ok</a>`,
			`<p>Buy now <a href="https://ok.example/" rel="nofollow ugc noopener">ok</a></p>`},
		{"<blockquote>quoted</blockquote>\nreply", "<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>reply</p>"},
		// Typed markup stays text: no autolink, no link to javascript:.
		{"&lt;https://ex.example/&gt; [x](javascript:y)", "<p>&lt;https://ex.example/&gt; [x](javascript:y)</p>"},
		// Line starts made of several nodes, or of a link without a usable
		// address, stay text.
		{"<span>1</span>. not a list", "<p>1. not a list</p>"},
		{"<p>x</p><span>12</span>) nor this", "<p>x</p>\n<p>12) nor this</p>"},
		{"<a>- not a list</a>", "<p>- not a list</p>"},
		{`<a href="/relative"># not a heading</a>`, "<p># not a heading</p>"},
		{"<a>+ x</a>\n<a href=\"javascript:x\">2. y</a>", "<p>+ x<br>\n2. y</p>"},
	}
	for _, tt := range tests {
		got, err := r.Render(Markdown(tt.in, KeepNewlines))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%q renders as\n%q, want\n%q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "<script") || strings.Contains(got, `href="javascript`) {
			t.Errorf("%q renders unsafe HTML %q", tt.in, got)
		}
	}
}

func TestCheckLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, author, website, body string
		want                        string // "" for no error
	}{
		{"at the limits", long(comment.MaxNameBytes), "https://" + long(comment.MaxWebsiteBytes-8), long(comment.MaxBodyBytes), ""},
		{"empty name", " ", "", "b", "the author name is empty"},
		{"long name", long(comment.MaxNameBytes + 1), "", "b", "the author name is longer than 245 bytes"},
		{"name with a newline", "a\nb", "", "b", "the author name holds control characters"},
		{"long website", "a", "https://" + long(comment.MaxWebsiteBytes-7), "b", "the author website is longer than 200 bytes"},
		{"empty body", "a", "", " \n", "the body is empty"},
		{"long body", "a", "", long(comment.MaxBodyBytes + 1), "the body is longer than 65525 bytes"},
		{"control character in the body", "a", "", "b\x01", "the body holds control characters"},
		{"invalid UTF-8", "a", "", "b\xff", "invalid UTF-8"},
		{"newlines and tabs in the body", "a", "", "b\r\n\tc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLimits("c1", tt.author, tt.website, tt.body)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "comment c1")):
				t.Errorf("error %v, want one naming comment c1 and containing %q", err, tt.want)
			}
		})
	}
	if err := CheckPage("/"+long(comment.MaxPageKeyBytes), "t"); err == nil {
		t.Errorf("a page key of %d bytes passes", comment.MaxPageKeyBytes+1)
	}
	if err := CheckPage("/p", long(comment.MaxPageTitleBytes+1)); err == nil {
		t.Errorf("a title of %d bytes passes", comment.MaxPageTitleBytes+1)
	}
	if err := CheckPage("/"+long(comment.MaxPageKeyBytes-1), long(comment.MaxPageTitleBytes)); err != nil {
		t.Errorf("a page at the limits: %v", err)
	}
}

func TestFitLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"Tom  &\tJerry\n", 245, "Tom & Jerry", false},
		{"a\x00b\xffc", 245, "a b c", false},
		{"abcdef", 4, "abcd", true},
		{"aé", 2, "a", true}, // not inside a character
		{"ab  cd", 3, "ab", true},
	}
	for _, tt := range tests {
		got, cut := FitLine(tt.in, tt.max)
		if got != tt.want || cut != tt.cut {
			t.Errorf("FitLine(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, cut, tt.want, tt.cut)
		}
	}
	if got := CleanBody("a\x01b\n\tc\xff"); got != "a\uFFFDb\n\tc\uFFFD" {
		t.Errorf("CleanBody = %q", got)
	}
}

func TestWebURL(t *testing.T) {
	for in, want := range map[string]string{
		" https://a.example/x ":  "https://a.example/x",
		"http://a.example":       "http://a.example",
		"javascript:alert(1)":    "",
		"//a.example/":           "",
		"https://u:p@a.example/": "",
		"ftp://a.example/":       "",
		"https:///no-host":       "",
		"https://a.example/%zz":  "",
		// What the API refuses as a website, so that a moderator can
		// save an imported comment again.
		"https://-bad-.example/": "",
		"https://a.example/\\x":  "",
		"https://[::1]/":         "https://[::1]/",
	} {
		if got := WebURL(in); got != want {
			t.Errorf("WebURL(%q) = %q, want %q", in, got, want)
		}
	}
}
