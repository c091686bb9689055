package spam

import (
	"regexp/syntax"
	"slices"
	"strings"
)

// Pattern prefilters.
//
// Go's regexp has no fast path for a pattern that does not start with a
// literal, and running twenty of them over every field of every comment
// costs hundreds of microseconds. So each pattern gets a requirement: a set
// of strings one of which every match must contain (for /\bfree\s+money\b/,
// {"money"}; for /\.(ru|cn)\b/, {".ru", ".cn"}). The pattern runs only on a
// field that contains one of them, which strings.Contains checks quickly.
// A pattern with no usable requirement (/\d{6,}/) always runs.

// Bounds that keep the analysis, and the sets it makes, small.
const (
	maxExactSet    = 16 // strings in an exact set before it is given up
	maxClassRunes  = 8  // runes in a class expanded into an exact set
	maxRequiredSet = 64 // strings in a requirement before it is given up
)

// litInfo describes what a regexp node can match: exactly one of exact
// (when isExact), or else something that contains one of match (nil: no
// requirement known).
type litInfo struct {
	isExact bool
	exact   []string
	match   []string
}

func exactOf(s ...string) litInfo { return litInfo{isExact: true, exact: s} }

// required returns a set one of whose strings every match of the node
// contains, or nil.
func (li litInfo) required() []string {
	if !li.isExact {
		return li.match
	}
	if len(li.exact) == 0 || slices.Contains(li.exact, "") {
		return nil
	}
	return li.exact
}

// better returns whichever requirement filters more: the one whose
// shortest string is longer, then the smaller one. nil is worst.
func better(a, b []string) []string {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	sa, sb := shortest(a), shortest(b)
	if sa != sb {
		if sa > sb {
			return a
		}
		return b
	}
	if len(b) < len(a) {
		return b
	}
	return a
}

func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

// requirement returns the prefilter of a parsed, folded pattern: a set of
// strings one of which any match contains, or nil when the pattern must
// always run. fo tells which runes folded text can contain.
func requirement(re *syntax.Regexp, fo *folder) []string {
	req := analyze(re, fo).required()
	if len(req) == 0 || len(req) > maxRequiredSet {
		return nil
	}
	slices.Sort(req)
	return slices.Compact(req)
}

func analyze(re *syntax.Regexp, fo *folder) litInfo {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactOf("")
	case syntax.OpLiteral:
		s := string(re.Rune)
		if re.Flags&syntax.FoldCase != 0 {
			s = strings.ToLower(s) // folded text is lower-case
		}
		return exactOf(s)
	case syntax.OpCharClass:
		return classInfo(re.Rune, fo)
	case syntax.OpCapture:
		return analyze(re.Sub[0], fo)
	case syntax.OpPlus:
		return litInfo{match: analyze(re.Sub[0], fo).required()}
	case syntax.OpRepeat:
		if re.Min == 0 {
			return litInfo{}
		}
		return litInfo{match: analyze(re.Sub[0], fo).required()}
	case syntax.OpConcat:
		return concatInfo(re.Sub, fo)
	case syntax.OpAlternate:
		return alternateInfo(re.Sub, fo)
	}
	// OpAnyChar, OpAnyCharNotNL, OpStar, OpQuest, OpNoMatch: nothing known.
	return litInfo{}
}

// classInfo expands a small class into the exact set of the runes in it
// that folded text can contain (lower-case, not decomposed, and not a
// look-alike folded away).
func classInfo(ranges []rune, fo *folder) litInfo {
	var set []string
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1]-ranges[i] >= maxClassRunes*4 {
			return litInfo{}
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			if !fo.foldsToItself(r) {
				continue
			}
			if set = append(set, string(r)); len(set) > maxClassRunes {
				return litInfo{}
			}
		}
	}
	return exactOf(set...)
}

// concatInfo multiplies out exact neighbours while the sets stay small, and
// keeps the best requirement among the pieces.
func concatInfo(subs []*syntax.Regexp, fo *folder) litInfo {
	cur := []string{""}
	var best []string
	whole := true // every piece so far was exact and multiplied in
	for _, sub := range subs {
		si := analyze(sub, fo)
		if si.isExact && len(cur)*len(si.exact) <= maxExactSet {
			cur = cross(cur, si.exact)
			continue
		}
		whole = false
		best = better(best, exactOf(cur...).required())
		if si.isExact {
			cur = si.exact
		} else {
			best = better(best, si.match)
			cur = []string{""}
		}
	}
	if whole {
		return exactOf(cur...)
	}
	return litInfo{match: better(best, exactOf(cur...).required())}
}

func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

func alternateInfo(subs []*syntax.Regexp, fo *folder) litInfo {
	infos := make([]litInfo, len(subs))
	allExact := true
	n := 0
	for i, sub := range subs {
		infos[i] = analyze(sub, fo)
		allExact = allExact && infos[i].isExact
		n += len(infos[i].exact)
	}
	if allExact && n <= maxExactSet {
		var set []string
		for _, li := range infos {
			set = append(set, li.exact...)
		}
		return exactOf(set...)
	}
	var match []string
	for _, li := range infos {
		req := li.required()
		if req == nil {
			return litInfo{}
		}
		match = append(match, req...)
	}
	return litInfo{match: match}
}

// bigramSet is a 4096-bit set of the hashed byte pairs of a text: a string
// with a pair missing from the set is not in the text. It spares most
// strings.Contains calls on long fields.
type bigramSet [64]uint64

func bigramHash(a, b byte) uint {
	// 0x9E37 is odd and spreads the 26×26 lower-case pairs without
	// collisions.
	return (uint(a)*0x9E37 + uint(b)) & 4095
}

func (s *bigramSet) fill(text string) {
	for i := 1; i < len(text); i++ {
		h := bigramHash(text[i-1], text[i])
		s[h>>6] |= 1 << (h & 63)
	}
}

func (s *bigramSet) mayContain(lit string) bool {
	for i := 1; i < len(lit); i++ {
		h := bigramHash(lit[i-1], lit[i])
		if s[h>>6]&(1<<(h&63)) == 0 {
			return false
		}
	}
	return true
}

// minBigramText is the shortest text worth building a bigramSet for.
const minBigramText = 24

// containsAny reports whether text contains one of set; pairs, when not
// nil, is text's bigramSet.
func containsAny(text string, set []string, pairs *bigramSet) bool {
	for _, lit := range set {
		if (pairs == nil || pairs.mayContain(lit)) && strings.Contains(text, lit) {
			return true
		}
	}
	return false
}
