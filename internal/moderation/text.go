package moderation

import (
	"strings"

	"golang.org/x/net/html"
)

// visibleText returns the text a reader sees in rendered, sanitised comment
// HTML (tags removed, entities decoded, block boundaries as spaces) and how
// many links it holds. The spam rules look at it as well as at the source,
// because Markdown and entities can hide a word from a check of the source
// alone (v*i*agra, &#118;iagra).
func visibleText(rendered string) (string, int) {
	var b strings.Builder
	links := 0
	z := html.NewTokenizer(strings.NewReader(rendered))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String(), links
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			if string(name) == "a" {
				links++
			}
			if blockTag(name) {
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			// Inline tags join their text (v<em>i</em>agra is one word);
			// blocks separate it.
			if name, _ := z.TagName(); blockTag(name) {
				b.WriteByte(' ')
			}
		}
	}
}

func blockTag(name []byte) bool {
	switch string(name) {
	case "p", "br", "li", "ul", "ol", "blockquote", "pre":
		return true
	}
	return false
}
