package markup

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxFuzzBody is the largest comment body the HTTP API accepts, in bytes;
// larger inputs never reach Render.
const maxFuzzBody = 65525

// FuzzRender feeds arbitrary comment bodies to Render and checks that, for
// any valid UTF-8 body up to the size limit, it returns without error
// valid UTF-8 HTML that holds only allowed elements and attributes, with
// every link an absolute http(s) URL; that rendering is deterministic; and
// that rendering the output, or its text, again is as safe.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"",
		"plain text",
		"*em* **strong** ~~del~~ `code`",
		"[a](https://example.com/x) <https://example.com> www.example.com https://example.com/y.",
		"[x](javascript:alert(1))",
		"[x](&#106;avascript&#x3A;alert(1))",
		"[x](java\tscript:alert(1)) [y](\x01javascript:alert(1))",
		"[x][1]\n\n[1]: JaVaScRiPt:alert(1) \"t\"",
		"<javascript:alert(1)> <data:text/html,x> <mailto:a@example.com>",
		"<img src=x onerror=alert(1)><script>alert(1)</script>",
		"<!--><img src=x onerror=alert(1)>-->",
		`<a href="https://example.com" onclick="alert(1)">x</a>`,
		`[x](https://example.com/"onmouseover="alert(1))`,
		`https://example.com/"><script>alert(1)</script>`,
		"![i](https://example.com/i.png) [![i](https://example.com/i.png)](https://example.com)",
		"# heading\n## sub\n\n***\n\ntext",
		"> quote\n> > nested\n\n- a\n  - b\n    1. c",
		"```html\n<script>alert(1)</script>\n```",
		"&lt;script&gt; &amp; &#0; &#xD800; &#1114112;",
		"line one  \nline two\\\nline three",
		"\u202eevil\u202c \u200b\ufeff \U0001F600",
		strings.Repeat("[a](", 200),
		strings.Repeat("[", 300) + strings.Repeat("]", 300),
		strings.Repeat("> ", 200) + "deep",
		strings.Repeat("- ", 200) + "deep",
		strings.Repeat("*a_", 200),
		strings.Repeat("`", 50) + "x" + strings.Repeat("`", 49),
		strings.Repeat("<a ", 200),
		strings.Repeat("www.a.b/", 100),
		"[a](<https://example.com/a b>) [b](https://exa mple.com)",
		"[a](https://[::1]:80/) [b](http://user:pass@example.com/) [c](https:example.com)",
	} {
		f.Add(s)
	}
	r := NewRenderer()
	f.Fuzz(func(t *testing.T, src string) {
		out, err := r.Render(src)
		if !utf8.ValidString(src) || len(src) > maxFuzzBody {
			return // only not panicking is asked of input the API refuses
		}
		if err != nil {
			t.Fatalf("Render(%q) error: %v", src, err)
		}
		if err := checkRendered(out); err != nil {
			t.Fatalf("Render(%q) = %q: %v", src, out, err)
		}
		if again, err := r.Render(src); err != nil || again != out {
			t.Fatalf("Render(%q) is not deterministic: %q, then %q (error %v)", src, out, again, err)
		}
		// The output, read as Markdown in turn (a moderator quoting it), and
		// its text must be as safe.
		for _, in := range []string{out, htmlText(t, out)} {
			again, err := r.Render(in)
			if err != nil {
				t.Fatalf("Render(%q) error: %v", in, err)
			}
			if err := checkRendered(again); err != nil {
				t.Fatalf("Render(%q) = %q: %v", in, again, err)
			}
		}
	})
}

// allowedElements are the elements the policy lets through.
var allowedElements = map[atom.Atom]bool{
	atom.P: true, atom.Br: true, atom.Em: true, atom.Strong: true, atom.Del: true, atom.Code: true,
	atom.Pre: true, atom.Blockquote: true, atom.Ul: true, atom.Ol: true, atom.Li: true, atom.A: true,
}

// checkRendered returns an error unless out is valid UTF-8 comment HTML:
// only allowed elements, no comments or other markup, no attribute but an
// a's href (an absolute http or https URL) and rel, and no other scheme
// named anywhere in the markup.
func checkRendered(out string) error {
	if !utf8.ValidString(out) {
		return errors.New("output is not valid UTF-8")
	}
	if err := checkTags(out); err != nil {
		return err
	}
	context := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), context)
	if err != nil {
		return fmt.Errorf("parse output: %w", err)
	}
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		switch n.Type {
		case html.TextNode:
		case html.ElementNode:
			if !allowedElements[n.DataAtom] || n.Namespace != "" {
				return fmt.Errorf("element <%s> (namespace %q) is not allowed", n.Data, n.Namespace)
			}
			for _, a := range n.Attr {
				if err := checkAttr(n, a); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("node %q of type %d is not allowed", n.Data, n.Type)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range nodes {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}

// checkAttr allows only href and rel="nofollow ugc noopener" (or the
// policy's bare "nofollow") on a.
func checkAttr(n *html.Node, a html.Attribute) error {
	key := strings.ToLower(a.Key)
	switch {
	case strings.HasPrefix(key, "on"):
		return fmt.Errorf("<%s> has event handler %s=%q", n.Data, a.Key, a.Val)
	case n.DataAtom != atom.A || a.Namespace != "":
		return fmt.Errorf("<%s> has attribute %s=%q", n.Data, a.Key, a.Val)
	case key == "href":
		return checkHref(a.Val)
	case key == "rel":
		if a.Val != linkRel && a.Val != "nofollow" {
			return fmt.Errorf("<a> has rel=%q", a.Val)
		}
		return nil
	}
	return fmt.Errorf("<a> has attribute %s=%q", a.Key, a.Val)
}

// checkHref allows an absolute http or https URL with a host. The scheme
// is read as a browser would: entities decoded (by the parser, and once
// more in case of double encoding), then leading C0 controls and spaces,
// and tabs and newlines anywhere, removed, then lower-cased.
func checkHref(href string) error {
	for _, v := range []string{href, html.UnescapeString(href)} {
		v = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, v)
		v = strings.ToLower(strings.TrimLeftFunc(v, func(r rune) bool { return r <= ' ' }))
		scheme, _, ok := strings.Cut(v, ":")
		if !ok || (scheme != "http" && scheme != "https") {
			return fmt.Errorf("href %q has no http or https scheme", href)
		}
	}
	u, err := url.Parse(href)
	if err != nil {
		return fmt.Errorf("href %q does not parse: %w", href, err)
	}
	if u.Host == "" {
		return fmt.Errorf("href %q has no host", href)
	}
	for _, r := range href {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("href %q holds a space or control character", href)
		}
	}
	return nil
}

// checkTags returns an error if a tag or comment of out names a scheme
// that browsers run or load, in anything but an href (which checkHref
// reads): the tokenizer sees the markup as written, where the parser
// behind checkRendered may have repaired it.
func checkTags(out string) error {
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); err != io.EOF {
				return fmt.Errorf("tokenize output: %w", err)
			}
			return nil
		}
		if tt == html.TextToken {
			continue
		}
		tok := z.Token()
		text := tok.Data
		for _, a := range tok.Attr {
			text += " " + a.Key
			if a.Key != "href" {
				text += "=" + a.Val
			}
		}
		text = strings.ToLower(stripSpaceAndControls(text))
		for _, scheme := range []string{"javascript:", "vbscript:", "data:", "file:"} {
			if strings.Contains(text, scheme) {
				return fmt.Errorf("markup %q names %s", z.Raw(), scheme)
			}
		}
	}
}

func stripSpaceAndControls(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// htmlText returns the text content of the HTML fragment out.
func htmlText(t *testing.T, out string) string {
	t.Helper()
	context := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), context)
	if err != nil {
		t.Fatalf("parse output %q: %v", out, err)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return b.String()
}

// adversarialBodies are comment bodies of the largest accepted size built
// to make a Markdown parser do more than linear work: unclosed link and
// image openers, deep nesting of brackets, quotes, lists and emphasis,
// mismatched backtick runs, many link reference definitions, and many
// bare URLs.
func adversarialBodies() []struct{ name, body string } {
	fill := func(unit string) string {
		return strings.Repeat(unit, maxFuzzBody/len(unit))
	}
	var backticks strings.Builder
	for n := 1; backticks.Len() < maxFuzzBody-400; n++ {
		backticks.WriteString(strings.Repeat("`", n) + "a")
	}
	var indented strings.Builder
	for i := 0; indented.Len() < maxFuzzBody-400; i++ {
		indented.WriteString(strings.Repeat(" ", 2*i) + "- a\n")
	}
	var refs strings.Builder
	for i := 0; refs.Len() < maxFuzzBody/2; i++ {
		fmt.Fprintf(&refs, "[r%d]: https://example.com/%d\n", i, i)
	}
	for i := 0; refs.Len() < maxFuzzBody-20; i++ {
		fmt.Fprintf(&refs, "[x][r%d] ", i)
	}
	return []struct{ name, body string }{
		{"link openers", fill("[a](")},
		{"image openers", fill("![a](")},
		{"open brackets", fill("[")},
		{"nested brackets", strings.Repeat("[", maxFuzzBody/2) + strings.Repeat("]", maxFuzzBody/2)},
		{"link destinations", fill("[a](b")},
		{"reference openers", fill("[a][")},
		{"quotes", fill("> ") + "x"},
		{"lists", fill("- ") + "x"},
		{"emphasis", fill("*a_")},
		{"emphasis runs", fill("**a")},
		{"strikethrough", fill("~~a")},
		{"backticks", backticks.String()},
		{"autolink openers", fill("<a")},
		{"html openers", fill("<a ")},
		{"bare urls", fill("www.a.b/ ")},
		{"bracketed urls", fill("(https://a.b")},
		{"nested labels", strings.Repeat("[a", maxFuzzBody/3) + strings.Repeat("]", maxFuzzBody/3)},
		{"indented lists", indented.String()},
		{"quoted lists", fill("> - ") + "x"},
		{"reference links", refs.String()},
	}
}

// BenchmarkRenderAdversarial renders each adversarial body; ns/op is the
// time one such comment costs.
func BenchmarkRenderAdversarial(b *testing.B) {
	r := NewRenderer()
	for _, tt := range adversarialBodies() {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(tt.body)))
			for b.Loop() {
				if _, err := r.Render(tt.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCheckRendered shows that the checks FuzzRender applies catch what
// they are meant to.
func TestCheckRendered(t *testing.T) {
	tests := []struct {
		out  string
		safe bool
	}{
		{`<p>a <em>b</em><br>c</p>`, true},
		{`<a href="https://example.com/x?a=1&amp;b=2" rel="nofollow ugc noopener">x</a>`, true},
		{`<a href="http://example.com/javascript:x" rel="nofollow">x</a>`, true},
		{`<a href="javascript:alert(1)">x</a>`, false},
		{`<a href="&#106;avascript:alert(1)">x</a>`, false},
		{`<a href="&amp;#106;avascript:alert(1)">x</a>`, false},
		{`<a href=" java	script:alert(1)">x</a>`, false},
		{`<a href="//example.com">x</a>`, false},
		{`<a href="https://example.com" title="t">x</a>`, false},
		{`<a href="https://example.com" rel="me">x</a>`, false},
		{`<p onclick="alert(1)">x</p>`, false},
		{`<img src="https://example.com/i.png">`, false},
		{`<svg><a href="https://example.com">x</a></svg>`, false},
		{`<!-- javascript:alert(1) -->`, false},
		{`<code class="language-go">x</code>`, false},
		{"<p>\xff</p>", false},
	}
	for _, tt := range tests {
		if err := checkRendered(tt.out); (err == nil) != tt.safe {
			t.Errorf("checkRendered(%q) = %v, want safe %v", tt.out, err, tt.safe)
		}
	}
}
