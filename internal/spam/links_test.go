package spam

import "testing"

func TestCountLinks(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"none", "No links here, just text about www and http.", 0},
		{"bare https", "see https://a.example/x?y=1 now", 1},
		{"bare http upper case", "HTTP://A.EXAMPLE", 1},
		{"bare www", "visit www.a.example today", 1},
		{"www inside a URL counts once", "https://www.a.example/page", 1},
		{"autolink", "<https://a.example>", 1},
		{"markdown link", "[click here](https://a.example)", 1},
		{"markdown link with title", `[x](https://a.example "Title")`, 1},
		{"markdown link in angle brackets", "[x](<https://a.example/a b>)", 1},
		{"markdown link whose text is the URL", "[https://a.example](https://a.example)", 1},
		{"markdown link whose text is another URL", "[https://a.example](https://b.example)", 1},
		{"markdown link to a relative path", "[x](/local/page)", 0},
		{"markdown link to mailto", "[x](mailto:a@b.example)", 0},
		{"markdown link to www", "[x](www.a.example)", 1},
		{"image", "![pic](https://img.example/a.png)", 1},
		{"link around an image", "[![pic](https://img.example/a.png)](https://a.example)", 1},
		{"nested parentheses", "[wiki](https://en.wikipedia.example/wiki/Foo_(bar)) and https://b.example", 2},
		{"bracket that is not a link", "[note] https://a.example", 1},
		{"reference definition", "[ref]: https://a.example\nsee [ref]", 1},
		{"mixed", "One https://a.example, two <http://b.example>, three [c](https://c.example), four www.d.example.", 4},
		{"same URL twice counts twice", "https://a.example https://a.example", 2},
		{"URLs in parentheses", "(https://a.example)(https://b.example)", 2},
		{"scheme without host", "https:// and http://", 0},
		{"word ending in http", "xhttp://a.example", 0},
		{"email with www", "me@www.example", 0},
		{"unclosed bracket", "[ https://a.example", 1},
		{"unclosed link", "[x](https://a.example", 1},
		{"html", `<a href="https://a.example">x</a>`, 1},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CountLinks(tt.body); got != tt.want {
				t.Errorf("CountLinks(%q) = %d, want %d", tt.body, got, tt.want)
			}
		})
	}
}
