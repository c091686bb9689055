// Package markup turns a comment body, written in a small Markdown subset,
// into HTML that is safe to place on an article page.
//
// Rendering happens in two independent layers, and neither is trusted alone:
// goldmark parses the Markdown (raw HTML is never passed through, links are
// restricted to http and https and marked rel="nofollow ugc noopener"), then a
// bluemonday allow-list policy sanitises whatever goldmark produced.
package markup

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// linkRel is the rel value every link in a comment carries: search engines
// must not credit links that readers wrote (nofollow, ugc), and the target
// page gets no handle on ours (noopener).
const linkRel = "nofollow ugc noopener"

// Renderer converts comment Markdown to sanitised HTML. Build it once with
// NewRenderer; it holds no per-call state and is safe for concurrent use.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// NewRenderer returns a Renderer for the comment Markdown subset:
// CommonMark plus bare-URL linking and ~~strikethrough~~, with every newline
// shown as a line break.
//
// The output may contain only p, br, em, strong, del, code, pre, blockquote,
// ul, ol, li and a. An a keeps only an absolute http or https href and
// rel="nofollow ugc noopener"; a link to anything else becomes its text.
// Headings become paragraphs, images and raw HTML disappear (so comments
// never load third-party images), and every other attribute is dropped.
//
// So that no comment costs more than linear time to render, quotes and
// lists nest at most 16 deep, and a comment's first 100 "[" or "![" and
// first 2000 runs of *, _ or ~ act as markup; any further ones are shown
// as typed.
func NewRenderer() *Renderer {
	md := goldmark.New(
		// goldmark's parsers, but with the limits of limits.go that keep
		// rendering time linear in the size of the comment.
		goldmark.WithParser(parser.NewParser(
			parser.WithBlockParsers(blockParsers()...),
			parser.WithInlineParsers(append(parser.DefaultInlineParsers(), util.Prioritized(inlineBudget{}, 0))...),
			parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
		)),
		goldmark.WithExtensions(
			// Only http(s) URLs and www. names are linked; goldmark would
			// also link ftp:// by default.
			extension.NewLinkify(extension.WithLinkifyAllowedProtocols([]string{"http:", "https:"})),
			extension.Strikethrough,
		),
		goldmark.WithParserOptions(
			parser.WithASTTransformers(util.Prioritized(commentTransformer{}, 100)),
		),
		goldmark.WithRendererOptions(
			// Comment authors expect a newline to show as one.
			html.WithHardWraps(),
			// html.WithUnsafe is deliberately absent: goldmark never writes
			// raw HTML through, and the transformer drops it beforehand.
		),
	)
	return &Renderer{md: md, policy: newPolicy()}
}

// newPolicy returns the allow-list applied to goldmark's output. It is the
// last line of defence, so it repeats the link rules the transformer already
// enforces instead of relying on them.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li")

	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.AllowURLSchemes("http", "https")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + regexp.QuoteMeta(linkRel) + `$`)).OnElements("a")
	// The transformer sets rel on every link; should one ever arrive without
	// it, the link still must not pass on search ranking.
	p.RequireNoFollowOnLinks(true)
	return p
}

// Render returns the sanitised HTML for the Markdown comment body src, with
// surrounding whitespace trimmed; a blank src gives "". It returns an error
// only if goldmark fails to render, which writing to memory does not do in
// practice; callers should treat one as an internal error.
func (r *Renderer) Render(src string) (string, error) {
	if strings.TrimSpace(src) == "" {
		return "", nil
	}
	var buf bytes.Buffer
	buf.Grow(len(src) + len(src)/2)
	if err := r.md.Convert([]byte(src), &buf); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return strings.TrimSpace(string(r.policy.SanitizeBytes(buf.Bytes()))), nil
}
