package postgres

import (
	"strings"
	"unicode"
)

// maxWordBytes is the longest word PostgreSQL's text search keeps: the
// parser skips longer ones, in a comment as in a query.
const maxWordBytes = 2047

// searchQuery returns the words of a moderator's search as searchWords
// does, or false if one of them is too long to be indexed: no comment can
// then match every word, as in the SQLite store.
func searchQuery(q string) (words string, ok bool) {
	words = searchWords(q)
	for _, w := range strings.Fields(words) {
		if len(w) > maxWordBytes {
			return "", false
		}
	}
	return words, true
}

// searchText returns the words of a comment's author name and body, as the
// search column indexes them.
func searchText(authorName, body string) string {
	return searchWords(authorName + " " + body)
}

// searchWords returns the distinct words of s, lower-cased and separated by
// single spaces, or "" if s has none. Words are runs of letters, digits and
// private-use characters (as SQLite's unicode61 tokenizer splits them), so
// PostgreSQL's text search parser, given the result, finds exactly these
// words: no punctuation is left for it to read hosts, emails, paths, URLs or
// decimal numbers into, and nothing the moderator types can be tsquery
// syntax. Case is folded here rather than by the database, whose lower()
// depends on its locale.
func searchWords(s string) string {
	words := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Co, r)
	})
	seen := make(map[string]bool, len(words))
	var b strings.Builder
	for _, w := range words {
		w = strings.ToLower(w)
		if seen[w] {
			continue
		}
		seen[w] = true
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}
