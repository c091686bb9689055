package spam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/commentd/commentd/internal/comment"
)

// Mode is a site's moderation mode: what happens to a comment no rule
// objects to.
type Mode string

// The moderation modes.
const (
	// ModeHoldAll holds every comment for a moderator (the default).
	ModeHoldAll Mode = "hold_all"
	// ModeHoldFirstTime holds a comment unless its author is known (has an
	// approved comment on the site) or trusted.
	ModeHoldFirstTime Mode = "hold_first_time"
	// ModeHoldOnHits approves every comment no rule holds.
	ModeHoldOnHits Mode = "hold_on_hits"
)

// Valid reports whether m is one of the modes.
func (m Mode) Valid() bool {
	return m == ModeHoldAll || m == ModeHoldFirstTime || m == ModeHoldOnHits
}

// Limits on a rule set, so that one site cannot make evaluation or storage
// expensive for everyone.
const (
	// MaxListEntries is the most entries any one list may hold.
	MaxListEntries = 10_000
	// MaxEntryBytes is the longest a list entry may be, in bytes.
	MaxEntryBytes = 200
	// MaxPatterns is the most RE2 patterns one word list may hold; patterns
	// cost far more to evaluate than words.
	MaxPatterns = 200
	// MaxPatternSteps is the most instructions the compiled program of one
	// pattern may have. Go's regexp may run every instruction at every byte
	// of the text, so this bounds a pattern's cost per byte: /cas+ino/ has
	// 9, /\bfree\s+(money|cash)\b/ 22, and /[a-z]{0,1000}/ over 2000.
	MaxPatternSteps = 1000
	// MaxListPatternSteps is the most instructions the patterns of one word
	// list may have together.
	MaxListPatternSteps = 20_000
	// MaxPatternClassRanges is the most ranges the character classes of
	// one pattern may have together, after folding. Compiling a pattern
	// takes time in proportion to them: [a-z] has 1, \w 4, \S 4, and \pL
	// over 600.
	MaxPatternClassRanges = 10_000
	// MaxListClassRanges is the most ranges the character classes of one
	// word list's patterns may have together.
	MaxListClassRanges = 100_000
	// MaxSubmitSeconds is the largest min_submit_seconds.
	MaxSubmitSeconds = 3600
	// MaxBurst is the largest burst of a rate limit.
	MaxBurst = 100_000
)

// Bounds of the durations a rule set may contain.
const (
	minTokenAge = time.Minute
	maxTokenAge = 30 * 24 * time.Hour
	maxEvery    = 24 * time.Hour
	maxMaxLinks = 1000
)

// Duration is a time.Duration written in JSON and YAML as a Go duration
// string, such as "24h", "15s" or "500ms".
type Duration time.Duration

// String returns d in the shortest Go duration syntax: "24h" rather than
// "24h0m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText implements encoding.TextMarshaler (used by JSON and YAML).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It accepts what
// time.ParseDuration accepts and returns its error otherwise.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Limit is one rate limit: Burst submissions at once, then one per Every.
type Limit struct {
	Every Duration `json:"every" yaml:"every"`
	Burst int      `json:"burst" yaml:"burst"`
}

// RateLimit returns l as the domain's comment.RateLimit.
func (l Limit) RateLimit() comment.RateLimit {
	return comment.RateLimit{Every: time.Duration(l.Every), Burst: l.Burst}
}

// RateLimits are a site's submission rate limits, each applied to its own
// key. The spam package only carries and validates them; the rate limiter
// enforces them.
type RateLimits struct {
	IP     Limit `json:"ip" yaml:"ip"`         // per client IP address
	Prefix Limit `json:"prefix" yaml:"prefix"` // per IPv4 /24 or IPv6 /64
	Email  Limit `json:"email" yaml:"email"`   // per author email
	Page   Limit `json:"page" yaml:"page"`     // per page
	Site   Limit `json:"site" yaml:"site"`     // the whole site
}

// namedLimit is one of RateLimits' fields with its JSON name.
type namedLimit struct {
	name  string
	limit *Limit
}

// limits returns the five limits with their JSON names, in document order.
func (l *RateLimits) limits() [5]namedLimit {
	return [5]namedLimit{{"ip", &l.IP}, {"prefix", &l.Prefix}, {"email", &l.Email}, {"page", &l.Page}, {"site", &l.Site}}
}

// Rules is a site's spam rule set, as site owners edit it (JSON through the
// API, YAML for import and export).
//
// A word list entry is either a word or phrase, matched as whole words
// after normalisation (see Engine), or an RE2 pattern written between
// slashes, like "/cas+ino/", matched against the normalised text.
//
// MaxLinks and MinSubmitSeconds take 0 to mean "off", so a zero Rules has
// those rules off; start from DefaultRules for the defaults.
type Rules struct {
	// Version is set by the store on every change; it is informational in
	// the document and ignored by evaluation.
	Version int `json:"version" yaml:"version"`
	// Mode decides what happens when no rule holds the comment.
	Mode Mode `json:"mode" yaml:"mode"`
	// MaxLinks: the max_links rule fires when the body has this many links
	// or more (as WordPress: "2 or more links"); 0 turns it off.
	MaxLinks      int      `json:"max_links" yaml:"max_links"`
	HoldWords     []string `json:"hold_words" yaml:"hold_words"`         // words, phrases and /patterns/ that hold
	BlockWords    []string `json:"block_words" yaml:"block_words"`       // words, phrases and /patterns/ that reject
	BlockedIPs    []string `json:"blocked_ips" yaml:"blocked_ips"`       // IPs or CIDR ranges
	BlockedEmails []string `json:"blocked_emails" yaml:"blocked_emails"` // addresses (matching their +tag variants too), or domains ("example.com" or "@example.com") with their subdomains
	TrustedEmails []string `json:"trusted_emails" yaml:"trusted_emails"` // full addresses only, matched exactly
	// MinSubmitSeconds is the least time between showing the form and
	// submitting it; 0 turns the check off.
	MinSubmitSeconds int      `json:"min_submit_seconds" yaml:"min_submit_seconds"`
	MaxTokenAge      Duration `json:"max_token_age" yaml:"max_token_age"`
	// Actions maps each configurable rule (see RuleNames) to the action it
	// takes when it fires.
	Actions    map[string]Action `json:"actions" yaml:"actions"`
	RateLimits RateLimits        `json:"rate_limits" yaml:"rate_limits"`
}

// DefaultRules returns the rule set of a new site: hold every comment, hold
// at 2 links, a form token at least 3 s and at most 24 h old, the default
// actions, and rate limits generous enough that a busy article (a comment a
// second from different readers) is never limited.
func DefaultRules() Rules {
	return Rules{
		Mode:             ModeHoldAll,
		MaxLinks:         2,
		HoldWords:        []string{},
		BlockWords:       []string{},
		BlockedIPs:       []string{},
		BlockedEmails:    []string{},
		TrustedEmails:    []string{},
		MinSubmitSeconds: 3,
		MaxTokenAge:      Duration(24 * time.Hour),
		Actions:          DefaultActions(),
		RateLimits:       defaultRateLimits(),
	}
}

func defaultRateLimits() RateLimits {
	return RateLimits{
		IP:     Limit{Every: Duration(15 * time.Second), Burst: 3},
		Prefix: Limit{Every: Duration(5 * time.Second), Burst: 10},
		Email:  Limit{Every: Duration(15 * time.Second), Burst: 3},
		Page:   Limit{Every: Duration(500 * time.Millisecond), Burst: 60},
		Site:   Limit{Every: Duration(100 * time.Millisecond), Burst: 300},
	}
}

// Normalize puts r in canonical form, in place, without making a valid rule
// set invalid:
//   - mode is trimmed and lower-cased, and hold_all when empty;
//   - words are trimmed, lower-cased and their inner spaces collapsed;
//     patterns (/.../) are only trimmed;
//   - IPs and ranges are written canonically (IPv4-mapped IPv6 as IPv4,
//     host bits of a range cleared); emails are lower-cased, and a domain
//     is written without a leading "@";
//   - empty entries are dropped and every list is de-duplicated and sorted
//     (into new slices: the caller's backing arrays are not touched);
//   - a zero max_token_age, a zero rate-limit field and a missing action
//     take their defaults. MaxLinks and MinSubmitSeconds are left alone,
//     since 0 turns those rules off.
//
// Entries Validate would reject are kept as they are, so that Validate can
// still name them.
func (r *Rules) Normalize() {
	r.Mode = normalizeMode(r.Mode)
	if r.Mode == "" {
		r.Mode = ModeHoldAll
	}
	r.HoldWords = normalizeList(r.HoldWords, normalizeWord)
	r.BlockWords = normalizeList(r.BlockWords, normalizeWord)
	r.BlockedIPs = normalizeList(r.BlockedIPs, normalizeIP)
	r.BlockedEmails = normalizeList(r.BlockedEmails, normalizeBlockedEmail)
	r.TrustedEmails = normalizeList(r.TrustedEmails, normalizeEmail)
	if r.MaxTokenAge == 0 {
		r.MaxTokenAge = Duration(24 * time.Hour)
	}

	actions := DefaultActions()
	for k, v := range r.Actions {
		actions[strings.TrimSpace(k)] = normalizeAction(v)
	}
	r.Actions = actions

	def := defaultRateLimits()
	got, want := r.RateLimits.limits(), def.limits()
	for i := range got {
		if got[i].limit.Every == 0 {
			got[i].limit.Every = want[i].limit.Every
		}
		if got[i].limit.Burst == 0 {
			got[i].limit.Burst = want[i].limit.Burst
		}
	}
}

func hasKey(m map[string]Action, k string) bool {
	_, ok := m[k]
	return ok
}

func normalizeMode(m Mode) Mode { return Mode(strings.ToLower(strings.TrimSpace(string(m)))) }

func normalizeAction(a Action) Action { return Action(strings.ToLower(strings.TrimSpace(string(a)))) }

// normalizeList applies f to each entry, drops empty results, and returns
// the rest sorted and de-duplicated in a new, non-nil slice.
func normalizeList(list []string, f func(string) string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s = f(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// isPattern reports whether the word-list entry s is an RE2 pattern.
func isPattern(s string) bool {
	return len(s) >= 2 && s[0] == '/' && s[len(s)-1] == '/'
}

func normalizeWord(s string) string {
	s = strings.TrimSpace(s)
	if isPattern(s) {
		return s
	}
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

func normalizeIP(s string) string {
	s = strings.TrimSpace(s)
	if p, err := parseIPOrPrefix(s); err == nil {
		if p.IsSingleIP() {
			return p.Addr().String()
		}
		return p.String()
	}
	return s
}

// parseIPOrPrefix parses an IP address (as a single-address prefix) or a
// CIDR range, unmapping IPv4-mapped IPv6 and clearing host bits. Zones are
// refused.
func parseIPOrPrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("zone not allowed")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func normalizeBlockedEmail(s string) string {
	s = normalizeEmail(s)
	return strings.TrimSuffix(strings.TrimPrefix(s, "@"), ".")
}

// validEmail reports whether s (lower-cased) looks like local@domain. It
// is lenient, since entries are only compared with what authors typed: the
// moderators' "spam and block" and "approve and trust" add whatever address
// a comment had, and one refused entry would refuse the whole rule set.
func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at > 64 || at == len(s)-1 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	domain := s[at+1:]
	return !strings.ContainsAny(domain, " \t[]") || (domain[0] == '[' && domain[len(domain)-1] == ']')
}

// validDomain reports whether s is a plausible domain: dot-separated labels
// of letters (any script), digits and inner hyphens. A lone label (a
// top-level domain) is allowed.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r != '-' && !isTokenRune(r) {
				return false
			}
		}
	}
	return true
}

// Validate checks r as it is (call Normalize first to fill the defaults)
// and returns nil, or a ValidationError with one message per invalid field,
// keyed by its JSON path: "mode", "hold_words[3]", "actions.honeypot",
// "rate_limits.ip.every", ... It accepts what Normalize makes valid: the
// mode and actions are read without regard to case and surrounding
// spaces (" HOLD_ALL "), and action keys without surrounding spaces.
func (r Rules) Validate() *comment.ValidationError {
	f := map[string]string{}
	if r.Version < 0 {
		f["version"] = "must not be negative"
	}
	if !normalizeMode(r.Mode).Valid() {
		f["mode"] = "must be one of hold_all, hold_first_time, hold_on_hits"
	}
	if r.MaxLinks < 0 || r.MaxLinks > maxMaxLinks {
		f["max_links"] = fmt.Sprintf("must be between 0 (off) and %d", maxMaxLinks)
	}
	if r.MinSubmitSeconds < 0 || r.MinSubmitSeconds > MaxSubmitSeconds {
		f["min_submit_seconds"] = fmt.Sprintf("must be between 0 (off) and %d", MaxSubmitSeconds)
	}
	switch age := time.Duration(r.MaxTokenAge); {
	case age < minTokenAge || age > maxTokenAge:
		f["max_token_age"] = fmt.Sprintf("must be between %s and %s", Duration(minTokenAge), Duration(maxTokenAge))
	case age <= time.Duration(r.MinSubmitSeconds)*time.Second:
		f["max_token_age"] = "must be longer than min_submit_seconds"
	}

	fo := newFolder()
	validateWords(fo, "hold_words", r.HoldWords, f)
	validateWords(fo, "block_words", r.BlockWords, f)
	validateList("blocked_ips", r.BlockedIPs, f, func(s string) string {
		if _, err := parseIPOrPrefix(s); err != nil {
			return "not an IP address or CIDR range"
		}
		return ""
	})
	validateList("blocked_emails", r.BlockedEmails, f, func(s string) string {
		if s = normalizeEmail(s); strings.Contains(strings.TrimPrefix(s, "@"), "@") {
			if !validEmail(s) {
				return "not an email address or domain"
			}
		} else if !validDomain(normalizeBlockedEmail(s)) {
			return "not an email address or domain"
		}
		return ""
	})
	validateList("trusted_emails", r.TrustedEmails, f, func(s string) string {
		if !validEmail(normalizeEmail(s)) {
			return "not an email address (trust is given to full addresses only)"
		}
		return ""
	})

	rules := RuleNames()
	for k, v := range r.Actions {
		name := strings.TrimSpace(k)
		switch {
		case !slices.Contains(rules, name):
			f["actions."+k] = "not a rule; the rules are " + strings.Join(rules, ", ")
		case name != k && hasKey(r.Actions, name):
			f["actions."+k] = "given twice, also as " + name
		case !validHitAction(normalizeAction(v)):
			f["actions."+k] = "must be one of hold, spam, reject"
		}
	}

	for _, l := range r.RateLimits.limits() {
		every := time.Duration(l.limit.Every)
		if every <= 0 || every > maxEvery {
			f["rate_limits."+l.name+".every"] = fmt.Sprintf("must be more than 0 and at most %s", Duration(maxEvery))
		}
		if l.limit.Burst < 1 || l.limit.Burst > MaxBurst {
			f["rate_limits."+l.name+".burst"] = fmt.Sprintf("must be between 1 and %d", MaxBurst)
		}
	}

	if len(f) == 0 {
		return nil
	}
	return &comment.ValidationError{Fields: f}
}

// validateList checks the list's length and each non-blank entry's size,
// then check(entry), which returns a message or "".
func validateList(name string, list []string, f map[string]string, check func(string) string) {
	if len(list) > MaxListEntries {
		f[name] = fmt.Sprintf("must have at most %d entries", MaxListEntries)
		return
	}
	for i, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue // Normalize drops it
		}
		key := name + "[" + strconv.Itoa(i) + "]"
		if len(s) > MaxEntryBytes {
			f[key] = fmt.Sprintf("must be at most %d bytes", MaxEntryBytes)
		} else if !utf8.ValidString(s) {
			f[key] = "not valid UTF-8"
		} else if msg := check(s); msg != "" {
			f[key] = msg
		}
	}
}

// validateWords checks a word list: each word must have something to
// match; each pattern must compile, must not match empty text (it would
// match every comment) and must not be too complex; and there may not be
// too many patterns, nor too complex together.
//
// Once the list has more patterns than MaxPatterns, or the patterns
// compiled so far, valid or not, have more than MaxListPatternSteps
// instructions or MaxListClassRanges class ranges, the rest are not
// compiled: the list is refused as a whole, and checking each of thousands
// of entries would cost seconds.
func validateWords(fo *folder, name string, list []string, f map[string]string) {
	patterns, steps, work, ranges := 0, 0, 0, 0
	seen := map[string]bool{} // Normalize merges repeated patterns
	validateList(name, list, f, func(s string) string {
		if !isPattern(s) {
			if len(fo.terms(s)) == 0 {
				return "has no letters or digits to match"
			}
			return ""
		}
		src := s[1 : len(s)-1]
		if src == "" {
			return "empty pattern"
		}
		if seen[s] {
			return ""
		}
		seen[s] = true
		patterns++
		if patterns > MaxPatterns || work > MaxListPatternSteps || ranges > MaxListClassRanges {
			return ""
		}
		p, err := fo.compilePattern(src)
		if err != nil {
			return "not a valid RE2 pattern: " + err.Error()
		}
		if p.re != nil {
			work += p.steps
		}
		ranges += p.ranges
		if p.steps > MaxPatternSteps {
			return fmt.Sprintf("pattern too complex: %d steps, at most %d", p.steps, MaxPatternSteps)
		}
		if p.ranges > MaxPatternClassRanges {
			return fmt.Sprintf("pattern too complex: its character classes have %d ranges, at most %d", p.ranges, MaxPatternClassRanges)
		}
		if p.re.MatchString("") {
			return "matches empty text, so it would match every comment"
		}
		steps += p.steps
		return ""
	})
	var msgs []string
	if patterns > MaxPatterns {
		msgs = append(msgs, fmt.Sprintf("must have at most %d patterns (/.../)", MaxPatterns))
	}
	switch {
	case steps > MaxListPatternSteps:
		msgs = append(msgs, fmt.Sprintf("patterns too complex together: %d steps, at most %d", steps, MaxListPatternSteps))
	case work > MaxListPatternSteps && patterns <= MaxPatterns:
		msgs = append(msgs, fmt.Sprintf("patterns too complex together: over %d steps; fix the patterns marked before checking the rest", MaxListPatternSteps))
	}
	if ranges > MaxListClassRanges && patterns <= MaxPatterns {
		msgs = append(msgs, fmt.Sprintf("patterns too complex together: their character classes have over %d ranges", MaxListClassRanges))
	}
	if len(msgs) > 0 {
		f[name] = strings.Join(msgs, "; ")
	}
}

// docError is the ValidationError for a document that cannot be read at
// all; its field is "rules".
func docError(msg string) *comment.ValidationError {
	return comment.Invalid("rules", msg)
}

// ParseJSON reads a rule set from a JSON document. Fields absent from the
// document keep their defaults (DefaultRules; a missing action keeps its
// default). It returns the rules normalised (see Normalize), or a
// *comment.ValidationError: keyed by the field's JSON path for an unknown
// field, a value of the wrong type, or a value Validate rejects (list
// indices are those of the document); keyed "rules" when the document is
// not a JSON object.
func ParseJSON(b []byte) (Rules, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return Rules{}, docError(jsonErrorMessage(b, err))
	}
	if ve := checkShape(raw); ve != nil {
		return Rules{}, ve
	}

	r := DefaultRules()
	// Only the document's actions, so that Validate sees what it says
	// (" honeypot " and "honeypot" given together); Normalize fills the
	// rest with their defaults.
	r.Actions = nil
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Rules{}, comment.Invalid(te.Field, typeMessage(te.Field, te.Type))
		}
		return Rules{}, docError("not a valid rule set")
	}
	if ve := r.Validate(); ve != nil {
		return Rules{}, ve
	}
	r.Normalize()
	return r, nil
}

func jsonErrorMessage(b []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Sprintf("not valid JSON (line %d)", line)
	}
	return "must be a JSON object"
}

func typeMessage(field string, t reflect.Type) string {
	switch field {
	case "hold_words", "block_words", "blocked_ips", "blocked_emails", "trusted_emails":
		return "must be a list of strings"
	case "actions":
		return "must map rule names to hold, spam or reject"
	}
	switch t.Kind() {
	case reflect.String:
		return "must be a string"
	case reflect.Int, reflect.Int64:
		return "must be a whole number"
	case reflect.Slice:
		return "must be a list of strings"
	case reflect.Map, reflect.Struct:
		return "must be an object"
	}
	return "has the wrong type"
}

// topLevelKeys returns the keys a rule set document may have; keep it in
// step with the JSON tags of Rules (TestTopLevelKeys checks).
func topLevelKeys() []string {
	return []string{"version", "mode", "max_links", "hold_words", "block_words", "blocked_ips",
		"blocked_emails", "trusted_emails", "min_submit_seconds", "max_token_age", "actions", "rate_limits"}
}

// checkShape reports unknown keys anywhere in the document and unreadable
// durations, each under its JSON path, which encoding/json alone does not
// give.
func checkShape(raw map[string]json.RawMessage) *comment.ValidationError {
	f := map[string]string{}
	known := topLevelKeys()
	for k := range raw {
		if !slices.Contains(known, k) {
			f[keyName(k)] = "unknown field"
		}
	}
	checkDuration(raw["max_token_age"], "max_token_age", f)
	if msg, ok := raw["rate_limits"]; ok && !isNull(msg) {
		var limits map[string]json.RawMessage
		if err := json.Unmarshal(msg, &limits); err != nil {
			f["rate_limits"] = "must be an object"
		}
		var def RateLimits
		names := def.limits()
		for k, v := range limits {
			if !slices.ContainsFunc(names[:], func(n namedLimit) bool { return n.name == k }) {
				f["rate_limits."+keyName(k)] = "unknown field"
				continue
			}
			if isNull(v) {
				continue
			}
			var limit map[string]json.RawMessage
			if err := json.Unmarshal(v, &limit); err != nil {
				f["rate_limits."+k] = "must be an object"
				continue
			}
			for lk := range limit {
				if lk != "every" && lk != "burst" {
					f["rate_limits."+k+"."+keyName(lk)] = "unknown field"
				}
			}
			checkDuration(limit["every"], "rate_limits."+k+".every", f)
		}
	}
	if len(f) == 0 {
		return nil
	}
	return &comment.ValidationError{Fields: f}
}

// keyName is a document's key as a field error names it: the empty key is
// written "" so that the error still names a field.
func keyName(k string) string {
	if k == "" {
		return `""`
	}
	return k
}

func isNull(m json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(m), []byte("null")) }

// checkDuration records a message under path unless m is absent, null or a
// Go duration string.
func checkDuration(m json.RawMessage, path string, f map[string]string) {
	if m == nil || isNull(m) {
		return
	}
	var s string
	if err := json.Unmarshal(m, &s); err != nil {
		f[path] = `must be a duration string such as "24h" or "500ms"`
		return
	}
	if _, err := time.ParseDuration(s); err != nil {
		f[path] = `not a duration; write one such as "24h", "15s" or "500ms"`
	}
}

// ParseYAML reads a rule set from a YAML document (the format of
// "commentd rules export"), with the same keys, defaults and errors as
// ParseJSON.
func ParseYAML(b []byte) (Rules, error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := "not valid YAML"
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// yaml's syntax errors name the line ("yaml: line 3: ...") and
			// only ever quote the document's own text.
			msg += ": " + strings.TrimPrefix(err.Error(), "yaml: ")
		}
		return Rules{}, docError(msg)
	}
	switch doc.(type) {
	case map[string]any:
	case map[any]any:
		return Rules{}, docError("not a valid rule set: keys must be strings")
	default:
		return Rules{}, docError("must be a YAML mapping")
	}
	j, err := json.Marshal(doc)
	if err != nil {
		// Keys that are not strings, or values JSON cannot hold.
		return Rules{}, docError("not a valid rule set: keys must be strings")
	}
	return ParseJSON(j)
}

// JSON returns r as a JSON document that ParseJSON reads back.
func (r Rules) JSON() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode rules as JSON: %w", err)
	}
	return b, nil
}

// YAML returns r as a YAML document that ParseYAML reads back.
func (r Rules) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode rules as YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode rules as YAML: %w", err)
	}
	return buf.Bytes(), nil
}
