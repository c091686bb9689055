package markup

import (
	"bytes"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/commentd/commentd/internal/testenv"
)

// TestCorpusRendersSafely runs every payload of the shared stored-XSS
// corpus through Render and parses the result as a browser would: only the
// allowed elements, no event-handler attributes, no URL with a script or
// data scheme (after the normalisation browsers apply, and more), links
// only to absolute http(s) URLs, and output that parses back to itself, so
// that serialising it again cannot mutate it into something else.
func TestCorpusRendersSafely(t *testing.T) {
	corpus := testenv.XSSCorpus(t)
	if len(corpus) < 100 {
		t.Fatalf("corpus has %d payloads, want at least 100", len(corpus))
	}
	ids, texts := map[string]bool{}, map[string]string{}
	for _, p := range corpus {
		if ids[p.ID] {
			t.Errorf("corpus id %q appears twice", p.ID)
		}
		ids[p.ID] = true
		if other, ok := texts[p.Text]; ok {
			t.Errorf("payloads %q and %q are the same", other, p.ID)
		}
		texts[p.Text] = p.ID
		if strings.TrimSpace(p.Text) == "" {
			t.Errorf("payload %q is empty", p.ID)
		}
	}

	r := NewRenderer()
	for _, p := range corpus {
		t.Run(p.ID, func(t *testing.T) {
			out, err := r.Render(p.Text)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for _, problem := range unsafeHTML(out) {
				t.Errorf("%s\n payload: %q\n  output: %q", problem, p.Text, out)
			}
		})
	}
}

// commentElements are the only elements Render may produce.
var commentElements = map[atom.Atom]bool{
	atom.P: true, atom.Br: true, atom.Em: true, atom.Strong: true, atom.Del: true, atom.Code: true,
	atom.Pre: true, atom.Blockquote: true, atom.Ul: true, atom.Ol: true, atom.Li: true, atom.A: true,
}

// unsafeHTML lists what is wrong with out as comment HTML; nil means
// nothing.
func unsafeHTML(out string) []string {
	var problems []string
	if strings.Contains(strings.ToLower(out), "<script") {
		problems = append(problems, "output spells <script")
	}
	context := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), context)
	if err != nil {
		return append(problems, "output does not parse: "+err.Error())
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
		case html.ElementNode:
			if !commentElements[n.DataAtom] || n.Namespace != "" {
				problems = append(problems, "element <"+strings.TrimPrefix(n.Namespace+":"+n.Data, ":")+"> is not allowed")
			}
			for _, a := range n.Attr {
				problems = append(problems, attrProblems(n, a)...)
			}
		default:
			problems = append(problems, "node "+n.Data+" is neither an element nor text")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}

	// A browser parses the HTML, and whatever serialises it (innerHTML,
	// a DOMParser round trip) may parse it again: both must agree.
	once, err := reserialise(out)
	if err != nil {
		return append(problems, "output does not serialise: "+err.Error())
	}
	twice, err := reserialise(once)
	if err != nil || twice != once {
		problems = append(problems, "output changes when parsed and serialised again: "+once+" then "+twice)
	}
	return problems
}

// attrProblems checks one attribute of a comment element.
func attrProblems(n *html.Node, a html.Attribute) []string {
	var problems []string
	key := strings.ToLower(a.Key)
	if a.Namespace != "" {
		problems = append(problems, "namespaced attribute "+a.Namespace+":"+a.Key)
	}
	if strings.HasPrefix(key, "on") {
		problems = append(problems, "event handler attribute "+a.Key)
	}
	if dangerousScheme(a.Val) {
		problems = append(problems, "attribute "+a.Key+" has a script or data URL: "+a.Val)
	}
	switch {
	case n.DataAtom == atom.A && key == "href":
		if !strings.HasPrefix(a.Val, "https://") && !strings.HasPrefix(a.Val, "http://") {
			problems = append(problems, "link to "+a.Val+", want an absolute http(s) URL")
		}
	case n.DataAtom == atom.A && key == "rel":
	default:
		problems = append(problems, "attribute "+a.Key+" on <"+n.Data+"> is not allowed")
	}
	return problems
}

// dangerousScheme reports whether v, as a URL, would run script or load a
// document of the author's: it starts with javascript:, vbscript: or data:
// once every space, control and invisible formatting character is removed
// and it is lower-cased (browsers remove only some of them; removing more
// only makes the check stricter).
func dangerousScheme(v string) bool {
	v = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return unicode.ToLower(r)
	}, v)
	for _, s := range []string{"javascript:", "vbscript:", "data:"} {
		if strings.HasPrefix(v, s) {
			return true
		}
	}
	return false
}

// reserialise parses s as the content of a div and writes it back.
func reserialise(s string) (string, error) {
	context := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), context)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	for _, n := range nodes {
		if err := html.Render(&buf, n); err != nil {
			return "", err
		}
	}
	return buf.String(), nil
}

// TestDangerousScheme checks the normalisation the corpus checks rely on.
func TestDangerousScheme(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"javascript:alert(1)", true},
		{" JaVa\tScRiPt:alert(1)", true},
		{"\x01java\nscript:x", true},
		{"java\u200bscript:x", true},
		{"\ufeffjavascript:x", true},
		{"VBScript:x", true},
		{"data:text/html,x", true},
		{"https://example.com/javascript:x", false},
		{"#comment-1", false},
		{"/admin/comments/1", false},
		{"mailto:a@example.com", false},
	}
	for _, tt := range tests {
		if got := dangerousScheme(tt.in); got != tt.want {
			t.Errorf("dangerousScheme(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
