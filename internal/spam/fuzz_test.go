package spam

import (
	"errors"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
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

// FuzzRules feeds arbitrary rule documents, as JSON or YAML, and an
// arbitrary submission to the rules. A document is either refused with
// per-field messages or accepted as valid, normalised rules that compile
// and survive a round trip through both formats; evaluation is
// deterministic, names only rules that exist and are configured, and its
// action is the one the rules documentation gives for its reasons.
func FuzzRules(f *testing.F) {
	for _, seed := range []struct {
		doc  string
		yaml bool
	}{
		{`{}`, false},
		{`{"mode":"hold_on_hits","max_links":2,"block_words":["viagra","/cas+ino/"],"hold_words":["buy now","/\\bfree\\s+(money|cash)\\b/"]}`, false},
		{`{"mode":" HOLD_First_Time ","trusted_emails":["Alice@Example.org"],"blocked_emails":["@spam.example","bob+x@example.com"],"blocked_ips":["203.0.113.7/24","::ffff:10.0.0.1","2001:db8::/32"]}`, false},
		{`{"actions":{"honeypot":"reject"," max_links ":"Spam","form_token_missing":"hold"},"min_submit_seconds":5,"max_token_age":"2h"}`, false},
		{`{"rate_limits":{"ip":{"every":"1s","burst":5},"site":{"every":"100ms"},"page":null}}`, false},
		{`{"hold_words":["/(a{1000}){1000}/","/[a-z]{0,1000}[a-z]{0,1000}x/","/x*/","//","--","/(unclosed/"]}`, false},
		{`{"block_words":["/\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL/","/\\S+@\\S+\\.\\S+/","/[^a]{3}b/"]}`, false},
		{`{"mode":"sometimes","max_links":-1,"version":-3,"max_token_age":"soon","actions":{"captcha":"hold","honeypot":"approve"}}`, false},
		{`{"blocked_ips":["10.0.0.300","fe80::1%eth0","10.0.0.0/33"],"blocked_emails":["bob@","spam..example"],"trusted_emails":["example.com"]}`, false},
		{`{"unknown":1,"rate_limits":{"ipv9":{},"ip":{"every":5,"rate":1}}}`, false},
		{`{"hold_words":"viagra","max_links":"two","actions":[]}`, false},
		{`{"": 1}`, false},
		{`[1,2]`, false},
		{`{"mode":`, false},
		{"\xff\xfe", false},
		{"mode: hold_on_hits\nblock_words:\n  - Viagra\n  - /cas+ino/\nmax_token_age: 2h\n", true},
		{"hold_words: [a, b, /c+d/]\nrate_limits:\n  ip: {every: 3s, burst: 2}\n", true},
		{"1: one\n", true},
		{"- a\n- b\n", true},
		{"mode: [\n", true},
		{"max_links: 1e400\n", true},
		{"version: !!binary aGk=\n", true},
		{"a: &x [*x]\n", true},
	} {
		f.Add([]byte(seed.doc), seed.yaml, "Ann Reader", "ann+x@spam.example", "https://a.example",
			"buy now at https://x.example and https://y.example, cheap c@sino", "203.0.113.9", uint8(0), false)
	}
	f.Add([]byte(`{"mode":"hold_first_time","trusted_emails":["t@example.org"],"hold_words":["hold"],"block_words":["block"],"actions":{"block_words":"hold"}}`), false,
		"hold", "T@Example.org", "", "block and hold www.a.example www.b.example", "::ffff:198.51.100.1", uint8(3), true)
	f.Add([]byte(`{"mode":"hold_on_hits","max_links":1,"blocked_ips":["198.51.100.0/24"],"blocked_emails":["example.org"]}`), false,
		"", "x@sub.example.org.", "", "[a](https://a.example)", "198.51.100.200", uint8(4), false)

	tokens := []TokenStatus{TokenOK, TokenMissing, TokenForged, TokenTooFast, TokenExpired, ""}
	f.Fuzz(func(t *testing.T, doc []byte, asYAML bool, name, email, website, body, ip string, token uint8, known bool) {
		parse := ParseJSON
		if asYAML {
			parse = ParseYAML
		}
		r, err := parse(doc)
		if err != nil {
			checkRulesError(t, err)
			return
		}
		checkValidRules(t, r)

		e, err := Compile(r)
		if err != nil {
			t.Fatalf("rules %+v parsed but do not compile: %v", r, err)
		}
		in := Input{
			Name: name, Email: email, Website: website, Body: body, BodyText: strings.ToUpper(body),
			RenderedLinks: int(token >> 3), IP: ip, UserAgent: name + body, Honeypot: website,
			Token: tokens[int(token)%len(tokens)], TokenAge: time.Duration(token) * time.Second, KnownAuthor: known,
		}
		v := e.Evaluate(in)
		if again := e.Evaluate(in); !reflect.DeepEqual(again, v) {
			t.Fatalf("Evaluate is not deterministic: %+v, then %+v", v, again)
		}
		checkVerdict(t, r, in, v)
	})
}

// checkRulesError fails t unless err refuses a document field by field.
func checkRulesError(t *testing.T, err error) {
	t.Helper()
	var ve *comment.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *comment.ValidationError", err, err)
	}
	if len(ve.Fields) == 0 {
		t.Fatal("validation error names no field")
	}
	for field, msg := range ve.Fields {
		if field == "" || !utf8.ValidString(field) {
			t.Fatalf("validation error names field %q", field)
		}
		if msg == "" || !utf8.ValidString(msg) {
			t.Fatalf("field %q has message %q", field, msg)
		}
	}
}

// checkValidRules fails t unless r, as ParseJSON or ParseYAML returned it,
// is valid, normalised, and reads back the same from both formats.
func checkValidRules(t *testing.T, r Rules) {
	t.Helper()
	if ve := r.Validate(); ve != nil {
		t.Fatalf("parsed rules are invalid: %v", ve.Fields)
	}
	n := r
	n.Normalize()
	if !reflect.DeepEqual(n, r) {
		t.Fatalf("parsed rules are not normalised:\n got %+v\nnormalised %+v", r, n)
	}
	for _, format := range []struct {
		name   string
		encode func() ([]byte, error)
		parse  func([]byte) (Rules, error)
	}{
		{"JSON", r.JSON, ParseJSON},
		{"YAML", r.YAML, ParseYAML},
	} {
		b, err := format.encode()
		if err != nil {
			t.Fatalf("encode as %s: %v", format.name, err)
		}
		back, err := format.parse(b)
		if err != nil {
			t.Fatalf("%s of valid rules does not parse: %v\n%s", format.name, err, b)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("%s round trip:\n got %+v\nwant %+v\n%s", format.name, back, r, b)
		}
	}
}

// checkVerdict fails t unless v is a verdict the rules r can give for in.
func checkVerdict(t *testing.T, r Rules, in Input, v Verdict) {
	t.Helper()
	order := append(RuleNames(), RuleMode, RuleTrusted)
	configured := map[string]bool{
		RuleBlockedIP:    len(r.BlockedIPs) > 0,
		RuleBlockedEmail: len(r.BlockedEmails) > 0,
		RuleBlockWords:   len(r.BlockWords) > 0,
		RuleHoneypot:     strings.TrimSpace(in.Honeypot) != "",
		RuleTokenMissing: in.Token != TokenOK && in.Token != TokenTooFast && in.Token != TokenExpired,
		RuleTokenTooFast: in.Token == TokenTooFast,
		RuleTokenExpired: in.Token == TokenExpired,
		RuleHoldWords:    len(r.HoldWords) > 0,
		RuleMaxLinks:     r.MaxLinks > 0,
		RuleMode:         r.Mode != ModeHoldOnHits,
		RuleTrusted:      len(r.TrustedEmails) > 0,
	}
	last := -1
	fired := map[string]bool{}
	for _, reason := range v.Reasons {
		i := slices.Index(order, reason.Rule)
		if i < 0 || !configured[reason.Rule] {
			t.Fatalf("reason %+v names a rule that does not exist or cannot fire here (verdict %+v)", reason, v)
		}
		if i <= last {
			t.Fatalf("reasons out of order or repeated: %+v", v.Reasons)
		}
		last = i
		fired[reason.Rule] = true
		if reason.Detail == "" || len(reason.Detail) > maxDetail || !utf8.ValidString(reason.Detail) {
			t.Fatalf("reason %+v: want a detail of 1 to %d bytes of valid UTF-8", reason, maxDetail)
		}
	}
	if fired[RuleHoneypot] != configured[RuleHoneypot] {
		t.Fatalf("honeypot %q: reasons %+v", in.Honeypot, v.Reasons)
	}
	for _, rule := range []string{RuleTokenMissing, RuleTokenTooFast, RuleTokenExpired} {
		if fired[rule] != configured[rule] {
			t.Fatalf("token %q: reasons %+v", in.Token, v.Reasons)
		}
	}

	// The action, as Evaluate documents it.
	trusted := fired[RuleTrusted]
	want := ActionApprove
	for _, reason := range v.Reasons {
		a, ok := r.Actions[reason.Rule]
		if !ok || trusted && a == ActionHold && trustSkips(reason.Rule) {
			continue
		}
		if a.Severity() > want.Severity() {
			want = a
		}
	}
	if want.Severity() <= ActionHold.Severity() && !trusted {
		switch {
		case r.Mode == ModeHoldAll, r.Mode == ModeHoldFirstTime && !in.KnownAuthor:
			if !fired[RuleMode] {
				t.Fatalf("mode %s, known author %v: no %s reason in %+v", r.Mode, in.KnownAuthor, RuleMode, v.Reasons)
			}
			want = ActionHold
		case fired[RuleMode]:
			t.Fatalf("mode %s, known author %v: unexpected %s reason in %+v", r.Mode, in.KnownAuthor, RuleMode, v.Reasons)
		}
	}
	if v.Action != want {
		t.Fatalf("verdict %s, want %s for reasons %+v (trusted %v, mode %s)", v.Action, want, v.Reasons, trusted, r.Mode)
	}
}

// FuzzPatternSource checks the two ways a word-list pattern is measured and
// written back: patternSource must mean what the parsed, folded pattern
// means (as re.String() writes it), and progSize must never count more
// than twice the instructions of the program, since a pattern it counts
// over twice the limit is refused unbuilt.
func FuzzPatternSource(f *testing.F) {
	for _, seed := range []struct{ pattern, text string }{
		{`cas+ino`, "the CASSINO is open"},
		{`v[i1!]agr[a4]`, "V1AGRA and viagr4"},
		{`\bfree\s+(money|cash)\b`, "Free   Money now"},
		{`(?i)ΚΑΖΙΝΟ`, "казино καζινο"},
		{`[^a]bc|x{2,5}?y*`, "abc bbc xxxxy"},
		{`^a$|(?m)^b$|(?s:.)\z`, "a\nb\nc"},
		{`\pL+\d{6,}`, "ÉTÉ123456"},
		{`\S+@\S+\.\S+`, "mail bob@spam.example now"},
		{`(?:)|\B|[\x{0}-\x{10FFFF}]`, "\x00\U0010FFFF"},
		{`(?U)a+b*?`, "aaabbb"},
		{`[[:alpha:]]{0,3}[\p{Greek}\p{Cyrillic}]`, "abcΩ"},
		{`(a{2}){3}|((b?)?)?`, "aaaaaa"},
		{`[ﬁﬂ]|ǅ|İ|ſ|K`, "fi ǆ i̇ s k"},
		{`x{0}y{0,0}z{1}`, "z"},
		{`\Q.*\E[\-\]\\^]`, ".*-"},
	} {
		f.Add(seed.pattern, seed.text)
	}
	fo := newFolder()
	f.Fuzz(func(t *testing.T, src, text string) {
		re, err := syntax.Parse(src, syntax.Perl|syntax.FoldCase)
		if err != nil {
			return
		}
		budget := maxClassFold
		fo.foldRegexp(re, &budget)
		est := progSize(re)
		if est > 50_000 || classRanges(re) > MaxPatternClassRanges {
			return // too slow to build here; compilePattern refuses it unbuilt
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return
		}
		if real := len(prog.Inst); est > 2*real {
			t.Fatalf("progSize(%q) = %d, more than twice the %d instructions", src, est, real)
		}
		// String writes a literal that folding emptied (a zero-width
		// character) as nothing, so /a\x{200B}+b/ would read as /a+b/;
		// as the empty match, it writes what the folded pattern means.
		emptyLiterals(re)
		want, err := regexp.Compile(re.String())
		if err != nil {
			t.Fatalf("pattern %q written by String as %q does not compile: %v", src, re.String(), err)
		}
		got, err := regexp.Compile(patternSource(re))
		if err != nil {
			t.Fatalf("pattern %q written as %q does not compile: %v", src, patternSource(re), err)
		}
		for _, s := range []string{text, fo.fold(text), strings.ToUpper(text)} {
			if g, w := got.FindAllStringIndex(s, -1), want.FindAllStringIndex(s, -1); !reflect.DeepEqual(g, w) {
				t.Fatalf("pattern %q on %q: written as %q it matches at %v, as %q at %v", src, s, patternSource(re), g, re.String(), w)
			}
		}
	})
}

// emptyLiterals turns each literal of re without runes into the empty match.
func emptyLiterals(re *syntax.Regexp) {
	if re.Op == syntax.OpLiteral && len(re.Rune) == 0 {
		re.Op = syntax.OpEmptyMatch
	}
	for _, sub := range re.Sub {
		emptyLiterals(sub)
	}
}
