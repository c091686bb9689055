package spam

import "strings"

// CountLinks returns the number of links in a Markdown comment body: every
// http:// or https:// URL and every bare www. name (the renderer links
// those too), whether written bare, as an autolink <https://...>, or as the
// destination of a Markdown link or image. A Markdown link counts once: a
// URL in its text (as in [https://a.example](https://a.example)) is not
// counted again; a Markdown link whose destination is not http(s) or www.
// does not count. Case is ignored ("HTTPS://", "WWW.").
//
// Reading Markdown alone, it misses links the renderer makes from
// entities and backslash escapes in a destination ([a](https&#58;//x)),
// from a URL glued to an underscore (_https://x_), and from a reference
// link used more than once. Engine.Evaluate takes the larger of its count
// and Input.RenderedLinks, the count of the rendered HTML.
func CountLinks(body string) int {
	n := 0
	for i := 0; i < len(body); {
		c := body[i]
		if c == '[' {
			if end, dest, ok := inlineLink(body, i); ok {
				if urlPrefix(dest) > 0 {
					n++
				}
				i = end
				continue
			}
		}
		if (c|0x20 == 'h' || c|0x20 == 'w') && (i == 0 || !isURLNeighbour(body[i-1])) {
			if l := urlPrefix(body[i:]); l > 0 {
				n++
				i = urlEnd(body, i+l)
				continue
			}
		}
		i++
	}
	return n
}

// isURLNeighbour reports whether c, just before "http" or "www.", makes it
// part of a longer word or name rather than the start of a URL.
func isURLNeighbour(c byte) bool {
	return isTokenByte(c) || c == '.' || c == '-' || c == '_' || c == '@' || c == '/'
}

// urlPrefix returns the length of the "http://", "https://" or "www."
// that s starts with (any case), followed by a host character, or 0.
func urlPrefix(s string) int {
	var l int
	switch {
	case hasPrefixFold(s, "https://"):
		l = len("https://")
	case hasPrefixFold(s, "http://"):
		l = len("http://")
	case hasPrefixFold(s, "www."):
		l = len("www.")
	default:
		return 0
	}
	if l < len(s) && (isTokenByte(s[l]) || s[l] >= 0x80 || s[l] == '[') {
		return l
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// urlEnd returns the index just past the URL whose host starts at i.
func urlEnd(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v', '<', '>', '"', '\'', '`', '(', ')', '[', ']':
			return i
		}
		i++
	}
	return i
}

// maxLinkText bounds how far inlineLink looks for the end of a link, so
// that a body full of "[" stays linear to scan.
const maxLinkText = 1000

// inlineLink reports whether s has a Markdown inline link or image
// "[text](dest ...)" whose "[" is at i, and if so returns the index past
// its ")" and its destination (without <>).
func inlineLink(s string, i int) (end int, dest string, ok bool) {
	limit := min(len(s), i+maxLinkText)
	// The text: brackets nest, a backslash escapes.
	depth, j := 0, i
	for ; j < limit; j++ {
		switch s[j] {
		case '\\':
			j++
			continue
		case '[':
			depth++
		case ']':
			depth--
		}
		if depth == 0 {
			break
		}
	}
	if depth != 0 || j+1 >= limit || s[j+1] != '(' {
		return 0, "", false
	}
	// The destination and optional title: parentheses nest.
	start := j + 2
	depth = 1
	k := start
	for ; k < limit && depth > 0; k++ {
		switch s[k] {
		case '\\':
			k++
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	if depth != 0 {
		return 0, "", false
	}
	inner := strings.TrimSpace(s[start : k-1])
	if strings.HasPrefix(inner, "<") {
		if e := strings.IndexByte(inner, '>'); e > 0 {
			return k, inner[1:e], true
		}
	}
	if e := strings.IndexAny(inner, " \t\n"); e >= 0 {
		inner = inner[:e]
	}
	return k, inner, true
}
