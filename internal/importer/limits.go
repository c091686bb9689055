package importer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
)

// WebURL returns s, trimmed, when it is a web address an author's website
// may be (see comment.IsWebURL), else "".
func WebURL(s string) string {
	s = strings.TrimSpace(s)
	if !comment.IsWebURL(s) {
		return ""
	}
	return s
}

// CheckLimits returns an error naming comment id when the author name is
// empty, longer than comment.MaxNameBytes or not one clean line, the website
// longer than comment.MaxWebsiteBytes or not one clean line, or the body empty,
// longer than comment.MaxBodyBytes or not clean text.
func CheckLimits(id, name, website, body string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("comment %s: the author name is empty", id)
	case len(name) > comment.MaxNameBytes:
		return fmt.Errorf("comment %s: the author name is longer than %d bytes", id, comment.MaxNameBytes)
	case !comment.CleanText(name, false):
		return fmt.Errorf("comment %s: the author name holds control characters or invalid UTF-8", id)
	case len(website) > comment.MaxWebsiteBytes:
		return fmt.Errorf("comment %s: the author website is longer than %d bytes", id, comment.MaxWebsiteBytes)
	case !comment.CleanText(website, false):
		return fmt.Errorf("comment %s: the author website holds control characters or invalid UTF-8", id)
	case strings.TrimSpace(body) == "":
		return fmt.Errorf("comment %s: the body is empty", id)
	case len(body) > comment.MaxBodyBytes:
		return fmt.Errorf("comment %s: the body is longer than %d bytes", id, comment.MaxBodyBytes)
	case !comment.CleanText(body, true):
		return fmt.Errorf("comment %s: the body holds control characters or invalid UTF-8", id)
	}
	return nil
}

// CheckPage returns an error when a page key is longer than
// comment.MaxPageKeyBytes or not one clean line, or its title longer than
// comment.MaxPageTitleBytes or not one clean line.
func CheckPage(key, title string) error {
	switch {
	case len(key) > comment.MaxPageKeyBytes:
		return fmt.Errorf("page key %.40q...: longer than %d bytes", key, comment.MaxPageKeyBytes)
	case !comment.CleanText(key, false):
		return fmt.Errorf("page key %q holds control characters or invalid UTF-8", key)
	case len(title) > comment.MaxPageTitleBytes:
		return fmt.Errorf("page %q: the title is longer than %d bytes", key, comment.MaxPageTitleBytes)
	case !comment.CleanText(title, false):
		return fmt.Errorf("page %q: the title holds control characters or invalid UTF-8", key)
	}
	return nil
}

// FitLine returns s as one clean line of at most max bytes: invalid UTF-8
// and control characters become spaces, runs of white space one space,
// and a longer text is cut at a character boundary. cut reports whether
// it was cut.
func FitLine(s string, max int) (line string, cut bool) {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s, false
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n]), true
}

// CleanBody returns s with invalid UTF-8 and control characters other
// than tab, CR and LF replaced by U+FFFD.
func CleanBody(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r != '\t' && r != '\n' && r != '\r' && unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}
