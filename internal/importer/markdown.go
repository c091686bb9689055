package importer

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Whitespace says what newlines in the text of imported HTML mean.
type Whitespace int

const (
	// KeepNewlines treats each newline of the text as a line break and a
	// blank line as a paragraph break, as WordPress shows comments (it adds
	// the p and br tags when it displays them, not when it stores them).
	KeepNewlines Whitespace = iota
	// CollapseWhitespace treats runs of white space as one space, as a
	// browser does: only tags (p, br, ...) break lines. Disqus stores
	// comments so.
	CollapseWhitespace
)

// Markdown converts a comment's HTML, as another comment system stores it,
// into the Markdown subset commentd stores: links with an absolute http or
// https address, emphasis, strong, code, preformatted blocks, block quotes,
// lists, line breaks and paragraphs. Other tags become their text; script,
// style and similar elements, images, and HTML comments disappear with their
// content. Entities are decoded, and characters that Markdown would read as
// markup are escaped, so that the text reads as it did. The result must
// still be rendered and sanitised like any other comment body.
func Markdown(src string, ws Whitespace) string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(src), body)
	if err != nil {
		// The HTML parser reads any input; an error can only come from
		// the reader, which a string does not give.
		return escapeText(src, true)
	}
	c := converter{ws: ws}
	return c.blocks(nodes)
}

type converter struct {
	ws Whitespace
}

// mdWriter collects Markdown and knows whether it is at the start of a line.
type mdWriter struct {
	b strings.Builder
}

func (w *mdWriter) atLineStart() bool {
	s := w.b.String()
	return len(s) == 0 || s[len(s)-1] == '\n'
}

// line returns what the current line holds so far.
func (w *mdWriter) line() string {
	s := w.b.String()
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func (w *mdWriter) endsWithSpace() bool {
	s := w.b.String()
	return len(s) == 0 || s[len(s)-1] == '\n' || s[len(s)-1] == ' '
}

// blocks converts a sequence of nodes into normalised Markdown blocks.
func (c converter) blocks(nodes []*html.Node) string {
	var w mdWriter
	for _, n := range nodes {
		c.node(&w, n)
	}
	return normalise(w.b.String())
}

// children returns n's child nodes.
func children(n *html.Node) []*html.Node {
	var out []*html.Node
	for k := n.FirstChild; k != nil; k = k.NextSibling {
		out = append(out, k)
	}
	return out
}

// paragraph ends the current block with a blank line.
func paragraph(w *mdWriter) {
	if w.b.Len() > 0 {
		w.b.WriteString("\n\n")
	}
}

func (c converter) node(w *mdWriter, n *html.Node) {
	switch n.Type {
	case html.TextNode:
		c.text(w, n.Data)
		return
	case html.ElementNode:
	default:
		// Comments, doctypes: nothing to show.
		return
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Object, atom.Embed,
		atom.Img, atom.Svg, atom.Math, atom.Head, atom.Title, atom.Textarea, atom.Select, atom.Audio, atom.Video:
		return
	case atom.Br:
		w.b.WriteString("\n")
	case atom.Hr:
		paragraph(w)
	case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Section, atom.Article,
		atom.Header, atom.Footer, atom.Table, atom.Tr, atom.Figure, atom.Figcaption, atom.Dl, atom.Dt, atom.Dd, atom.Address:
		paragraph(w)
		for _, k := range children(n) {
			c.node(w, k)
		}
		paragraph(w)
	case atom.Blockquote:
		inner := c.blocks(children(n))
		if inner == "" {
			return
		}
		paragraph(w)
		lines := strings.Split(inner, "\n")
		for i, l := range lines {
			if l == "" {
				lines[i] = ">"
			} else {
				lines[i] = "> " + l
			}
		}
		w.b.WriteString(strings.Join(lines, "\n"))
		paragraph(w)
	case atom.Pre:
		code := strings.TrimRight(strings.TrimLeft(textOf(n), "\n"), "\n ")
		if code == "" {
			return
		}
		fence := strings.Repeat("`", max(3, longestRun(code, '`')+1))
		paragraph(w)
		w.b.WriteString(fence + "\n" + code + "\n" + fence)
		paragraph(w)
	case atom.Ul, atom.Ol:
		paragraph(w)
		i := 1
		if s, err := strconv.Atoi(attr(n, "start")); err == nil && s >= 0 && s < 1_000_000 {
			i = s
		}
		for _, k := range children(n) {
			if k.Type != html.ElementNode || k.DataAtom != atom.Li {
				continue
			}
			marker := "- "
			if n.DataAtom == atom.Ol {
				marker = strconv.Itoa(i) + ". "
				i++
			}
			c.item(w, marker, k)
		}
		paragraph(w)
	case atom.Li:
		paragraph(w)
		c.item(w, "- ", n)
		paragraph(w)
	case atom.Em, atom.I, atom.Cite, atom.Var, atom.Dfn:
		c.wrap(w, "*", n)
	case atom.Strong, atom.B:
		c.wrap(w, "**", n)
	case atom.Del, atom.S, atom.Strike:
		c.wrap(w, "~~", n)
	case atom.Code, atom.Kbd, atom.Samp, atom.Tt:
		codeSpan(w, textOf(n))
	case atom.A:
		c.link(w, n)
	case atom.Td, atom.Th:
		if !w.endsWithSpace() {
			w.b.WriteString(" ")
		}
		for _, k := range children(n) {
			c.node(w, k)
		}
	default:
		for _, k := range children(n) {
			c.node(w, k)
		}
	}
}

// item writes one list item: its blocks, the first line after marker and
// the others indented under it.
func (c converter) item(w *mdWriter, marker string, li *html.Node) {
	inner := c.blocks(children(li))
	if !w.atLineStart() {
		w.b.WriteString("\n")
	}
	lines := strings.Split(inner, "\n")
	pad := strings.Repeat(" ", len(marker))
	for i, l := range lines {
		switch {
		case i == 0:
			w.b.WriteString(marker + l)
		case l == "":
			w.b.WriteString("\n")
			continue
		default:
			w.b.WriteString(pad + l)
		}
		w.b.WriteString("\n")
	}
}

// wrap writes n's content between delim, with white space at its ends
// moved outside the delimiters, where Markdown needs it.
func (c converter) wrap(w *mdWriter, delim string, n *html.Node) {
	var inner mdWriter
	if !w.atLineStart() {
		inner.b.WriteString("x") // not at a line start: no line-start escapes
	}
	for _, k := range children(n) {
		c.node(&inner, k)
	}
	s := inner.b.String()
	if !w.atLineStart() {
		s = s[1:]
	}
	core := strings.TrimSpace(s)
	if core == "" {
		if s != "" && !w.endsWithSpace() {
			w.b.WriteString(" ")
		}
		return
	}
	lead := s[:strings.Index(s, core)]
	trail := s[len(lead)+len(core):]
	if lead != "" && !w.endsWithSpace() {
		w.b.WriteString(" ")
	}
	w.b.WriteString(delim + core + delim)
	if trail != "" {
		w.b.WriteString(" ")
	}
}

// link writes an a element as a Markdown link when its address is an
// absolute http or https URL, else as its text.
func (c converter) link(w *mdWriter, n *html.Node) {
	dest := linkDest(attr(n, "href"))
	// Without an address the text stands alone: at a line start it is
	// escaped as a line start.
	prefix := !w.atLineStart() || dest != ""
	var inner mdWriter
	if prefix {
		inner.b.WriteString("x") // not at a line start: no line-start escapes
	}
	for _, k := range children(n) {
		c.node(&inner, k)
	}
	s := inner.b.String()
	if prefix {
		s = s[1:]
	}
	text := strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	if dest == "" {
		if text != "" {
			w.b.WriteString(text)
		}
		return
	}
	if text == "" {
		text = escapeText(dest, false)
	}
	w.b.WriteString("[" + text + "](" + dest + ")")
}

// linkDest returns href as a Markdown link destination, or "" when it is
// not an absolute http or https URL.
func linkDest(href string) string {
	if WebURL(href) == "" {
		return ""
	}
	u, _ := url.Parse(strings.TrimSpace(href)) // parsed by WebURL
	s := u.String()
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "\\", "%5C").Replace(s)
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == name {
			return a.Val
		}
	}
	return ""
}

// textOf returns all the text under n, tags left out.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Template, atom.Noscript:
				return
			case atom.Br:
				b.WriteString("\n")
			}
		}
		for k := n.FirstChild; k != nil; k = k.NextSibling {
			walk(k)
		}
	}
	walk(n)
	return b.String()
}

// codeSpan writes s as inline code, with a fence longer than any run of
// backticks in it.
func codeSpan(w *mdWriter, s string) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	w.b.WriteString(fence + s + fence)
}

func longestRun(s string, r byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == r {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

var spaceRun = regexp.MustCompile(`[ \t\n\f\r]+`)

// text writes a text node, escaped.
func (c converter) text(w *mdWriter, s string) {
	if c.ws == CollapseWhitespace {
		s = spaceRun.ReplaceAllString(s, " ")
	} else {
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if i > 0 {
			w.b.WriteString("\n")
		}
		start := w.atLineStart()
		if start {
			// Leading white space would make an indented code block.
			l = strings.TrimLeft(l, " \t\u00a0")
		} else if c.ws == CollapseWhitespace && strings.HasPrefix(l, " ") && w.endsWithSpace() {
			l = l[1:]
		}
		if !start && (strings.HasPrefix(l, ".") || strings.HasPrefix(l, ")")) && lineNumber.MatchString(w.line()) {
			// Digits alone on the line so far, from an earlier node
			// (<span>1</span>. x): with this "." or ")" they would open
			// an ordered list.
			w.b.WriteByte('\\')
		}
		w.b.WriteString(escapeText(l, start))
	}
}

// lineStartMarker matches what would open a block at the start of a line:
// a list item, a heading, a thematic break or a setext underline.
var lineStartMarker = regexp.MustCompile(`^(?:[-+=]|\d{1,9}[.)])`)

// lineNumber matches a line holding only what would, followed by "." or
// ")", open an ordered list item.
var lineNumber = regexp.MustCompile(`^\d{1,9}$`)

// escapeText escapes what Markdown would take for markup in plain text.
func escapeText(s string, lineStart bool) string {
	var b strings.Builder
	if lineStart {
		if m := lineStartMarker.FindString(s); m != "" {
			b.WriteString(m[:len(m)-1] + `\` + m[len(m)-1:])
			s = s[len(m):]
		} else if strings.HasPrefix(s, "#") {
			b.WriteString(`\#`)
			s = s[1:]
		}
	}
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '~', '&', '|':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normalise trims white space at the ends of lines and of the whole text,
// and shortens runs of blank lines to one.
func normalise(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}
