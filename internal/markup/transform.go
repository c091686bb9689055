package markup

import (
	"net/url"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// commentTransformer narrows a parsed comment to what the policy lets
// through, so that stripping tags afterwards leaves well-formed output:
//
//   - a Markdown link, autolink or linkified URL whose destination is an
//     absolute http or https URL gets rel="nofollow ugc noopener" and loses
//     its title; any other link (javascript:, mailto:, relative, unparseable)
//     is replaced by its text, so no <a> without a usable href is rendered;
//   - an image, raw HTML (which goldmark would render as an HTML comment)
//     or a thematic break is removed, with any link or paragraph left empty
//     by that;
//   - a heading becomes a paragraph, so its text stays a block of its own.
//
// The policy enforces the same rules again on the rendered HTML.
type commentTransformer struct{}

// Transform implements parser.ASTTransformer.
func (commentTransformer) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	source := reader.Source()
	// Collect first: replacing nodes while ast.Walk is visiting them would
	// derail the walk.
	var nodes []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			switch n.Kind() {
			case ast.KindLink, ast.KindAutoLink, ast.KindImage, ast.KindRawHTML, ast.KindHTMLBlock,
				ast.KindThematicBreak, ast.KindHeading:
				nodes = append(nodes, n)
			}
		}
		return ast.WalkContinue, nil
	})

	// An image comes after its enclosing link in walk order, and removing it
	// may remove that link, so rewrite links only once removals are done.
	for _, n := range nodes {
		switch n := n.(type) {
		case *ast.Image, *ast.RawHTML, *ast.HTMLBlock, *ast.ThematicBreak:
			remove(n)
		case *ast.Heading:
			p := ast.NewParagraph()
			p.SetLines(n.Lines())
			for c := n.FirstChild(); c != nil; c = n.FirstChild() {
				n.RemoveChild(n, c)
				p.AppendChild(p, c)
			}
			n.Parent().ReplaceChild(n.Parent(), n, p)
		}
	}
	for _, n := range nodes {
		if n.Parent() == nil {
			continue // removed with an image or raw HTML it enclosed
		}
		switch link := n.(type) {
		case *ast.Link:
			link.Title = nil
			// Check the destination exactly as goldmark will write it into
			// href: entity references resolved, then percent-escaped.
			if allowedURL(util.URLEscape(link.Destination, true)) {
				link.SetAttributeString("rel", []byte(linkRel))
				continue
			}
			unwrap(link)
		case *ast.AutoLink:
			if link.AutoLinkType == ast.AutoLinkURL && allowedURL(util.URLEscape(link.URL(source), false)) {
				link.SetAttributeString("rel", []byte(linkRel))
				continue
			}
			// Raw, so goldmark escapes the label without resolving entities,
			// exactly as it renders an autolink's text.
			label := ast.NewString(link.Label(source))
			label.SetRaw(true)
			link.Parent().ReplaceChild(link.Parent(), link, label)
		}
	}
}

// remove removes n, then each ancestor link, emphasis, strikethrough or
// paragraph that is left with no children.
func remove(n ast.Node) {
	for {
		parent := n.Parent()
		if parent == nil {
			return
		}
		parent.RemoveChild(parent, n)
		if parent.HasChildren() {
			return
		}
		switch parent.Kind() {
		case ast.KindLink, ast.KindEmphasis, east.KindStrikethrough, ast.KindParagraph:
			n = parent
		default:
			return
		}
	}
}

// unwrap replaces link by its children.
func unwrap(link ast.Node) {
	parent := link.Parent()
	for c := link.FirstChild(); c != nil; c = link.FirstChild() {
		link.RemoveChild(link, c)
		parent.InsertBefore(parent, link, c)
	}
	parent.RemoveChild(parent, link)
}

// allowedURL reports whether dest is an absolute http or https URL with a
// host. url.Parse lower-cases the scheme, so HTTPS: is accepted and
// JaVaScRiPt: is not.
func allowedURL(dest []byte) bool {
	u, err := url.Parse(string(dest))
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
