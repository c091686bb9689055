package spam

import (
	"regexp/syntax"
	"slices"
	"testing"
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
	}
	for _, tt := range tests {
		if got := fo.fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
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
	}
	texts := []string{
		"the cassino", "viagra", "FREE money", "bc", "abc", "xxy", "xbc", "abc", "a.b", "abc axc", "cd", "abcdef",
		"cazzino", "123x", "казино", "КАЗИНО", "casino", "сasino", "spamspam", "free stuff", "money", "a\nb",
		"acegi", "x2q", "aabbcc", "cc", "1234567", "καζινο", "éé", "éx", "éx ax", "site.ru", "aab", "bcd", "qz",
		"Ⅴ1agra", "ｃａｓｉｎｏ", "",
	}
	for _, src := range patterns {
		re, req, err := fo.compilePattern(src)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", src, err)
		}
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
		fo.foldRegexp(re)
		if got := requirement(re, fo); !slices.Equal(got, tt.want) {
			t.Errorf("requirement(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}
