package spam

import (
	"regexp/syntax"
	"slices"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestFold(t *testing.T) {
	fo := newFolder()
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"MiXeD Case", "mixed case"},
		{"Ⅴ1agra", "v1agra"}, // Ⅴ is V; leet is a later step
		{"ｖｉａｇｒａ", "viagra"},
		{"𝐯𝐢𝐚𝐠𝐫𝐚", "viagra"},
		{"vіagra", "viagra"}, // Cyrillic і
		{"ΝΙΚΗ", "nikh"},     // Greek capitals, lower-cased, then folded
		{"саsinо", "casino"}, // Cyrillic с, а, о
		{"vi\u200dag\u00adra", "viagra"},
		{"v\u0336i\u0336", "vi"}, // combining marks after Latin letters
		{"naïve café", "naive cafe"},
		{"ﬁne", "fine"},      // ligature
		{"❤\ufe0f", "❤"},     // variation selector
		{"日本語", "日本語"},       // other scripts untouched
		{"हिन्दी", "हिन्दी"}, // marks after non-Latin letters kept
		{"vịagra vǐagra", "viagra viagra"},
		{"ΰ ё ӓ", "u e a"},                     // look-alikes with marks: the base folds, the mark goes
		{"v1\u0336agra", "v1agra"},             // a mark after a digit
		{"\u0336x", "x"},                       // a mark with no letter before it
		{"vi\u3164a\u2800g\u115fra", "viagra"}, // blank look-alikes dropped
		{"ϲϹ ŀĿ", "cc ll"},                     // mapped before NFKD
		{"ΣΑΣ ς", "sas s"},
		{"ѵѴ Ꮩꮩ ꓦ", "vv vv v"},
		{"한국어", "한국어"}, // syllables composed again
		{"가나다 ｶﾞ", "가나다 ガ"},
		{"й", "й"}, // marks after letters that stay non-Latin are kept
	}
	for _, tt := range tests {
		if got := fo.fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldSpaced(t *testing.T) {
	fo := newFolder()
	tests := []struct {
		in, dropped, spaced string
		blanks              bool
	}{
		{"buy\u2800now", "buynow", "buy now", true},
		{"vi\u3164agra", "viagra", "vi agra", true},
		{"vi\u200bagra", "viagra", "viagra", false},
		{"plain", "plain", "plain", false},
	}
	for _, tt := range tests {
		dropped, blanks := fo.foldText(tt.in, false)
		spaced, _ := fo.foldText(tt.in, true)
		if dropped != tt.dropped || spaced != tt.spaced || blanks != tt.blanks {
			t.Errorf("foldText(%q) = %q, %q, %v; want %q, %q, %v", tt.in, dropped, spaced, blanks, tt.dropped, tt.spaced, tt.blanks)
		}
	}
}

// TestConfusableTable keeps the look-alike tables tidy: every entry can
// be reached (the letter survives NFKD, or for compatConfusables would not),
// folds to a lower-case Latin letter, and is listed once and, in
// confusableTable, only where lower-casing would not find it.
func TestConfusableTable(t *testing.T) {
	for _, table := range []struct {
		name   string
		pairs  string
		compat bool
	}{{"confusableTable", confusableTable, false}, {"compatConfusables", compatConfusables, true}} {
		rs := []rune(table.pairs)
		if len(rs)%2 != 0 {
			t.Fatalf("%s has an odd number of runes", table.name)
		}
		seen := map[rune]rune{}
		for i := 0; i < len(rs); i += 2 {
			from, to := rs[i], rs[i+1]
			if _, dup := seen[from]; dup {
				t.Errorf("%s: %c (%U) listed twice", table.name, from, from)
			}
			seen[from] = to
			if from < utf8.RuneSelf || to < 'a' || to > 'z' {
				t.Errorf("%s: %c → %c: want a non-ASCII letter → a-z", table.name, from, to)
			}
			if stable := norm.NFKD.String(string(from)) == string(from); stable == table.compat {
				if table.compat {
					t.Errorf("%s: %c (%U) has no decomposition; list it in confusableTable", table.name, from, from)
				} else {
					t.Errorf("%s: %c (%U) decomposes, so NFKD hides it from the table: drop it, or list it in compatConfusables", table.name, from, from)
				}
			}
		}
		for from, to := range seen {
			// compatConfusables applies before lower-casing: it lists both.
			if l := unicode.ToLower(from); !table.compat && l != from && seen[l] == to {
				t.Errorf("%s: %c → %c is redundant: its lower case %c folds the same", table.name, from, to, l)
			}
		}
	}
}

func TestLeet(t *testing.T) {
	tests := []struct {
		in   string
		join bool
		want string
	}{
		{"v1agra 4 s4le", false, "viagra a sale"},
		{"h3ll0 w0rld 57", false, "hello world st"},
		{"v!agra", false, "v!agra"},
		{"v!agra", true, "viagra"},
		{"viagra! $5 bob@x", true, "viagra! $s bobax"},
		{"plain", true, "plain"},
		{"@start end!", true, "@start end!"},
		{"é@é", true, "éaé"},
	}
	for _, tt := range tests {
		if got := leet(tt.in, tt.join); got != tt.want {
			t.Errorf("leet(%q, %v) = %q, want %q", tt.in, tt.join, got, tt.want)
		}
		if hasEmbeddedSymbol(tt.in) != (leet(tt.in, true) != leet(tt.in, false)) {
			t.Errorf("hasEmbeddedSymbol(%q) = %v, disagrees with leet", tt.in, hasEmbeddedSymbol(tt.in))
		}
	}
}

func TestTerms(t *testing.T) {
	fo := newFolder()
	tests := []struct {
		in   string
		want []string
	}{
		{"viagra", []string{"viagra"}},
		{"Buy  NOW!", []string{"buy", "now"}},
		{"example.com", []string{"example", "com"}},
		{"bob@example.com", []string{"bobaexample", "com"}},
		{"v1agra", []string{"viagra"}},
		{"don't", []string{"don", "t"}},
		{"--", nil},
		{"日本 語", []string{"日本", "語"}},
	}
	for _, tt := range tests {
		if got := fo.terms(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("terms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPrefilterNeverHidesAMatch: whenever a pattern matches folded text,
// its prefilter lets the text through.
func TestPrefilterNeverHidesAMatch(t *testing.T) {
	fo := newFolder()
	patterns := []string{
		`cas+ino`, `v[i1!]agr[a4]`, `\bfree\s+(money|cash)\b`, `(a|)bc`, `a?bc`, `x{2,3}y`, `[^a]bc`,
		`(?i)ABC`, `\Qa.b\E`, `a.c`, `ab|cd`, `(ab|cd)+ef`, `ca[sz]+ino`, `[0-9]+x`, `\p{Cyrillic}+`,
		`[а-я]{3}`, `казино`, `[сc]asino`, `(?:spam){2}`, `^free`, `money$`, `(?s)a.b`, `[ab][cd][ef][gh][ij]`,
		`(x|y|z)(1|2|3)(p|q)`, `a+b+c+`, `(?:aa|bb)?cc`, `\d{6,}`, `(?i)ΚΑΖΙΝΟ`, `é+`, `[é]x`, `[ÉA]x`,
		`\.(ru|cn)\b`, `(?U)a+?b`, `a{0,2}bcd`, `(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q)z`,
		`v[ịǐ]agra`, `[ꮩϲ]x`, `ϲasino`, `[가-힣]+`, `\p{Greek}+s`,
	}
	texts := []string{
		"the cassino", "viagra", "FREE money", "bc", "abc", "xxy", "xbc", "abc", "a.b", "abc axc", "cd", "abcdef",
		"cazzino", "123x", "казино", "КАЗИНО", "casino", "сasino", "spamspam", "free stuff", "money", "a\nb",
		"acegi", "x2q", "aabbcc", "cc", "1234567", "καζινο", "éé", "éx", "éx ax", "site.ru", "aab", "bcd", "qz",
		"Ⅴ1agra", "ｃａｓｉｎｏ", "",
		"vịagra", "vǐagra", "Ꮩx", "ϲx", "Ϲasino", "한국어", "ΚΑΣ", "vi\u3164agra",
	}
	for _, src := range patterns {
		p, err := fo.compilePattern(src)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", src, err)
		}
		re, req := p.re, p.req
		for _, text := range texts {
			folded := fo.fold(text)
			if !re.MatchString(folded) {
				continue
			}
			var pairs bigramSet
			pairs.fill(folded)
			if req != nil && (!containsAny(folded, req, nil) || !containsAny(folded, req, &pairs)) {
				t.Errorf("pattern %q matches %q (folded %q) but its prefilter %q rejects it", src, text, folded, req)
			}
		}
	}
}

func TestRequirement(t *testing.T) {
	fo := newFolder()
	tests := []struct {
		pattern string
		want    []string
	}{
		{`cas+ino`, []string{"ino"}},
		{`\bfree\s+(money|cash)\b`, []string{"free"}},
		{`\b(money|cash)\s+online\b`, []string{"online"}},
		{`\b(money|cash)\s+is\b`, []string{"cash", "money"}},
		{`\.(ru|cn)\b`, []string{".cn", ".ru"}},
		{`[сc]asino`, []string{"casino"}},
		{`(?i)CASINO`, []string{"casino"}},
		{`v[i1]agra`, []string{"v1agra", "viagra"}},
		{`\d{6,}`, nil},
		{`a?b`, []string{"b"}},
		{`(a|.)bc`, []string{"bc"}},
		{`(a|.+)`, nil},
		{`x*`, nil},
	}
	for _, tt := range tests {
		re, err := syntax.Parse(tt.pattern, syntax.Perl|syntax.FoldCase)
		if err != nil {
			t.Fatal(err)
		}
		budget := maxClassFold
		fo.foldRegexp(re, &budget)
		if got := requirement(re, fo); !slices.Equal(got, tt.want) {
			t.Errorf("requirement(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}
