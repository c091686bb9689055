package spam

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchRules is a realistic large rule set: 1,000 word-list entries
// (single words, 80 phrases, 20 patterns), 100 CIDR ranges (IPv4 and
// IPv6) and 200 blocked emails and domains.
func benchRules() Rules {
	syllables := []string{"ka", "lo", "mi", "ne", "ru", "ta", "ve", "zo", "pri", "sto", "gar", "bel", "dun", "fex", "qui", "wor"}
	word := func(i int) string {
		var b strings.Builder
		for n := i + 7; ; n /= len(syllables) {
			b.WriteString(syllables[n%len(syllables)])
			if n < len(syllables) || b.Len() > 8 {
				break
			}
		}
		return fmt.Sprintf("%s%d", b.String(), i%10)
	}
	patterns := []string{
		`/cas+ino/`, `/v[i1!]agr[a4]/`, `/\bfree\s+(money|cash|bitcoin)\b/`, `/(cheap|discount)\s+\w+\s+pills/`,
		`/\b\w+\.(ru|cn|top|xyz|click)\b/`, `/crypto\s*(wallet|airdrop)/`, `/\bloans?\s+online\b/`, `/payday\s+loans?/`,
		`/\bseo\s+(services|agency)\b/`, `/buy\s+followers/`, `/work\s+from\s+home\s+\$?\d+/`, `/\bxxx+\b/`,
		`/porn\w*/`, `/\bescort(s|ing)?\b/`, `/rolex\s+replica/`, `/(win|won)\s+an?\s+iphone/`,
		`/\bgambl(e|ing)\b/`, `/essay\s+writing/`, `/telegram\s*:\s*@\w+/`, `/whatsapp\s*\+?\d{6,}/`,
	}
	phrases := []string{"buy now", "click here", "limited offer", "act now", "best price", "100 percent free",
		"no credit check", "risk free", "order today", "special promotion"}
	r := DefaultRules()
	for i := range 980 {
		w := word(i)
		if i%12 == 0 {
			w = phrases[i%len(phrases)] + " " + w
		}
		if i%2 == 0 {
			r.HoldWords = append(r.HoldWords, w)
		} else {
			r.BlockWords = append(r.BlockWords, w)
		}
	}
	for i, p := range patterns {
		if i%2 == 0 {
			r.HoldWords = append(r.HoldWords, p)
		} else {
			r.BlockWords = append(r.BlockWords, p)
		}
	}
	for i := range 100 {
		if i%2 == 0 {
			r.BlockedIPs = append(r.BlockedIPs, fmt.Sprintf("%d.%d.%d.0/%d", 20+i, i*7%256, i*13%256, 16+i%9))
		} else {
			r.BlockedIPs = append(r.BlockedIPs, fmt.Sprintf("2001:db8:%x::/%d", i*97, 32+i%33))
		}
	}
	for i := range 200 {
		if i%3 == 0 {
			r.BlockedEmails = append(r.BlockedEmails, fmt.Sprintf("bot%d@mail%d.example", i, i))
		} else {
			r.BlockedEmails = append(r.BlockedEmails, fmt.Sprintf("spam%d.example", i))
		}
	}
	r.TrustedEmails = []string{"editor@news.example"}
	return r
}

// benchInput is an ~800-byte comment with two links.
func benchInput() Input {
	return Input{
		Name:    "Margaret O'Neill",
		Email:   "margaret.oneill@post.example",
		Website: "https://margaret.example/notes",
		Body: `I have lived by the harbour for almost thirty years, and I remember when the
old ferry terminal was still in use. The council's plan to turn the warehouses
into flats has been discussed since 2011, so it is good to finally see some
numbers. Two things the article does not mention: the flood defences along the
east quay were only rated for a one-in-fifty-year storm (see the 2019 report at
https://council.example/reports/flood-2019.pdf), and the bus route that used to
serve the quay was cut last spring. Without it, the new residents will all need
cars, and the road is already jammed at 8am. I would also like to know who pays
for the seawall repairs. There is a good summary of the earlier consultation on
[the residents' association site](https://harbour-residents.example/consultation).
Thanks for covering this properly.`,
		IP:        "192.0.2.44",
		UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		Token:     TokenOK,
		TokenAge:  95 * time.Second,
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e, err := Compile(benchRules())
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Body)))
	var v Verdict
	for b.Loop() {
		v = e.Evaluate(in)
	}
	if v.Action != ActionHold {
		b.Fatalf("verdict %+v, want hold (max_links)", v)
	}
}

func BenchmarkCompile(b *testing.B) {
	r := benchRules()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateSpam evaluates an ~800-byte spam comment in disguise
// (homoglyphs, leetspeak, zero-width joiners) that fires words, patterns,
// a phrase and the link limit: the slow path.
func BenchmarkEvaluateSpam(b *testing.B) {
	e, err := Compile(benchRules())
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	in.Name = "Ⅴ1agra Ѕhop"
	in.Body = strings.Repeat("Вuy n0w сheap vі\u200dagra, FREE  money at the cаssino! Limited offer "+
		"kalo0 https://spam.example/x www.spam.example <https://spam.example/y>. ", 6)[:800]
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Body)))
	var v Verdict
	for b.Loop() {
		v = e.Evaluate(in)
	}
	if v.Action != ActionReject {
		b.Fatalf("verdict %+v, want reject", v)
	}
}

// worstPattern returns the i-th of a family of patterns about as costly as
// an allowed pattern can be: just under MaxPatternSteps, with nested
// repetitions of broad classes that keep nearly every instruction busy at
// every byte of prose, and no required literal for the prefilter to look
// for. None matches prose (no run of seven digits). They are distinct for
// i up to 1950, since Normalize would merge equal ones.
func worstPattern(i int) string {
	return fmt.Sprintf(`/(?:\w+\s*){0,%d}\d{%d}/`, 196-i/10, 7+i%10)
}

// worstPatterns returns patterns as costly as one word list may hold
// together.
func worstPatterns(from int) []string {
	var list []string
	for i, steps := from, 0; ; i++ {
		p := worstPattern(i)
		n := patternSteps(p)
		if steps+n > MaxListPatternSteps {
			return list
		}
		list = append(list, p)
		steps += n
	}
}

func patternSteps(entry string) int {
	p, err := newFolder().compilePattern(entry[1 : len(entry)-1])
	if err != nil {
		panic(err)
	}
	return p.steps
}

// maxBody is the size of the largest comment body the benchmarks judge.
const maxBody = 64 << 10

// largeInput is benchInput with its body repeated to maxBody bytes, and
// the reader text of that body in BodyText.
func largeInput() Input {
	in := benchInput()
	in.Body = strings.Repeat(in.Body+"\n\n", maxBody/len(in.Body)+1)[:maxBody]
	text := strings.NewReplacer("[", "", "](https://harbour-residents.example/consultation)", "").Replace(in.Body)
	in.BodyText, in.RenderedLinks = text, CountLinks(in.Body)
	return in
}

// BenchmarkEvaluateLargeBody judges a 64 KB comment, with its reader
// text, against the realistic large rule set.
func BenchmarkEvaluateLargeBody(b *testing.B) {
	e, err := Compile(benchRules())
	if err != nil {
		b.Fatal(err)
	}
	in := largeInput()
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Body) + len(in.BodyText)))
	for b.Loop() {
		e.Evaluate(in)
	}
}

// worstInput is a maxBody comment of words and spaces only, the text on
// which worstPattern keeps the most instructions busy.
func worstInput() Input {
	in := benchInput()
	in.Body = strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit ", maxBody/55+1)[:maxBody]
	return in
}

// BenchmarkEvaluateWorstPattern judges a 64 KB comment (without reader
// text) against one of the costliest patterns Validate allows. A whole
// word list at its limit costs about MaxListPatternSteps/steps times this,
// per list and per 64 KB field (Body and BodyText).
func BenchmarkEvaluateWorstPattern(b *testing.B) {
	r := testRules(nil)
	r.BlockWords = []string{worstPattern(0)}
	e := mustCompile(b, r)
	in := worstInput()
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Body)))
	b.ReportMetric(float64(patternSteps(worstPattern(0))), "steps")
	var v Verdict
	for b.Loop() {
		v = e.Evaluate(in)
	}
	if v.Action != ActionApprove {
		b.Fatalf("verdict %+v, want approve", v)
	}
}
