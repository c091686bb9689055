package comment

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Field limits in bytes, as WordPress counts them (its database columns).
// Submissions, moderators' edits and imports all keep to them, so that any
// stored comment can be edited again and its page asked for by the widget.
const (
	MaxNameBytes      = 245
	MaxEmailBytes     = 100
	MaxWebsiteBytes   = 200
	MaxBodyBytes      = 65525
	MaxPageKeyBytes   = 512
	MaxPageURLBytes   = 2000
	MaxPageTitleBytes = 500
)

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

// IsWebURL reports whether s is an absolute http or https URL with a valid
// host (an IPv6 literal, or a name that survives IDNA both ways) and no
// user info, white space or backslash: what an author's website may be.
func IsWebURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" {
		return false
	}
	if strings.ContainsAny(s, " \t\r\n\\") {
		return false
	}
	host := u.Hostname()
	if host == "" {
		return false
	}
	if strings.HasPrefix(u.Host, "[") { // IPv6 literal
		return strings.Contains(host, ":")
	}
	return ValidHostname(host, false)
}

// ValidHostname reports whether host is a DNS name whose IDNA form is valid
// and maps back to host (lower-cased), with labels of letters, digits and
// hyphens; needDot asks for at least two labels, as a mail domain needs.
func ValidHostname(host string, needDot bool) bool {
	ascii, err := idna.Lookup.ToASCII(host)
	if err != nil || ascii == "" || len(ascii) > 253 {
		return false
	}
	back, err := idna.Lookup.ToUnicode(ascii)
	if err != nil || back != strings.ToLower(host) {
		return false
	}
	labels := strings.Split(ascii, ".")
	if needDot && len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if !isAlnum(r) && r != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}
