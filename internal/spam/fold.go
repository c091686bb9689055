package spam

import (
	"cmp"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Text normalisation for word matching; the package documentation
// describes the steps. fold is step 1, leet steps 2 (digits) and 2b
// (symbols inside words), nextToken step 3.

// confusableTable lists look-alike letters, each followed by the plain
// Latin letter it folds to. It is applied after NFKD, so it lists only
// letters without a decomposition: an accented letter is its base and
// combining marks, and fold drops the marks (TestConfusableTable checks).
// A letter is looked up as written, then lower-cased and looked up again,
// so a capital is listed only where it looks like a different Latin letter
// than its lower case does (Greek Ν is N, ν is v), or where its lower case
// is not listed (Cherokee, written here in capitals: newFolder files each
// entry under its lower case too).
const confusableTable = "" +
	// Cyrillic
	"аaвbгrеeкkмmнhоoпnрpсcтtуyхxьbѕsіiјjԁdԛqԝwһhӏlүyҫcѵvҽe" +
	"ᲀbᲂoᲃcᲄtᲅt" + // Cyrillic Extended-C variants of в, о, с, т
	// Greek. Σ lower-cases to σ even at the end of a word, so σ and ς
	// fold alike.
	"αaβbγyεeζzηnιiκkμuνvοoρpτtυuχxωwϳjσsςs" +
	"ΗhΝnΜmΥy" +
	// Armenian
	"օoսuոnհhզqցg" +
	// Cherokee
	"ᎠdᎡrᎢtᎥiᎩyᎪaᎫjᎬeᎳwᎷmᎻhᎽyᏀgᏂhᏃzᏏbᏒrᏔwᏕsᏙvᏚsᏞlᏟcᏢpᏦkᏴb" +
	// Lisu
	"ꓮaꓐbꓚcꓓdꓰeꓝfꓖgꓧhꓲiꓙjꓗkꓡlꓟmꓠnꓳoꓑpꓣrꓢsꓔtꓴuꓦvꓪwꓫxꓬyꓜz" +
	// Latin letters with no decomposition: dotless, stroked, hooked
	"ıiȷjɑaɩiʋuɡgøođdħhłlŧtƀbɨiɉjƶzǥgɍrʉuɏyƒfɓbƈcɗdɠgɦhƙkɱmɲnƥpʠqɽrʂsƭtƴyȥz" +
	// Latin small capitals
	"ᴀaʙbᴄcᴅdᴇeꜰfɢgʜhɪiᴊjᴋkʟlᴍmɴnᴏoᴘpꞯqʀrꜱsᴛtᴜuᴠvᴡwʏyᴢz"

// compatConfusables lists, in the same form, the look-alikes whose
// compatibility decomposition would lose the likeness (lunate sigma ϲ
// decomposes to ς, ŀ to l and a middle dot), so fold maps them before
// NFKD, and so before lower-casing: both cases are listed.
const compatConfusables = "ϲcϹcŀlĿl"

// folder folds text for matching. It is built once per Engine (and per
// Validate call) and only read afterwards.
type folder struct {
	confusables map[rune]rune // applied after NFKD
	compat      map[rune]rune // applied before NFKD
	// compatLo and compatHi bound the keys of compat, to spare most runes
	// the map lookup.
	compatLo, compatHi rune
	// pairs holds every (look-alike, letter) pair of both maps, for
	// folding character classes too large to fold rune by rune.
	pairs [][2]rune
}

func newFolder() *folder {
	f := &folder{confusables: map[rune]rune{}, compat: map[rune]rune{}, compatLo: utf8.MaxRune}
	file := func(m map[rune]rune, table string) {
		rs := []rune(table)
		for i := 0; i+1 < len(rs); i += 2 {
			m[rs[i]] = rs[i+1]
		}
		for i := 0; i+1 < len(rs); i += 2 {
			if l := unicode.ToLower(rs[i]); l != rs[i] {
				if _, ok := m[l]; !ok {
					m[l] = rs[i+1]
				}
			}
		}
	}
	file(f.confusables, confusableTable)
	file(f.compat, compatConfusables)
	for from, to := range f.compat {
		f.compatLo, f.compatHi = min(f.compatLo, from), max(f.compatHi, from)
		f.pairs = append(f.pairs, [2]rune{from, to})
	}
	for from, to := range f.confusables {
		f.pairs = append(f.pairs, [2]rune{from, to})
	}
	return f
}

// fold applies step 1 to s, dropping blank look-alikes (see isBlank).
// ASCII text is only lower-cased, and returned as is when already
// lower-case.
func (f *folder) fold(s string) string {
	folded, _ := f.foldText(s, false)
	return folded
}

// foldText applies step 1 to s. A blank look-alike becomes a space when
// spaced is set and is dropped otherwise; the result reports whether s had
// any, so that a caller can match both readings.
func (f *folder) foldText(s string, spaced bool) (folded string, blanks bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return f.foldUnicode(s, spaced)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s, false
	}
	return strings.ToLower(s), false
}

func (f *folder) isCompat(r rune) bool {
	if r < f.compatLo || r > f.compatHi {
		return false
	}
	_, ok := f.compat[r]
	return ok
}

func (f *folder) foldUnicode(s string, spaced bool) (string, bool) {
	if strings.ContainsFunc(s, f.isCompat) {
		s = strings.Map(func(r rune) rune {
			if f.isCompat(r) {
				return f.compat[r]
			}
			return r
		}, s)
	}
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	// A combining mark after an ASCII rune (or at the start) is dropped:
	// v̶, ị (i and a dot below once decomposed), 1̶ and ά (α folded to a)
	// all lose theirs. Marks after other letters are kept, and NFC puts
	// them back together.
	afterASCII := true
	allASCII := true
	blanks := false
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
			afterASCII = true
			continue
		}
		switch {
		case isBlank(r):
			blanks = true
			if spaced {
				b.WriteByte(' ')
				afterASCII = true
			}
			continue
		case isIgnorable(r):
			continue
		case afterASCII && (unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r)):
			continue
		}
		r = f.confusable(r)
		afterASCII = r < utf8.RuneSelf
		allASCII = allASCII && afterASCII
		b.WriteRune(r)
	}
	if allASCII {
		return b.String(), blanks
	}
	return norm.NFC.String(b.String()), blanks
}

// confusable returns the Latin letter r looks like, or r lower-cased.
func (f *folder) confusable(r rune) rune {
	if m, ok := f.confusables[r]; ok {
		return m
	}
	r = unicode.ToLower(r)
	if m, ok := f.confusables[r]; ok {
		return m
	}
	return r
}

// isIgnorable reports whether r is invisible in a word: a format character
// (zero-width joiners and spaces, soft hyphen, bidi controls), a
// variation selector, or another default-ignorable code point.
func isIgnorable(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// isBlank reports whether r is a letter or symbol that shows as blank
// space: the Hangul fillers and the braille blank. Inside a word it hides
// the word, between words it reads as a space, so text with one is matched
// both ways.
func isBlank(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return true
	}
	return false
}

// foldsToItself reports whether fold leaves the rune r as it is, that is
// whether folded text can contain r.
func (f *folder) foldsToItself(r rune) bool {
	if r < utf8.RuneSelf {
		return unicode.ToLower(r) == r
	}
	var buf [utf8.UTFMax]byte
	s := string(utf8.AppendRune(buf[:0], r))
	return f.fold(s) == s
}

func leetDigit(c byte) byte {
	switch c {
	case '0':
		return 'o'
	case '1':
		return 'i'
	case '3':
		return 'e'
	case '4':
		return 'a'
	case '5':
		return 's'
	case '7':
		return 't'
	}
	return 0
}

func leetSymbol(c byte) byte {
	switch c {
	case '@':
		return 'a'
	case '$':
		return 's'
	case '!':
		return 'i'
	}
	return 0
}

// embedded reports whether the byte at i has a letter, digit or mark on
// both sides.
func embedded(s string, i int) bool {
	if i == 0 || i == len(s)-1 {
		return false
	}
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, _ := utf8.DecodeRuneInString(s[i+1:])
	return isTokenRune(before) && isTokenRune(after)
}

// leet applies step 2 to folded text, and step 3 too when joinSymbols is
// set. Every replacement is one ASCII byte for another, so offsets do not
// change. s is returned as is when nothing changes.
func leet(s string, joinSymbols bool) string {
	var b strings.Builder
	last := 0 // s[:last] is written
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > '7' && c != '@' {
			continue // most bytes: letters
		}
		r := leetDigit(c)
		if r == 0 && joinSymbols {
			if r = leetSymbol(c); r != 0 && !embedded(s, i) {
				r = 0
			}
		}
		if r == 0 {
			continue
		}
		if last == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteByte(r)
		last = i + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// hasEmbeddedSymbol reports whether leet(s, true) differs from
// leet(s, false).
func hasEmbeddedSymbol(s string) bool {
	if strings.IndexByte(s, '@') < 0 && strings.IndexByte(s, '$') < 0 && strings.IndexByte(s, '!') < 0 {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if leetSymbol(s[i]) != 0 && embedded(s, i) {
			return true
		}
	}
	return false
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z'
}

// isTokenRune reports whether r belongs in a token: a letter, digit or mark.
func isTokenRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isTokenByte(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// nextToken returns the bounds of the first token of s at or after byte i,
// or len(s), len(s) when there is none.
func nextToken(s string, i int) (start, end int) {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if isTokenByte(c) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isTokenRune(r) {
			break
		}
		i += n
	}
	start = i
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !isTokenByte(c) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isTokenRune(r) {
			break
		}
		i += n
	}
	return start, i
}

// terms returns the tokens of a word-list entry, normalised as the text it
// is matched against: folded, with leetspeak (symbols included) folded.
func (f *folder) terms(s string) []string {
	s = leet(f.fold(s), true)
	var toks []string
	for i := 0; ; {
		start, end := nextToken(s, i)
		if start == end {
			return toks
		}
		toks = append(toks, s[start:end])
		i = end
	}
}

// maxClassFold is how many non-ASCII runes of its character classes
// compilePattern folds one by one, per pattern; the classes beyond it (a
// negated class, \p{L}) only gain the images of the look-alike tables.
const maxClassFold = 1024

// compilePattern parses the RE2 pattern src (without its slashes), folds
// its literals and character classes as fold folds text (so /казино/ and
// /Cas+ino/ match folded text), and compiles the result. The pattern it
// returns carries the prefilter (see requirement) and the size of the
// program, but no src.
//
// A pattern whose program would clearly exceed MaxPatternSteps, or whose
// character classes exceed MaxPatternClassRanges, is not compiled: the
// pattern returned then has only steps, as progSize counts them from the
// parsed pattern, and ranges, and no re. Repetitions are written out in
// the program, so 200 bytes of /\pL{1000}\pL{1000}.../ make over 20,000
// instructions and take tens of milliseconds to compile; and compiling
// costs time in proportion to the ranges of its classes (\pL has over
// 600). A rule set of thousands of such patterns took minutes to be
// refused.
func (f *folder) compilePattern(src string) (pattern, error) {
	re, err := syntax.Parse(src, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return pattern{}, trimRegexpError(err)
	}
	budget := maxClassFold
	f.foldRegexp(re, &budget)
	// progSize may count a few more instructions than the compiler makes
	// (it skips some of Simplify's shortcuts), never twice as many: a
	// pattern up to twice the limit is compiled and measured exactly.
	steps, ranges := progSize(re), classRanges(re)
	if steps > 2*MaxPatternSteps || ranges > MaxPatternClassRanges {
		return pattern{steps: steps, ranges: ranges}, nil
	}
	req := requirement(re, f)
	// The program regexp runs: its size bounds the work per byte of text.
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return pattern{}, trimRegexpError(err)
	}
	c, err := regexp.Compile(patternSource(re))
	if err != nil {
		return pattern{}, trimRegexpError(err)
	}
	return pattern{re: c, req: req, steps: len(prog.Inst), ranges: ranges}, nil
}

type patternError string

func (e patternError) Error() string { return string(e) }

func trimRegexpError(err error) error {
	return patternError(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
}

// foldRegexp folds the literals and classes of re in place; budget is what
// is left of maxClassFold.
func (f *folder) foldRegexp(re *syntax.Regexp, budget *int) {
	switch re.Op {
	case syntax.OpLiteral:
		re.Rune = []rune(f.fold(string(re.Rune)))
		// Folded text is lower-case, so a case-sensitive literal of folded
		// runes matches it; case folding would only cost speed.
		re.Flags &^= syntax.FoldCase
	case syntax.OpCharClass:
		re.Rune = f.foldClass(re.Rune, budget)
	}
	for _, sub := range re.Sub {
		f.foldRegexp(sub, budget)
	}
}

// foldClass adds to a character class (lo, hi pairs) the image under fold
// of each rune it holds, so that it matches folded text where it matched
// the original: [é] gains e, [с] gains c. The class was parsed
// case-insensitively, so it holds upper and lower case already.
func (f *folder) foldClass(ranges []rune, budget *int) []rune {
	n := 0
	for i := 0; i+1 < len(ranges); i += 2 {
		if lo, hi := max(ranges[i], utf8.RuneSelf), ranges[i+1]; lo <= hi {
			n += int(hi-lo) + 1
		}
	}
	var add []rune
	if n <= *budget {
		*budget -= n
		for i := 0; i+1 < len(ranges); i += 2 {
			for r := max(ranges[i], utf8.RuneSelf); r <= ranges[i+1]; r++ {
				if img, ok := f.image(r); ok && !classHas(ranges, img) {
					add = append(add, img)
				}
			}
		}
	} else {
		for _, p := range f.pairs {
			if classHas(ranges, p[0]) && !classHas(ranges, p[1]) {
				add = append(add, p[1])
			}
		}
	}
	if len(add) == 0 {
		return ranges
	}
	for _, r := range add {
		ranges = append(ranges, r, r)
	}
	return sortRanges(ranges)
}

// image returns the rune fold turns r into, when that is one other rune.
func (f *folder) image(r rune) (rune, bool) {
	var buf [utf8.UTFMax]byte
	folded := f.fold(string(utf8.AppendRune(buf[:0], r)))
	img, size := utf8.DecodeRuneInString(folded)
	if size == 0 || size != len(folded) || img == r {
		return 0, false
	}
	return img, true
}

// sortRanges sorts a class's (lo, hi) pairs and merges those that touch,
// as regexp/syntax expects of a class.
func sortRanges(ranges []rune) []rune {
	pairs := make([][2]rune, 0, len(ranges)/2)
	for i := 0; i+1 < len(ranges); i += 2 {
		pairs = append(pairs, [2]rune{ranges[i], ranges[i+1]})
	}
	slices.SortFunc(pairs, func(a, b [2]rune) int { return cmp.Compare(a[0], b[0]) })
	out := ranges[:0]
	for _, p := range pairs {
		if n := len(out); n > 0 && p[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p[1])
			continue
		}
		out = append(out, p[0], p[1])
	}
	return out
}

// classHas reports whether the character class ranges (lo, hi pairs)
// contain r.
func classHas(ranges []rune, r rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= r && r <= ranges[i+1] {
			return true
		}
	}
	return false
}
