package spam

import (
	"regexp/syntax"
	"strconv"
	"strings"
)

// A word-list pattern is parsed and folded (see folder.compilePattern),
// then written back as RE2 syntax for regexp.Compile, since regexp cannot
// compile a parsed pattern. This file holds the two walks over the parsed
// pattern that keep that cheap: progSize and classRanges, which measure a
// pattern so that one too large is refused before its program is built,
// and patternSource, which writes it back.

// progSize returns about the number of instructions syntax.Compile makes
// for re.Simplify(), without building either, so in time proportional to
// the parsed pattern: it counts the copies Simplify writes for each
// repetition (x{2,5} is xx(x(x(x)?)?)?) and the instructions the compiler
// lays out for each operator, plus the program's fail and match. Where
// Simplify or the compiler take a shortcut it does not follow, it counts a
// little more or less, never twice as many. Counts saturate at
// maxProgSize.
func progSize(re *syntax.Regexp) int {
	n, _ := instCount(re)
	return min(2+n, maxProgSize)
}

// maxProgSize caps progSize; nested repetitions multiply.
const maxProgSize = 1 << 30

// instCount returns progSize's count for re without the program's two
// instructions, and whether Simplify turns re into the empty match.
func instCount(re *syntax.Regexp) (n int, empty bool) {
	switch re.Op {
	case syntax.OpNoMatch:
		return 0, false
	case syntax.OpEmptyMatch:
		return 1, true
	case syntax.OpLiteral:
		return max(len(re.Rune), 1), false
	case syntax.OpCapture:
		n, _ := instCount(re.Sub[0])
		return n + 2, false
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		n, empty := instCount(re.Sub[0])
		switch {
		case empty:
			return 1, true // x* of the empty match is the empty match
		case simplifiedOp(re.Sub[0]) == re.Op:
			return n, false // x** is x*
		}
		return n + 1, false
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, sub := range re.Sub {
			m, _ := instCount(sub)
			n = min(n+m, maxProgSize)
		}
		if re.Op == syntax.OpAlternate {
			n += len(re.Sub) - 1
		}
		return max(n, 1), false
	case syntax.OpRepeat:
		if re.Max == 0 {
			return 1, true
		}
		// Simplify writes out copies even of the empty match.
		n, _ := instCount(re.Sub[0])
		if re.Max == -1 { // x{n,}: n-1 copies of x, then x+
			return min(max(re.Min, 1)*n+1, maxProgSize), false
		}
		// x{n,m}: n copies of x, then m-n nested optional ones.
		return min(re.Min*n+(re.Max-re.Min)*(n+1), maxProgSize), false
	}
	return 1, false // a character class, any character, or an empty-width assertion
}

// simplifiedOp returns the operator Simplify makes re into, as far as
// instCount needs it: x{0,} is x*, x{1,} is x+ and x{0,1} is x?.
func simplifiedOp(re *syntax.Regexp) syntax.Op {
	if re.Op != syntax.OpRepeat {
		return re.Op
	}
	switch {
	case re.Min == 0 && re.Max == -1:
		return syntax.OpStar
	case re.Min == 1 && re.Max == -1:
		return syntax.OpPlus
	case re.Min == 0 && re.Max == 1:
		return syntax.OpQuest
	}
	return re.Op
}

// classRanges returns how many ranges the character classes of re have
// together.
func classRanges(re *syntax.Regexp) int {
	n := 0
	if re.Op == syntax.OpCharClass {
		n = len(re.Rune) / 2
	}
	for _, sub := range re.Sub {
		n += classRanges(sub)
	}
	return n
}

// patternSource returns RE2 syntax that matches exactly what re matches,
// with no flag left for the parser to infer: every rune is written as
// \x{...}, every character class as its ranges, every group as (?:...),
// since only where a pattern matches is ever asked. re.String() would do
// as well, but it checks rune by rune whether each character class is
// closed under case folding: over a millisecond for each \S or \pL, so that
// one pattern of sixty of them took a tenth of a second, and a list of two
// hundred such patterns many seconds.
func patternSource(re *syntax.Regexp) string {
	var b strings.Builder
	writePattern(&b, re)
	return b.String()
}

// noMatch is a class no rune is in.
const noMatch = `[^\x00-\x{10FFFF}]`

func writePattern(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpNoMatch:
		b.WriteString(noMatch)
	case syntax.OpEmptyMatch:
		b.WriteString(`(?:)`)
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		if fold {
			b.WriteString(`(?i:`)
		}
		for _, r := range re.Rune {
			writeRune(b, r)
		}
		if fold {
			b.WriteByte(')')
		}
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			b.WriteString(noMatch)
			return
		}
		b.WriteByte('[')
		for i := 0; i+1 < len(re.Rune); i += 2 {
			writeRune(b, re.Rune[i])
			if re.Rune[i+1] != re.Rune[i] {
				b.WriteByte('-')
				writeRune(b, re.Rune[i+1])
			}
		}
		b.WriteByte(']')
	case syntax.OpAnyCharNotNL:
		b.WriteString(`(?-s:.)`)
	case syntax.OpAnyChar:
		b.WriteString(`(?s:.)`)
	case syntax.OpBeginLine:
		b.WriteString(`(?m:^)`)
	case syntax.OpEndLine:
		b.WriteString(`(?m:$)`)
	case syntax.OpBeginText:
		b.WriteString(`\A`)
	case syntax.OpEndText:
		b.WriteString(`\z`)
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		writeGroup(b, re.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		writeGroup(b, re.Sub[0])
		switch re.Op {
		case syntax.OpStar:
			b.WriteByte('*')
		case syntax.OpPlus:
			b.WriteByte('+')
		case syntax.OpQuest:
			b.WriteByte('?')
		default:
			b.WriteByte('{')
			b.WriteString(strconv.Itoa(re.Min))
			if re.Max != re.Min {
				b.WriteByte(',')
				if re.Max >= 0 {
					b.WriteString(strconv.Itoa(re.Max))
				}
			}
			b.WriteByte('}')
		}
		if re.Flags&syntax.NonGreedy != 0 {
			b.WriteByte('?')
		}
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			b.WriteString(`(?:)`)
		}
		// Each part is self-contained: a literal is runes, a class
		// bracketed, and everything else a group.
		for _, sub := range re.Sub {
			writePattern(b, sub)
		}
	case syntax.OpAlternate:
		b.WriteString(`(?:`)
		for i, sub := range re.Sub {
			if i > 0 {
				b.WriteByte('|')
			}
			writePattern(b, sub)
		}
		b.WriteByte(')')
	default:
		// Parse makes no other operator; write what String would.
		b.WriteString(`(?:` + re.String() + `)`)
	}
}

// writeGroup writes re as a non-capturing group, so that an operator after
// it applies to all of it.
func writeGroup(b *strings.Builder, re *syntax.Regexp) {
	b.WriteString(`(?:`)
	writePattern(b, re)
	b.WriteByte(')')
}

// writeRune writes r so that it means r in and out of a class: ASCII
// letters and digits as themselves, anything else as \x{...}.
func writeRune(b *strings.Builder, r rune) {
	if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
		b.WriteRune(r)
		return
	}
	b.WriteString(`\x{`)
	b.WriteString(strconv.FormatInt(int64(r), 16))
	b.WriteByte('}')
}
