package importer

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits in bytes that imported comments and pages must keep: those
// the HTTP API checks for submissions and moderators' edits (WordPress's
// column sizes), so that an imported comment can be edited like any other
// and its page requested by the widget.
const (
	MaxNameBytes      = 245
	MaxWebsiteBytes   = 200
	MaxBodyBytes      = 65525
	MaxPageKeyBytes   = 512
	MaxPageTitleBytes = 500
)

// WebURL returns s, trimmed, when it is an absolute http or https URL with
// a host and no user info, else "".
func WebURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return s
}

// CleanText reports whether s is valid UTF-8 without NUL or other control
// characters; tab is allowed, and CR and LF when multiline.
func CleanText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\t' || ((r == '\n' || r == '\r') && multiline) {
			continue
		}
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// CheckLimits returns an error naming comment id when the author name is
// empty, longer than MaxNameBytes or not one clean line, the website
// longer than MaxWebsiteBytes or not one clean line, or the body empty,
// longer than MaxBodyBytes or not clean text.
func CheckLimits(id, name, website, body string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("comment %s: the author name is empty", id)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("comment %s: the author name is longer than %d bytes", id, MaxNameBytes)
	case !CleanText(name, false):
		return fmt.Errorf("comment %s: the author name holds control characters or invalid UTF-8", id)
	case len(website) > MaxWebsiteBytes:
		return fmt.Errorf("comment %s: the author website is longer than %d bytes", id, MaxWebsiteBytes)
	case !CleanText(website, false):
		return fmt.Errorf("comment %s: the author website holds control characters or invalid UTF-8", id)
	case strings.TrimSpace(body) == "":
		return fmt.Errorf("comment %s: the body is empty", id)
	case len(body) > MaxBodyBytes:
		return fmt.Errorf("comment %s: the body is longer than %d bytes", id, MaxBodyBytes)
	case !CleanText(body, true):
		return fmt.Errorf("comment %s: the body holds control characters or invalid UTF-8", id)
	}
	return nil
}

// CheckPage returns an error when a page key is longer than
// MaxPageKeyBytes or not one clean line, or its title longer than
// MaxPageTitleBytes or not one clean line.
func CheckPage(key, title string) error {
	switch {
	case len(key) > MaxPageKeyBytes:
		return fmt.Errorf("page key %.40q...: longer than %d bytes", key, MaxPageKeyBytes)
	case !CleanText(key, false):
		return fmt.Errorf("page key %q holds control characters or invalid UTF-8", key)
	case len(title) > MaxPageTitleBytes:
		return fmt.Errorf("page %q: the title is longer than %d bytes", key, MaxPageTitleBytes)
	case !CleanText(title, false):
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
