package spam

import (
	"fmt"
	"maps"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

// parseFolded parses src as compilePattern does, folded.
func parseFolded(t *testing.T, fo *folder, src string) *syntax.Regexp {
	t.Helper()
	re, err := syntax.Parse(src, syntax.Perl|syntax.FoldCase)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	budget := maxClassFold
	fo.foldRegexp(re, &budget)
	return re
}

func TestProgSize(t *testing.T) {
	fo := newFolder()
	tests := []struct {
		src string
		// exact: progSize counts what the compiler makes; otherwise it may
		// be off, but not by half or more.
		exact bool
	}{
		{`a`, true},
		{`cas+ino`, true},
		{`v[i1!]agr[a4]`, true},
		{`\bfree\s+(money|cash)\b`, true},
		{`x{2}y+`, true},
		{`a{2,5}`, true},
		{`a{2,}`, true},
		{`a{0,3}?`, true},
		{`(?:a*){3}`, true},
		{`(?:a?){5}`, true},
		{`[a-z]{0,1000}[a-z]{0,1000}x`, true},
		{`(?:x?){1000}`, true},
		{`(?:(?:x*)*){1000}`, true},
		{`\pL{36}`, true},
		{`^$|(?s).|\B`, true},
		{`x{0}y{0,0}z{1}`, true},
		{`(?:(?:x{0})*){10}`, true},
		{`(?:(?:(?:x{0})*)+)?`, true},
		{`(?:(?:x{0}){3})*`, false},
		{`(?:a?){0,5}`, false},
		{`(?:(?:)|a)*`, false},
		{`(?:a{0,}?)*`, false},
		{`(a*)*`, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			re := parseFolded(t, fo, tt.src)
			got := progSize(re)
			prog, err := syntax.Compile(re.Simplify())
			if err != nil {
				t.Fatal(err)
			}
			want := len(prog.Inst)
			if tt.exact && got != want || got > 2*want || want > 2*got {
				t.Errorf("progSize(%q) = %d, the program has %d instructions", tt.src, got, want)
			}
		})
	}
}

func TestPatternSource(t *testing.T) {
	fo := newFolder()
	tests := []struct {
		src   string
		texts []string
	}{
		{`cas+ino`, []string{"the cassino", "casino", "caino"}},
		{`(?i)ΚΑΖΙΝΟ`, []string{"казино", "kazino", "καζινο"}},
		{`[^a]bc|x{2,5}?y*`, []string{"abc bbc", "xxxxxyy", "xy"}},
		{`^a$|(?m)^b$|(?s:.)\z`, []string{"a", "x\nb\ny", "a\n"}},
		{`\pL+\d{6,}`, []string{"été123456", "abc12345"}},
		{`\S+@\S+\.\S+`, []string{"mail bob@spam.example now", "a@b"}},
		{`(?U)a+b*?`, []string{"aaabbb"}},
		{`[\x{0}-\x{10FFFF}]|\Q.*\E[\-\]\\^]`, []string{"\x00", ".*-", "\U0010FFFF"}},
		{`(a{2}){3}|((b?)?)?`, []string{"aaaaaa", "bbb", ""}},
		{`\b(?:)\B`, []string{"ab", " "}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			re := parseFolded(t, fo, tt.src)
			src := patternSource(re)
			got, err := regexp.Compile(src)
			if err != nil {
				t.Fatalf("patternSource(%q) = %q does not compile: %v", tt.src, src, err)
			}
			want := regexp.MustCompile(re.String())
			for _, text := range tt.texts {
				text = fo.fold(text)
				if g, w := got.FindAllStringIndex(text, -1), want.FindAllStringIndex(text, -1); !slices.EqualFunc(g, w, slices.Equal) {
					t.Errorf("on %q: %q matches at %v, %q at %v", text, src, g, re.String(), w)
				}
			}
		})
	}
}

// TestValidatePatternCost checks that patterns too costly to compile are
// refused with a message, and that a list stops being compiled once it is
// refused as a whole.
func TestValidatePatternCost(t *testing.T) {
	// \pL has 660 ranges: fifteen have fewer than MaxPatternClassRanges,
	// sixteen more.
	manyLetters := "/" + strings.Repeat(`\pL`, 15) + "/"
	tooManyLetters := "/" + strings.Repeat(`\pL`, 16) + "/"
	numbered := func(n int, format string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf(format, i))
		}
		return out
	}
	tests := []struct {
		name  string
		words []string
		want  map[string]string // field → a substring of its message
	}{
		{name: "nested repetition", words: []string{"/(a{1000}){1000}/"},
			want: map[string]string{"hold_words[0]": "invalid repeat count"}},
		{name: "repetitions written out", words: []string{`/\pL{1000}\pL{1000}/`},
			want: map[string]string{"hold_words[0]": "pattern too complex: 2002 steps, at most 1000"}},
		{name: "large classes", words: []string{manyLetters}},
		{name: "too large classes", words: []string{tooManyLetters},
			want: map[string]string{"hold_words[0]": "character classes have"}},
		{
			name:  "too large classes together",
			words: numbered(12, manyLetters[:len(manyLetters)-1]+"%d/"),
			want:  map[string]string{"hold_words": "character classes have over 100000 ranges"},
		},
		{
			// Each is refused on its own; after those that make up the
			// list's budget, the rest (and the syntax error) are not
			// compiled.
			name:  "costly refused patterns",
			words: append(numbered(30, "/[a-z]{0,600}x%d/"), "/(unclosed/"),
			want: func() map[string]string {
				m := map[string]string{"hold_words": "fix the patterns marked before checking the rest"}
				for i := range 17 {
					m[fmt.Sprintf("hold_words[%d]", i)] = "pattern too complex: 120"
				}
				return m
			}(),
		},
		{
			name:  "patterns beyond MaxPatterns are not compiled",
			words: append(numbered(MaxPatterns, "/a%dc/"), "/(unclosed/"),
			want:  map[string]string{"hold_words": "at most 200 patterns"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := DefaultRules()
			r.HoldWords = tt.words
			ve := r.Validate()
			if len(tt.want) == 0 {
				if ve != nil {
					t.Fatalf("Validate() = %v, want nil", ve.Fields)
				}
				if _, err := Compile(r); err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if ve == nil {
				t.Fatalf("Validate() = nil, want errors on %v", slices.Sorted(maps.Keys(tt.want)))
			}
			if got, want := slices.Sorted(maps.Keys(ve.Fields)), slices.Sorted(maps.Keys(tt.want)); !slices.Equal(got, want) {
				t.Fatalf("Validate() fields = %v, want %v", got, want)
			}
			for field, sub := range tt.want {
				if !strings.Contains(ve.Fields[field], sub) {
					t.Errorf("%s: message %q, want it to contain %q", field, ve.Fields[field], sub)
				}
			}
			if _, err := Compile(r); err == nil {
				t.Error("Compile accepted the rules Validate refused")
			}
		})
	}
}

// TestFoldedAwayLiteral: a character folding drops (a zero-width space, a
// format character) leaves an empty literal, which a repetition must still
// apply to; written back naively, /ab\x{200B}+c/ became /ab+c/ and matched
// "abbbc".
func TestFoldedAwayLiteral(t *testing.T) {
	e := mustCompile(t, testRules(func(r *Rules) { r.HoldWords = []string{"/ab\u200b+c/", "/q\u0605*/"} }))
	tests := []struct {
		body string
		want bool
	}{
		{"abc", true},
		{"ab\u200bc", true},
		{"abbbc", false},
		{"ac", false},
		{"q", true},
	}
	for _, tt := range tests {
		v := e.Evaluate(cleanInput(func(in *Input) { in.Body = tt.body }))
		if got := slices.Contains(ruleNames(v.Reasons), RuleHoldWords); got != tt.want {
			t.Errorf("body %q: hold_words hit %v, want %v (verdict %+v)", tt.body, got, tt.want, v)
		}
	}
}
