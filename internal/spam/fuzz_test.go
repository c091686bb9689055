package spam

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEvaluate checks that no submission makes Evaluate panic, and that
// every detail is short valid UTF-8.
func FuzzEvaluate(f *testing.F) {
	f.Add("Ⅴ1agra", "buy v!agra at https://a.example [x](https://b.example)", "bob@spam.example")
	f.Add("\u200d", "[[[(((", "@")
	f.Add("ΝΙΚΗ", "casino! c@sino ca$ino\xff\xfe", "a@b@c")
	r := benchRules()
	r.Mode = ModeHoldFirstTime
	r.HoldWords = append(r.HoldWords, "buy now", "/n(i|ι)ke/")
	r.BlockWords = append(r.BlockWords, "viagra", "casino")
	e, err := Compile(r)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, body, email string) {
		v := e.Evaluate(Input{Name: name, Body: body, Email: email, IP: name, UserAgent: body, Token: TokenOK})
		if !v.Action.Valid() {
			t.Fatalf("invalid action %q", v.Action)
		}
		for _, r := range v.Reasons {
			if len(r.Detail) > maxDetail || !utf8.ValidString(r.Detail) {
				t.Fatalf("detail %q: want at most %d bytes of valid UTF-8", r.Detail, maxDetail)
			}
		}
	})
}

// FuzzCountLinks checks CountLinks never panics and never counts more
// links than the body has "http" or "www." in it.
func FuzzCountLinks(f *testing.F) {
	f.Add("[a](https://b.example) <https://c.example> www.d.example")
	f.Add("[[[[]]]](((")
	f.Add("[x](\\")
	f.Fuzz(func(t *testing.T, body string) {
		n := CountLinks(body)
		lower := strings.ToLower(body)
		if limit := strings.Count(lower, "http") + strings.Count(lower, "www."); n > limit {
			t.Fatalf("CountLinks(%q) = %d, more than %d URL starts", body, n, limit)
		}
	})
}

// FuzzPrefilter checks that a pattern's prefilter never rejects text the
// pattern matches.
func FuzzPrefilter(f *testing.F) {
	f.Add("the CASSINO", "free  cash")
	f.Add("саsinо.ru", "ᲃasino ΝΙΚΗ")
	f.Add("vịagra Ꮩ\u3164ϲasino", "한국어 ΣΣ")
	fo := newFolder()
	sources := []string{
		`cas+ino`, `v[i1!]agr[a4]`, `\bfree\s+(money|cash)\b`, `(a|)bc`, `[^a]bc`, `(?i)ABC`, `ab|cd`,
		`(ab|cd)+ef`, `ca[sz]+ino`, `[сc]asino`, `(?i)ΚΑΖΙΝΟ`, `\.(ru|cn)\b`, `n(i|ι)ke`, `[ÉA]x`, `x{2}y+`,
		`v[ịǐ]agra`, `[ꮩϲ]asino`, `[가-힣]+어`, `σς`,
	}
	type compiled struct {
		src string
		re  *regexp.Regexp
		req []string
	}
	var pats []compiled
	for _, src := range sources {
		p, err := fo.compilePattern(src)
		if err != nil {
			f.Fatal(err)
		}
		pats = append(pats, compiled{src, p.re, p.req})
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		folded := fo.fold(a + b)
		var pairs bigramSet
		pairs.fill(folded)
		for _, p := range pats {
			if p.req != nil && p.re.MatchString(folded) && !containsAny(folded, p.req, &pairs) {
				t.Fatalf("pattern %q matches %q but its prefilter %q rejects it", p.src, folded, p.req)
			}
		}
	})
}
