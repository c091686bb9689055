package markup

import (
	"io"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// TestRenderXSS feeds hostile comments to Render and checks the output
// structurally: whatever the input, only allowed elements and attributes
// survive and every link is an http(s) link with the fixed rel.
func TestRenderXSS(t *testing.T) {
	r := NewRenderer()
	tests := []struct {
		name string
		src  string
		// schemeInText marks inputs whose visible text itself spells
		// "javascript:" (an autolink with that scheme is shown as its text;
		// CommonMark decodes &#106; in text). The scheme may then appear
		// in text nodes, never in markup.
		schemeInText bool
	}{
		// Script elements.
		{name: "script block", src: "<script>alert(1)</script>"},
		{name: "script upper case with src", src: "<SCRIPT SRC=//evil.example/x.js></SCRIPT>"},
		{name: "script inline", src: "hi <script>alert(1)</script> there"},
		{name: "script split", src: "<scr<script>ipt>alert(1)</scr</script>ipt>"},
		{name: "script in link text", src: "[<script>alert(1)</script>](https://example.com)"},
		{name: "script in code span", src: "`<script>alert(1)</script>`"},
		{name: "script in fenced code", src: "```html\n<script>alert(1)</script>\n```"},
		{name: "script as entities", src: "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{name: "script in cdata", src: "<![CDATA[<script>alert(1)</script>]]>"},

		// Raw HTML with event handlers and active content.
		{name: "img onerror", src: "<img src=x onerror=alert(1)>"},
		{name: "svg onload", src: "<svg onload=alert(1)>"},
		{name: "svg script", src: "<svg><script>alert(1)</script></svg>"},
		{name: "body onload", src: "<body onload=alert(1)>"},
		{name: "div onmouseover", src: `<div onmouseover="alert(1)">hover me</div>`},
		{name: "details ontoggle", src: "<details open ontoggle=alert(1)>[x](https://example.com)</details>"},
		{name: "unknown element handler", src: "text <x onclick=alert(1)>click</x>"},
		{name: "style attribute url", src: `<p style="background:url(javascript:alert(1))">x</p>`},
		{name: "style element", src: "<style>body{background:url(javascript:alert(1))}</style>"},
		{name: "iframe javascript", src: `<iframe src="javascript:alert(1)"></iframe>`},
		{name: "iframe srcdoc", src: `<iframe srcdoc="<script>alert(1)</script>"></iframe>`},
		{name: "object data", src: `<object data="javascript:alert(1)"></object>`},
		{name: "embed src", src: `<embed src="data:text/html,<script>alert(1)</script>">`},
		{name: "form action", src: `<form action="javascript:alert(1)"><button>go</button></form>`},
		{name: "meta refresh", src: `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`},
		{name: "base href", src: `<base href="javascript:alert(1)//">`},
		{name: "raw a href javascript", src: `<a href="javascript:alert(1)">click</a>`},
		{name: "raw a onclick", src: `<a href="https://example.com" onclick="alert(1)">x</a>`},
		{name: "raw a inside emphasis", src: `*<a href=javascript:alert(1)>x</a>*`},
		{name: "comment breakout", src: "<!--><img src=x onerror=alert(1)>-->"},
		{name: "noscript mutation", src: `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`},
		{name: "math style mutation", src: "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"},
		{name: "inline noscript mutation", src: `a <noscript><p title="</noscript><img src=x onerror=alert(1)>"> b`},

		// Markdown links with hostile schemes.
		{name: "link javascript", src: "[x](javascript:alert(1))"},
		{name: "link mixed case", src: "[x](JaVaScRiPt:alert(1))"},
		{name: "link decimal entity", src: "[x](&#106;avascript:alert(1))"},
		{name: "link hex entities", src: "[x](&#x6A;avascript&#x3A;alert(1))"},
		{name: "link named colon entity", src: "[x](javascript&colon;alert(1))"},
		{name: "link escaped colon", src: `[x](javascript\:alert(1))`},
		{name: "link tab in scheme", src: "[x](java\tscript:alert(1))"},
		{name: "link tab entity in scheme", src: "[x](java&#9;script:alert(1))"},
		{name: "link newline entity in scheme", src: "[x](java&#10;script:alert(1))"},
		{name: "link leading control char", src: "[x](&#1;javascript:alert(1))"},
		{name: "link nul in scheme", src: "[x](java\x00script:alert(1))"},
		{name: "link data html", src: "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"},
		{name: "link vbscript", src: "[x](vbscript:msgbox(1))"},
		{name: "link angle destination", src: "[x](<javascript:alert(1)>)"},
		{name: "link leading space", src: "[x]( javascript:alert(1))"},
		{name: "link unicode escape text", src: `[x](\u006aavascript:alert(1))`},
		{name: "link fullwidth scheme", src: "[x](ｊａｖａｓｃｒｉｐｔ:alert(1))"},
		{name: "link zero width space", src: "[x](java\u200bscript:alert(1))"},
		{name: "link percent encoded scheme", src: "[x](%6Aavascript:alert(1))"},
		{name: "link file", src: "[x](file:///etc/passwd)"},

		// Reference links with hostile schemes.
		{name: "reference javascript", src: "[x][1]\n\n[1]: javascript:alert(1)"},
		{name: "reference entity", src: "[x][1]\n\n[1]: &#106;avascript:alert(1)"},
		{name: "reference collapsed mixed case", src: "[x][]\n\n[x]: JaVaScRiPt:alert(1) \"t\""},
		{name: "reference shortcut data", src: "[x]\n\n[x]: data:text/html,alert(1)"},
		{name: "reference vbscript angle", src: "[x]\n\n[x]: <vbscript:msgbox(1)>"},

		// Autolinks with hostile schemes.
		{name: "autolink javascript", src: "<javascript:alert(1)>", schemeInText: true},
		{name: "autolink mixed case", src: "<JaVaScRiPt:alert(1)>", schemeInText: true},
		{name: "autolink entity", src: "<&#106;avascript:alert(1)>", schemeInText: true},
		{name: "autolink data", src: "<data:text/html;base64,PHNjcmlwdD4=>"},
		{name: "autolink vbscript", src: "<vbscript:msgbox(1)>"},
		{name: "autolink mailto", src: "<mailto:victim@example.com?body=hi>"},

		// Breaking out of attributes.
		{name: "title breaks attribute", src: `[x](http://a "\" onmouseover=alert(1)")`},
		{name: "single-quoted title", src: `[x](https://example.com 'x" onmouseover="alert(1)')`},
		{name: "paren title style", src: `[x](https://example.com (x" style="position:fixed))`},
		{name: "quote in destination", src: `[x](https://example.com/"onmouseover="alert(1))`},
		{name: "quote in autolink", src: `<https://example.com/"onmouseover="alert(1)>`},
		{name: "quote in bare url", src: `https://example.com/"onmouseover="alert(1)"`},
		{name: "quote in www url", src: `www.example.com/"onmouseover="alert(1)`},
		{name: "bare url then script", src: `https://example.com/"><script>alert(1)</script>`},

		// Images.
		{name: "image javascript", src: "![x](javascript:alert(1))"},
		{name: "image alt breaks attribute", src: `![x" onerror="alert(1)](https://example.com/x.png)`},
		{name: "image title breaks attribute", src: `![x](https://example.com/x.png "\" onerror=alert(1)")`},
		{name: "image tracking pixel", src: "![](https://tracker.example.com/p.gif?u=reader)"},
	}
	if len(tests) < 40 {
		t.Fatalf("corpus has %d inputs, want at least 40", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Render(tt.src)
			if err != nil {
				t.Fatalf("Render(%q) error: %v", tt.src, err)
			}
			assertSafe(t, got)
			if !tt.schemeInText && strings.Contains(strings.ToLower(got), "javascript:") {
				t.Errorf("Render(%q) = %q, contains javascript:", tt.src, got)
			}
		})
	}
}

// assertSafe fails t unless out is comment HTML the policy allows: only
// allowed elements, no attributes but an a's href (absolute http or https)
// and rel (exactly "nofollow ugc noopener"), no comments, nothing spelling
// "<script", and "javascript:" nowhere outside text.
func assertSafe(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Errorf("output contains <script: %q", out)
	}
	assertNoSchemeInMarkup(t, out)

	context := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), context)
	if err != nil {
		t.Fatalf("parse output %q: %v", out, err)
	}
	allowed := map[string]bool{
		"p": true, "br": true, "em": true, "strong": true, "del": true, "code": true,
		"pre": true, "blockquote": true, "ul": true, "ol": true, "li": true, "a": true,
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if !allowed[n.Data] || n.Namespace != "" {
				t.Errorf("element <%s> (namespace %q) not allowed in %q", n.Data, n.Namespace, out)
			}
			if n.Data == "a" {
				assertLinkAttrs(t, n, out)
			} else if len(n.Attr) > 0 {
				t.Errorf("<%s> has attributes %v in %q", n.Data, n.Attr, out)
			}
		case html.TextNode:
		default:
			t.Errorf("node %q of type %d not allowed in %q", n.Data, n.Type, out)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
}

// assertLinkAttrs checks that a has exactly an http(s) href and the fixed rel.
func assertLinkAttrs(t *testing.T, a *html.Node, out string) {
	t.Helper()
	var href, rel int
	for _, attr := range a.Attr {
		switch {
		case attr.Namespace != "":
			t.Errorf("<a> has namespaced attribute %v in %q", attr, out)
		case attr.Key == "href":
			href++
			u, err := url.Parse(attr.Val)
			if err != nil {
				t.Errorf("href %q does not parse: %v (in %q)", attr.Val, err, out)
				continue
			}
			if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
				t.Errorf("href %q is not an absolute http(s) URL (in %q)", attr.Val, out)
			}
		case attr.Key == "rel":
			rel++
			if attr.Val != "nofollow ugc noopener" {
				t.Errorf("rel = %q, want %q (in %q)", attr.Val, "nofollow ugc noopener", out)
			}
		default:
			t.Errorf("<a> has attribute %s=%q (in %q)", attr.Key, attr.Val, out)
		}
	}
	if href != 1 || rel != 1 {
		t.Errorf("<a> has %d href and %d rel attributes, want 1 of each (in %q)", href, rel, out)
	}
}

// assertNoSchemeInMarkup fails t if "javascript:" appears, in any case, in a
// tag or comment of out, as written or with entities decoded.
func assertNoSchemeInMarkup(t *testing.T, out string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Errorf("tokenize %q: %v", out, z.Err())
			}
			return
		}
		if tt == html.TextToken {
			continue
		}
		raw := strings.ToLower(string(z.Raw()))
		tok := z.Token()
		decoded := strings.ToLower(tok.String())
		for _, a := range tok.Attr {
			decoded += " " + strings.ToLower(a.Val)
		}
		if strings.Contains(raw, "javascript:") || strings.Contains(decoded, "javascript:") {
			t.Errorf("markup %q in %q contains javascript:", raw, out)
		}
	}
}

// TestPolicy checks the bluemonday policy on its own, as if goldmark had let
// hostile HTML through: neither layer is trusted alone.
func TestPolicy(t *testing.T) {
	p := newPolicy()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "allowed elements kept", in: "<p><em>a</em><strong>b</strong><del>c</del><code>d</code><br></p>",
			want: "<p><em>a</em><strong>b</strong><del>c</del><code>d</code><br></p>"},
		{name: "lists and quotes kept", in: "<blockquote><ul><li>a</li></ul><ol><li>b</li></ol></blockquote><pre>c</pre>",
			want: "<blockquote><ul><li>a</li></ul><ol><li>b</li></ol></blockquote><pre>c</pre>"},
		{name: "link kept", in: `<a href="https://example.com/x?a=1&amp;b=2" rel="nofollow ugc noopener">x</a>`,
			want: `<a href="https://example.com/x?a=1&amp;b=2" rel="nofollow ugc noopener">x</a>`},
		{name: "link scheme lower-cased", in: `<a href="HTTP://example.com" rel="nofollow ugc noopener">x</a>`,
			want: `<a href="http://example.com" rel="nofollow ugc noopener">x</a>`},
		{name: "link other attributes dropped", in: `<a href="https://example.com" rel="nofollow ugc noopener" title="t" target="_blank" onclick="alert(1)" class="c" id="i" style="color:red">x</a>`,
			want: `<a href="https://example.com" rel="nofollow ugc noopener">x</a>`},
		{name: "link without rel gets nofollow", in: `<a href="https://example.com">x</a>`,
			want: `<a href="https://example.com" rel="nofollow">x</a>`},
		{name: "other rel replaced by nofollow", in: `<a href="https://example.com" rel="me">x</a>`,
			want: `<a href="https://example.com" rel="nofollow">x</a>`},
		{name: "javascript href dropped", in: `<a href="javascript:alert(1)">x</a>`, want: "x"},
		{name: "entity javascript href dropped", in: `<a href="&#106;avascript:alert(1)">x</a>`, want: "x"},
		{name: "data href dropped", in: `<a href="data:text/html,<script>alert(1)</script>">x</a>`, want: "x"},
		{name: "mailto href dropped", in: `<a href="mailto:a@example.com">x</a>`, want: "x"},
		{name: "relative href dropped", in: `<a href="/local">x</a>`, want: "x"},
		{name: "unparseable href dropped", in: `<a href="https://exa mple.com">x</a>`, want: "x"},
		// The rel alone cannot make an inert <a> a link; the transformer
		// keeps this case from arising.
		{name: "bad href keeps only rel", in: `<a href="javascript:alert(1)" rel="nofollow ugc noopener">x</a>`,
			want: `<a rel="nofollow ugc noopener">x</a>`},
		{name: "handlers and style dropped", in: `<p onclick="alert(1)" style="color:red" class="c" id="i">t</p>`, want: "<p>t</p>"},
		{name: "code class dropped", in: `<pre><code class="language-go">x</code></pre>`, want: "<pre><code>x</code></pre>"},
		{name: "blockquote cite dropped", in: `<blockquote cite="javascript:alert(1)">q</blockquote>`, want: "<blockquote>q</blockquote>"},
		{name: "heading to text", in: "<h1>Title</h1>", want: "Title"},
		{name: "image removed", in: `<img src="https://tracker.example.com/p.gif" alt="a">`, want: ""},
		{name: "script removed with content", in: "<script>alert(1)</script>", want: ""},
		{name: "style removed with content", in: "<style>p{}</style>", want: ""},
		{name: "iframe removed", in: `<iframe src="https://example.com"></iframe>`, want: ""},
		{name: "svg removed", in: `<svg onload="alert(1)"><circle r="1"></circle></svg>`, want: ""},
		{name: "comment removed", in: "<!-- raw HTML omitted -->", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Sanitize(tt.in)
			if got != tt.want {
				t.Errorf("Sanitize(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}
