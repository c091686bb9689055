package spam_test

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/spam"
)

// These tests give Evaluate what a caller gives it: the body as the
// project's renderer shows it to readers.

// rendered renders body and returns its reader text and link count, as
// Input.BodyText and Input.RenderedLinks describe them.
func rendered(t testing.TB, r *markup.Renderer, body string) (text string, links int) {
	t.Helper()
	h, err := r.Render(body)
	if err != nil {
		t.Fatalf("Render(%q): %v", body, err)
	}
	return readerText(h), strings.Count(h, "<a ")
}

var (
	blockEnd = regexp.MustCompile(`(?i)<br\s*/?>|</(p|li|pre|blockquote)>`)
	anyTag   = regexp.MustCompile(`<[^>]*>`)
)

// readerText is sanitised HTML as text: tags removed, block ends and
// line breaks as newlines, entities decoded.
func readerText(h string) string {
	return html.UnescapeString(anyTag.ReplaceAllString(blockEnd.ReplaceAllString(h, "\n"), ""))
}

// TestRenderedLinks: where CountLinks misses links the renderer makes,
// Input.RenderedLinks has max_links count them.
func TestRenderedLinks(t *testing.T) {
	tests := []struct {
		name string
		body string
		// countLinks is what CountLinks, reading Markdown only, finds.
		countLinks int
		// want is the number of links readers see.
		want int
	}{
		{"entity in the scheme", "[a](https&#58;//a.example) [b](&#104;ttps://b.example)", 0, 2},
		{"backslash escapes in the destination", `[a](https\://a.example) [b](https:\/\/b.example)`, 0, 2},
		{"URL in underscore emphasis", "_https://a.example_ and _https://b.example_", 0, 2},
		{"URL after an underscore", "x_https://a.example y_https://b.example", 0, 2},
		{"reference link used twice", "[a][r] and [b][r]\n\n[r]: https://a.example", 1, 2},
		{"what CountLinks does see", "https://a.example [b](https://b.example)", 2, 2},
	}
	r := markup.NewRenderer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, links := rendered(t, r, tt.body)
			if links != tt.want {
				t.Fatalf("renderer made %d links of %q, want %d", links, tt.body, tt.want)
			}
			if got := spam.CountLinks(tt.body); got != tt.countLinks {
				t.Errorf("CountLinks(%q) = %d, want %d", tt.body, got, tt.countLinks)
			}
			rules := spam.DefaultRules()
			rules.Mode, rules.MaxLinks = spam.ModeHoldOnHits, tt.want
			e, err := spam.Compile(rules)
			if err != nil {
				t.Fatal(err)
			}
			v := e.Evaluate(spam.Input{Body: tt.body, BodyText: text, RenderedLinks: links, Token: spam.TokenOK})
			if len(v.Reasons) != 1 || v.Reasons[0].Rule != spam.RuleMaxLinks {
				t.Errorf("reasons = %v, want max_links alone", v.Reasons)
			}
		})
	}
}

// TestRenderedText: a word hidden from the Markdown by entities, markup or
// raw HTML is found in the text readers see.
func TestRenderedText(t *testing.T) {
	rules := spam.DefaultRules()
	rules.Mode, rules.BlockWords = spam.ModeHoldOnHits, []string{"viagra", "buy now"}
	e, err := spam.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	r := markup.NewRenderer()
	for _, body := range []string{
		"cheap &#118;iagra", "cheap v<b></b>iagra", "cheap v*i*agra", "cheap v[i](https://x.example)agra",
		"cheap v**i**a~~g~~ra", "cheap vi&shy;agra", "buy&nbsp;now",
	} {
		text, links := rendered(t, r, body)
		v := e.Evaluate(spam.Input{Body: body, BodyText: text, RenderedLinks: links, Token: spam.TokenOK})
		if v.Action != spam.ActionReject || !slices.ContainsFunc(v.Reasons, func(reason comment.Reason) bool {
			return reason.Rule == spam.RuleBlockWords && strings.HasSuffix(reason.Detail, " in body")
		}) {
			t.Errorf("body %q (text %q): verdict %v, want block_words in body", body, text, v)
		}
	}
}

// FuzzCountLinksAgreesWithRenderer checks CountLinks against the renderer
// on bodies built from the link syntax CountLinks claims to read (bare
// URLs and www. names, autolinks, inline links with or without a title or
// angle brackets, URLs in emphasis and parentheses, relative links), each
// byte of the input choosing a piece and what separates it from the next.
// On these, the two must agree exactly.
func FuzzCountLinksAgreesWithRenderer(f *testing.F) {
	pieces := []string{
		"word", "Word.", "**bold**", "https://a.example/p?q=1", "www.b.example", "<https://c.example>",
		"[t](https://d.example)", "[t](/relative)", "[https://e.example](https://f.example)",
		"*https://g.example*", "(https://h.example)", "~~www.i.example~~", "[t](<https://j.example/a b>)",
		`[t](https://k.example "Title")`, "[t](mailto:a@b.example)", "[note]", "![i](https://l.example/i.png)",
	}
	seps := []string{" ", "\n", "\n\n"}
	f.Add([]byte{3, 4, 5, 6, 7})
	f.Add([]byte{8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{0, 20, 40, 60, 80, 100})
	r := markup.NewRenderer()
	f.Fuzz(func(t *testing.T, choice []byte) {
		if len(choice) > 40 {
			choice = choice[:40]
		}
		var b strings.Builder
		for i, c := range choice {
			if i > 0 {
				b.WriteString(seps[int(c)/len(pieces)%len(seps)])
			}
			b.WriteString(pieces[int(c)%len(pieces)])
		}
		body := b.String()
		_, links := rendered(t, r, body)
		// Images count as links to CountLinks; the renderer drops them.
		images := strings.Count(body, "![")
		if got := spam.CountLinks(body); got != links+images {
			t.Fatalf("CountLinks(%q) = %d, renderer made %d links and dropped %d images", body, got, links, images)
		}
	})
}
