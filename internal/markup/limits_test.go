package markup

import (
	"fmt"
	"strings"
	"testing"
)

// TestRenderLimits checks that markup within the limits renders as usual
// and that markup beyond them is shown as typed.
func TestRenderLimits(t *testing.T) {
	r := NewRenderer()
	links := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "[l%d](https://example.com/%d) ", i, i)
		}
		return b.String()
	}
	tests := []struct {
		name string
		src  string
		// count maps a substring of the output to how often it must appear.
		count map[string]int
	}{
		{
			name:  "quotes at the nesting limit",
			src:   strings.Repeat("> ", maxNesting) + "deep",
			count: map[string]int{"<blockquote>": maxNesting, "&gt;": 0},
		},
		{
			name:  "quotes beyond the nesting limit",
			src:   strings.Repeat("> ", maxNesting+4) + "deep",
			count: map[string]int{"<blockquote>": maxNesting, "&gt; &gt; &gt; &gt; deep": 1},
		},
		{
			name:  "lists beyond the nesting limit",
			src:   strings.Repeat("- ", maxNesting+4) + "deep",
			count: map[string]int{"<ul>": maxNesting, "<li>": maxNesting, "- - - - deep": 1},
		},
		{
			name: "indented lists beyond the nesting limit",
			src: func() string {
				var b strings.Builder
				for i := range maxNesting + 4 {
					b.WriteString(strings.Repeat("  ", i) + "- item\n")
				}
				return b.String()
			}(),
			count: map[string]int{"<ul>": maxNesting, "<li>": maxNesting},
		},
		{
			name:  "quotes and lists share the limit",
			src:   strings.Repeat("> - ", maxNesting) + "deep",
			count: map[string]int{"<blockquote>": maxNesting / 2, "<ul>": maxNesting / 2},
		},
		{
			// The list parser must still see a sibling item at the limit,
			// or a later list would be read as text.
			name: "sibling items at the nesting limit",
			src: strings.Repeat("- ", maxNesting) + "a\n" + strings.Repeat("  ", maxNesting-1) + "- b\n" +
				strings.Repeat("  ", maxNesting-1) + "- c\n\npara\n\n- new",
			count: map[string]int{"<ul>": maxNesting + 1, "<li>": maxNesting + 3, "<li>new</li>": 1},
		},
		{
			name:  "links up to the limit",
			src:   links(maxLinkOpeners),
			count: map[string]int{"<a ": maxLinkOpeners, "[l": 0},
		},
		{
			name: "links beyond the limit",
			src:  links(maxLinkOpeners + 2),
			// The bare URLs inside the last two are still linked.
			count: map[string]int{`">l`: maxLinkOpeners, "[l": 2, "<a ": maxLinkOpeners + 2},
		},
		{
			name:  "emphasis up to the limit",
			src:   strings.Repeat("*a* ", maxDelimiterRuns/2),
			count: map[string]int{"<em>": maxDelimiterRuns / 2, "*": 0},
		},
		{
			name:  "emphasis beyond the limit",
			src:   strings.Repeat("*a* ", maxDelimiterRuns/2+2),
			count: map[string]int{"<em>": maxDelimiterRuns / 2, "*a*": 2},
		},
		{
			name:  "underscores in code do not count",
			src:   "```\n" + strings.Repeat("a_b ", maxDelimiterRuns) + "\n```\n\n_a_",
			count: map[string]int{"<em>": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Render(tt.src)
			if err != nil {
				t.Fatalf("Render error: %v", err)
			}
			if err := checkRendered(got); err != nil {
				t.Fatalf("Render output %q: %v", got, err)
			}
			for sub, want := range tt.count {
				if n := strings.Count(got, sub); n != want {
					t.Errorf("output has %d of %q, want %d; output:\n%.2000s", n, sub, want, got)
				}
			}
		})
	}
}
