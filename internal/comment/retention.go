package comment

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// ClientDataMode says what is left of a comment's client data (its IP
// address and user agent) once it is older than the retention period. The
// user agent is removed in every mode.
type ClientDataMode string

// The client-data retention modes.
const (
	// ClientDataTruncate keeps the network of the address (see TruncateIP),
	// enough to see that comments came from one network and to block it.
	ClientDataTruncate ClientDataMode = "truncate"
	// ClientDataDelete removes the address as well.
	ClientDataDelete ClientDataMode = "delete"
)

// Valid reports whether m is one of the known modes.
func (m ClientDataMode) Valid() bool {
	return m == ClientDataTruncate || m == ClientDataDelete
}

// The networks TruncateIP keeps: an IPv4 /24 and an IPv6 /48 (a site's or
// a provider's block, shared by many subscribers).
const (
	TruncatedIPv4Bits = 24
	TruncatedIPv6Bits = 48
)

// TruncateIP returns the network of a client address as a CIDR prefix: its
// /24 for IPv4 (also when written as IPv4-mapped IPv6, which is returned in
// IPv4 form), its /48 for IPv6, without any zone. For example 198.51.100.7
// gives 198.51.100.0/24 and 2001:db8:1234:5678::1 gives 2001:db8:1234::/48.
// A prefix is accepted too and never widened past those sizes, so that
// truncating twice changes nothing. An empty or unparsable value gives "".
//
// The result is written as a prefix rather than as an address so that no
// one mistakes it for a real client's address, and so that blocking it
// blocks the whole network.
func TruncateIP(ip string) string {
	s := strings.TrimSpace(ip)
	if s == "" {
		return ""
	}
	var (
		addr netip.Addr
		bits = -1 // the bits the value itself carries, -1 for an address
	)
	if p, err := netip.ParsePrefix(s); err == nil {
		addr, bits = p.Addr(), p.Bits()
		if addr.Is4In6() {
			bits -= 96
		}
	} else if a, err := netip.ParseAddr(s); err == nil {
		addr = a.WithZone("")
	} else {
		return ""
	}
	addr = addr.Unmap()
	keep := TruncatedIPv6Bits
	if addr.Is4() {
		keep = TruncatedIPv4Bits
	}
	if bits >= 0 && bits < keep {
		keep = bits
	}
	p, err := addr.Prefix(keep)
	if err != nil {
		return ""
	}
	return p.String()
}

// ExpiredClientData is what is kept of a comment's client data after its
// retention period.
type ExpiredClientData struct {
	IP      string   // see TruncateIP; empty in ClientDataDelete mode
	Reasons []Reason // with the client's address and user agent taken out
}

// removedIP stands for the client's address in reasons once it is deleted.
const removedIP = "an address"

// matchedInClientData is how the spam rules report a pattern that matched
// the address or the user agent: the pattern, then what it matched as a
// quoted Go string, then the field. The quoted text is client data.
var matchedInClientData = regexp.MustCompile(` \("(?:[^"\\]|\\.)*"\) in (IP|user agent)\b`)

// Expire returns what mode keeps of a comment's address ip and its reasons.
// The reasons are rewritten so that they no longer hold client data: the
// address becomes the truncated network (or "an address"), and the text a
// pattern matched in the address or user agent is dropped (the pattern
// itself, which the site's owner wrote, stays).
func (m ClientDataMode) Expire(ip string, reasons []Reason) ExpiredClientData {
	kept := ""
	if m == ClientDataTruncate {
		kept = TruncateIP(ip)
	}
	replacement := kept
	if replacement == "" {
		replacement = removedIP
	}
	// The spam rules name the address as netip spells it, which may differ
	// from the stored spelling.
	spellings := []string{strings.TrimSpace(ip)}
	if a, err := netip.ParseAddr(strings.TrimSpace(ip)); err == nil {
		spellings = append(spellings, a.String(), a.WithZone("").Unmap().String())
	}
	var out []Reason
	if reasons != nil {
		out = make([]Reason, len(reasons))
	}
	for i, r := range reasons {
		d := matchedInClientData.ReplaceAllString(r.Detail, " in $1")
		for _, s := range spellings {
			d = replaceAddress(d, s, replacement)
		}
		out[i] = Reason{Rule: r.Rule, Detail: d}
	}
	return ExpiredClientData{IP: kept, Reasons: out}
}

// replaceAddress replaces each occurrence of the address addr in s that
// stands alone, not as part of a longer address or number, with repl.
func replaceAddress(s, addr, repl string) string {
	if addr == "" || addr == repl {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, addr)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(addr)
		if continuesAddress(s[:i], true) || continuesAddress(s[end:], false) {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s = s[end:]
	}
}

// continuesAddress reports whether the text next to a match (before it when
// before is true, else after it) would make the match part of a longer
// address: a hex digit or colon touching it, or a dot followed by a digit.
func continuesAddress(s string, before bool) bool {
	if s == "" {
		return false
	}
	var c, next byte
	if before {
		c = s[len(s)-1]
		if len(s) > 1 {
			next = s[len(s)-2]
		}
	} else {
		c = s[0]
		if len(s) > 1 {
			next = s[1]
		}
	}
	switch {
	case c == ':' || isHex(c):
		return true
	case c == '.' || c == '/':
		return next >= '0' && next <= '9'
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// DefaultExpireBatch is how many comments a retention job hands
// ExpireClientData at once: enough to finish a large backlog in reasonable
// time, few enough that one batch holds a database's write lock only
// briefly.
const DefaultExpireBatch = 500

// PendingStat summarises one site's moderation queue.
type PendingStat struct {
	SiteID string
	// Count is the number of pending comments.
	Count int
	// Overdue is how many of them were submitted before the bound given
	// to PendingStats.
	Overdue int
	// Oldest is when the oldest pending comment was submitted; zero when
	// Count is 0.
	Oldest time.Time
}

// RetentionStore applies the retention of client data and reports the
// moderation backlog.
type RetentionStore interface {
	// ExpireClientData applies mode to at most limit comments created
	// before the given time whose client data mode has not been applied
	// yet, in one transaction, and returns how many it changed: their user
	// agent is emptied, their IP replaced by ClientDataMode.Expire's (so
	// truncated or emptied), their reasons likewise rewritten; nothing else
	// about them changes (UpdatedAt included). A comment is changed once
	// per mode: again it counts no more, except that ClientDataDelete also
	// applies to comments that ClientDataTruncate changed before. Call it
	// until it returns fewer than limit. It returns a ValidationError for
	// an unknown mode or a limit below 1, and ErrUnavailable when the
	// database cannot take the write now.
	ExpireClientData(ctx context.Context, before time.Time, mode ClientDataMode, limit int) (int, error)
	// PendingStats returns every site's pending comments (see PendingStat;
	// overdue are those created before overdueBefore), ordered by site id,
	// sites without any included.
	PendingStats(ctx context.Context, overdueBefore time.Time) ([]PendingStat, error)
}
