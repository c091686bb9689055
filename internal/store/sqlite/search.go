package sqlite

import (
	"strings"
	"unicode"
)

// matchExpr turns a moderator's search into an FTS5 query that every word
// of it must match, or "" if it has no words. Words are runs of letters,
// digits and private-use characters, as the unicode61 tokenizer sees them;
// each goes into the query as a quoted string, so nothing the moderator
// types (quotes, parentheses, *, -, AND, OR, NOT, NEAR, column filters) is
// read as FTS5 syntax. FTS5 folds case itself.
func matchExpr(q string) string {
	words := strings.FieldsFunc(q, func(r rune) bool {
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
		// A word holds no quote, but double any as FTS5 wants, to be sure.
		b.WriteString(`"` + strings.ReplaceAll(w, `"`, `""`) + `"`)
	}
	return b.String()
}
