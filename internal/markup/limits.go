package markup

import (
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// goldmark does more than linear work on some inputs: it searches the whole
// stack of emphasis delimiters for each closer, scans to the end of the
// paragraph for the destination of every "[a](" that is never closed, and
// re-reads the line from its start for each level of nested quotes and
// lists. A 64 KB comment of "*a_" took about ten seconds, and one of
// "[a](" or "- - - ..." one to four. The limits below keep every comment
// the API accepts to a few tens of milliseconds; markup beyond them is
// shown as the characters typed, which no real comment comes near.
const (
	// maxNesting is the deepest a block quote or list may be nested; a
	// marker below it starts a paragraph instead.
	maxNesting = 16
	// maxDelimiterRuns is how many runs of *, _ or ~ a comment may use for
	// emphasis and strikethrough.
	maxDelimiterRuns = 2000
	// maxLinkOpeners is how many "[" and "![" a comment may use for links
	// and images (each costs up to a scan of its paragraph, and each "]" a
	// walk of what follows its "[").
	maxLinkOpeners = 100
)

// blockParsers returns goldmark's default block parsers, with the list and
// block quote parsers refusing to nest deeper than maxNesting.
func blockParsers() []util.PrioritizedValue {
	ps := parser.DefaultBlockParsers()
	for i, p := range ps {
		// A list item opens only inside a list, so limiting lists limits
		// items too.
		if p.Value == parser.NewListParser() || p.Value == parser.NewBlockquoteParser() {
			ps[i].Value = nestingLimit{p.Value.(parser.BlockParser)}
		}
	}
	return ps
}

// nestingLimit is a container block parser that opens nothing once
// maxNesting quotes and lists enclose the position.
type nestingLimit struct{ parser.BlockParser }

// Open implements parser.BlockParser.
func (l nestingLimit) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	depth := 0
	for n := parent; n != nil; n = n.Parent() {
		if k := n.Kind(); k == ast.KindBlockquote || k == ast.KindList {
			depth++
		}
	}
	// Directly inside a list the list parser opens nothing, but it must
	// still see the line: it clears a mark the item parser left for it.
	if depth >= maxNesting && parent.Kind() != ast.KindList {
		return nil, parser.NoChildren
	}
	return l.BlockParser.Open(parent, reader, pc)
}

// inlineBudgetKey holds a document's *inlineCounts in the parser context.
// goldmark hands out context keys from a process-wide counter, so it is
// taken once, like goldmark's own keys.
var inlineBudgetKey = parser.NewContextKey()

// inlineCounts is how much of each budget a document has used.
type inlineCounts struct {
	delimiterRuns, linkOpeners int
}

// inlineBudget runs before every other inline parser on the characters
// that start emphasis, strikethrough, links and images. It lets them
// through until the document has used its budget, then makes each further
// one plain text.
type inlineBudget struct{}

// Trigger implements parser.InlineParser.
func (inlineBudget) Trigger() []byte { return []byte{'*', '_', '~', '[', '!'} }

// Parse implements parser.InlineParser: it returns nil to let the next
// parser read the markup, or a text node holding it.
func (inlineBudget) Parse(_ ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, seg := block.PeekLine()
	if len(line) == 0 {
		return nil
	}
	counts, _ := pc.Get(inlineBudgetKey).(*inlineCounts)
	if counts == nil {
		counts = &inlineCounts{}
		pc.Set(inlineBudgetKey, counts)
	}
	c := line[0]
	n := 1 // bytes of markup
	if c == '!' {
		if len(line) < 2 || line[1] != '[' {
			return nil
		}
		n = 2
	}
	// A run of the character is one delimiter run for emphasis; for
	// links each "[" counts, but a run beyond the budget is one text node,
	// not many (the link parser walks those that follow a "[").
	for n < len(line) && line[n] == line[n-1] {
		n++
	}
	if c == '[' || c == '!' {
		if counts.linkOpeners < maxLinkOpeners {
			counts.linkOpeners++
			return nil
		}
	} else if counts.delimiterRuns < maxDelimiterRuns {
		counts.delimiterRuns++
		return nil
	}
	block.Advance(n)
	return ast.NewTextSegment(seg.WithStop(seg.Start + n))
}
