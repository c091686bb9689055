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

// confusableTable lists look-alike pairs: each letter, then the plain Latin
// letter it folds to. A letter is looked up as written, then lower-cased
// and looked up again, so capitals are listed only where they look like a
// different Latin letter than their lower case does (Greek Ν is N, ν is v).
const confusableTable = "" +
	// Cyrillic
	"аaвbгrеeёeкkмmнhоoпnрpсcтtуyхxьbѕsіiїiјjԁdԛqԝwһhӏlүyҫcӧoӓa" +
	"ᲀbᲂoᲃcᲄtᲅt" + // Cyrillic Extended-C variants of в, о, с, т
	"ВbНhМmТtУy" +
	// Greek
	"αaβbγyεeζzηnιiκkμuνvοoρpτtυuχxωwϲcϳjάaέeήnίiόoύuώwϊiϋuΐiΰu" +
	"ΗhΝnΜmΤtΥyΧxΒbΡpΖz" +
	// Armenian
	"օoսuոnհhզqցg" +
	// Latin look-alikes and small capitals
	"ıiȷjɑaɩiɪiʋuɡgøođdħhłlŧtᴀaʙbᴄcᴅdᴇeꜰfɢgʜhᴊjᴋkʟlᴍmɴnᴏoᴘpʀrꜱsᴛtᴜuᴠvᴡwʏyᴢz" +
	// Latin with diacritics
	"àaáaâaãaäaåaāaăaąaçcćcčcĉcċcďdèeéeêeëeēeĕeėeęeěeğgĝgġgģgĥh" +
	"ìiíiîiïiĩiīiĭiįiĵjķkĺlľlļlŀlñnńnňnņnòoóoôoõoöoōoŏoőo" +
	"ŕrřrŗrśsšsşsŝsșsťtţtțtùuúuûuüuũuūuŭuůuűuųuŵwýyÿyŷyźzżzžz"

// folder folds text for matching. It is built once per Engine (and per
// Validate call) and only read afterwards.
type folder struct {
	confusables map[rune]rune
	pairs       []rune // confusableTable as runes, for ordered iteration
}

func newFolder() *folder {
	rs := []rune(confusableTable)
	m := make(map[rune]rune, len(rs)/2)
	for i := 0; i+1 < len(rs); i += 2 {
		m[rs[i]] = rs[i+1]
	}
	return &folder{confusables: m, pairs: rs}
}

// fold applies step 1 to s. ASCII text is only lower-cased, and returned
// as is when already lower-case.
func (f *folder) fold(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return f.foldUnicode(s)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s
	}
	return strings.ToLower(s)
}

func (f *folder) foldUnicode(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	prevLatin := false
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
			prevLatin = 'a' <= r && r <= 'z'
			continue
		}
		switch {
		case unicode.Is(unicode.Cf, r), isVariationSelector(r):
			continue
		case prevLatin && unicode.Is(unicode.Mn, r):
			continue
		}
		if m, ok := f.confusables[r]; ok {
			r = m
		} else {
			r = unicode.ToLower(r)
			if m, ok := f.confusables[r]; ok {
				r = m
			}
		}
		prevLatin = r < utf8.RuneSelf
		b.WriteRune(r)
	}
	return b.String()
}

// isVariationSelector reports whether r only selects a glyph variant (or is
// the combining grapheme joiner), and so is invisible in a word.
func isVariationSelector(r rune) bool {
	return (0xFE00 <= r && r <= 0xFE0F) || (0xE0100 <= r && r <= 0xE01EF) || r == 0x034F
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

// compilePattern parses the RE2 pattern src, folds its literals and
// character classes as fold folds text (so /казино/ and /Cas+ino/ match
// folded text), and compiles the result. It also returns the pattern's
// prefilter (see requirement).
func (f *folder) compilePattern(src string) (*regexp.Regexp, []string, error) {
	re, err := syntax.Parse(src, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil, nil, trimRegexpError(err)
	}
	f.foldRegexp(re)
	c, err := regexp.Compile(re.String())
	if err != nil {
		return nil, nil, trimRegexpError(err)
	}
	return c, requirement(re, f), nil
}

type patternError string

func (e patternError) Error() string { return string(e) }

func trimRegexpError(err error) error {
	return patternError(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
}

func (f *folder) foldRegexp(re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		re.Rune = []rune(f.fold(string(re.Rune)))
		// Folded text is lower-case, so a case-sensitive literal of folded
		// runes matches it; case folding would only cost speed.
		re.Flags &^= syntax.FoldCase
	case syntax.OpCharClass:
		// Add the image of every look-alike the class holds. The class was
		// parsed case-insensitively, so it holds upper and lower case.
		added := false
		for i := 0; i+1 < len(f.pairs); i += 2 {
			from, to := f.pairs[i], f.pairs[i+1]
			if classHas(re.Rune, from) && !classHas(re.Rune, to) {
				re.Rune = append(re.Rune, to, to)
				added = true
			}
		}
		if added {
			re.Rune = sortRanges(re.Rune)
		}
	}
	for _, sub := range re.Sub {
		f.foldRegexp(sub)
	}
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
