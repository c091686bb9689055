package spam

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
)

// Input is one submission as the rules see it.
type Input struct {
	Name, Email, Website string
	Body                 string // the Markdown as written
	// BodyText is the text a reader sees: the rendered, sanitised body
	// with its tags removed (block elements and line breaks leaving a
	// space or newline, so that words of different paragraphs stay apart)
	// and its entities decoded. Word lists match it as well as Body, since
	// Markdown and HTML can hide a word from Body alone (&#118;iagra,
	// v*i*agra); hits in either are reported "in body". Empty when the
	// caller has no rendering.
	BodyText string
	// RenderedLinks is the number of links (<a> elements) in the rendered
	// body, 0 when the caller has no rendering. The max_links rule counts
	// the larger of it and CountLinks(Body), which misses links the
	// renderer makes from entities and escapes.
	RenderedLinks int
	IP            string // the client's address; IPv4-mapped IPv6 is treated as IPv4
	UserAgent     string
	Honeypot      string // the hidden form field; people leave it empty
	// Token is CheckToken's verdict on the form token; the zero value is
	// treated as TokenMissing.
	Token TokenStatus
	// TokenAge is the age CheckToken returned, for the reason's detail.
	TokenAge time.Duration
	// KnownAuthor: the site has an approved comment with this email
	// (used by ModeHoldFirstTime).
	KnownAuthor bool
}

// Verdict is what the rules decided about one submission.
type Verdict struct {
	// Action is the most severe action among the rules that fired (some
	// holds skipped for trusted authors; see Evaluate), or what the
	// moderation mode says when none did.
	Action Action `json:"verdict"`
	// Reasons has one entry per rule that fired, in evaluation order,
	// including hits a trusted author skipped; nil when nothing fired.
	Reasons []comment.Reason `json:"reasons"`
}

// The word lists, as indices.
const (
	listBlock = iota
	listHold
	numLists
)

// listRule names each word list's rule.
func listRule(list int) string {
	if list == listBlock {
		return RuleBlockWords
	}
	return RuleHoldWords
}

// termRef is one word-list entry, filed under its first token.
type termRef struct {
	rest []string // the phrase's further tokens; empty for a single word
	term int      // index into Engine.terms
	list int
}

// pattern is one compiled RE2 entry.
type pattern struct {
	src   string // as written, with its slashes
	re    *regexp.Regexp
	req   []string // prefilter: run re only on text containing one of these; nil: always
	steps int      // instructions in the compiled program; see MaxPatternSteps
	// ranges is how many ranges its character classes have together; see
	// MaxPatternClassRanges.
	ranges int
}

// prefixGroup holds the blocked ranges of one address family and length.
type prefixGroup struct {
	bits    int
	is4     bool
	entries map[netip.Prefix]string // the range → its list entry
}

// Engine evaluates submissions against one compiled rule set. It is
// immutable and safe for concurrent use; build a new one when the rules
// change.
type Engine struct {
	rules   Rules // normalised
	actions map[string]Action
	fold    *folder

	words    map[string][]termRef // first token → entries
	terms    []string             // word entries, as written (normalised)
	patterns [numLists][]pattern
	// prefiltered: some pattern has a prefilter
	prefiltered bool

	ipGroups     []prefixGroup // longest prefixes first
	emails       map[string]bool
	emailDomains map[string]bool
	trusted      map[string]bool
}

// Compile normalises a copy of r, validates it, and precomputes everything
// evaluation needs: the folded word index, compiled patterns, parsed IP
// ranges and email sets. It returns a *comment.ValidationError when r is
// invalid.
func Compile(r Rules) (*Engine, error) {
	r.Normalize()
	if ve := r.Validate(); ve != nil {
		return nil, ve
	}
	e := &Engine{
		rules:        r,
		actions:      r.Actions,
		fold:         newFolder(),
		words:        map[string][]termRef{},
		emails:       map[string]bool{},
		emailDomains: map[string]bool{},
		trusted:      map[string]bool{},
	}

	for list, entries := range [numLists][]string{listBlock: r.BlockWords, listHold: r.HoldWords} {
		for _, s := range entries {
			if isPattern(s) {
				p, err := e.fold.compilePattern(s[1 : len(s)-1])
				if err == nil && p.re == nil {
					err = errors.New("too complex") // Validate refuses these
				}
				if err != nil {
					return nil, fmt.Errorf("compile %s %q: %w", listRule(list), s, err)
				}
				p.src = s
				e.patterns[list] = append(e.patterns[list], p)
				e.prefiltered = e.prefiltered || p.req != nil
				continue
			}
			toks := e.fold.terms(s)
			if len(toks) == 0 {
				continue // Validate refuses these
			}
			e.terms = append(e.terms, s)
			e.words[toks[0]] = append(e.words[toks[0]], termRef{rest: toks[1:], term: len(e.terms) - 1, list: list})
		}
	}

	for _, s := range r.BlockedIPs {
		p, err := parseIPOrPrefix(s)
		if err != nil {
			continue // Validate refuses these
		}
		is4 := p.Addr().Is4()
		i := slices.IndexFunc(e.ipGroups, func(g prefixGroup) bool { return g.bits == p.Bits() && g.is4 == is4 })
		if i < 0 {
			e.ipGroups = append(e.ipGroups, prefixGroup{bits: p.Bits(), is4: is4, entries: map[netip.Prefix]string{}})
			i = len(e.ipGroups) - 1
		}
		e.ipGroups[i].entries[p] = s
	}
	// Most specific first, so that the reason names the narrowest entry.
	slices.SortFunc(e.ipGroups, func(a, b prefixGroup) int { return b.bits - a.bits })

	for _, s := range r.BlockedEmails {
		if strings.Contains(s, "@") {
			e.emails[s] = true
		} else {
			e.emailDomains[s] = true
		}
	}
	for _, s := range r.TrustedEmails {
		e.trusted[s] = true
	}
	return e, nil
}

// Rules returns a copy of the normalised rules the engine was compiled
// from.
func (e *Engine) Rules() Rules {
	r := e.rules
	r.HoldWords = slices.Clone(r.HoldWords)
	r.BlockWords = slices.Clone(r.BlockWords)
	r.BlockedIPs = slices.Clone(r.BlockedIPs)
	r.BlockedEmails = slices.Clone(r.BlockedEmails)
	r.TrustedEmails = slices.Clone(r.TrustedEmails)
	r.Actions = make(map[string]Action, len(e.rules.Actions))
	for k, v := range e.rules.Actions {
		r.Actions[k] = v
	}
	return r
}

// maxDetail bounds Reason.Detail, in bytes.
const maxDetail = 200

// evaluation collects the reasons of one Evaluate call.
type evaluation struct {
	e       *Engine
	reasons []comment.Reason
}

func (ev *evaluation) hit(rule, detail string) {
	ev.reasons = append(ev.reasons, comment.Reason{Rule: rule, Detail: clip(detail, maxDetail)})
}

// Evaluate judges one submission. Every rule is checked, in the order of
// RuleNames, and each that fires adds a reason with what it matched. The
// verdict is the most severe action among them, except that a trusted
// author skips the holds of the rules about what a comment looks like
// (hold_words, max_links and the form-token rules; see trustSkips). The
// rules about who sent it or what it must never contain (blocked_ip,
// blocked_email, block_words, honeypot) apply to trusted authors whatever
// their action, and so do spam and reject from any rule. When nothing
// above approve remains, the moderation mode decides: hold_all holds,
// hold_first_time holds unless the author is known, hold_on_hits
// approves; trusted authors skip the mode's hold too. A trusted author's
// verdict always carries a trusted_author reason.
//
// Words and patterns are matched as the package documentation describes;
// links are counted as the larger of CountLinks(in.Body) and
// in.RenderedLinks.
func (e *Engine) Evaluate(in Input) Verdict {
	ev := evaluation{e: e}

	e.checkIP(&ev, in.IP)
	email := normalizeEmail(in.Email)
	e.checkEmail(&ev, email)
	words := e.matchWords(in)
	words[listBlock].report(&ev, e, listBlock)
	if h := strings.TrimSpace(in.Honeypot); h != "" {
		ev.hit(RuleHoneypot, fmt.Sprintf("the hidden field was filled in (%q)", clip(h, 40)))
	}
	e.checkToken(&ev, in.Token, in.TokenAge)
	words[listHold].report(&ev, e, listHold)
	if e.rules.MaxLinks > 0 {
		if n := max(CountLinks(in.Body), in.RenderedLinks); n >= e.rules.MaxLinks {
			ev.hit(RuleMaxLinks, fmt.Sprintf("%d links (the rule fires at %d or more)", n, e.rules.MaxLinks))
		}
	}

	trusted := email != "" && e.trusted[email]
	action := ActionApprove
	var skipped []string
	for _, r := range ev.reasons {
		a := e.actions[r.Rule]
		if trusted && a == ActionHold && trustSkips(r.Rule) {
			if !slices.Contains(skipped, r.Rule) {
				skipped = append(skipped, r.Rule)
			}
			continue
		}
		if a.Severity() > action.Severity() {
			action = a
		}
	}

	// The mode is recorded also when a rule already holds the comment, so
	// that moderators see every reason it waits for them.
	if action == ActionApprove || action == ActionHold {
		var hold string
		switch e.rules.Mode {
		case ModeHoldAll:
			hold = "every comment is held for review (mode hold_all)"
		case ModeHoldFirstTime:
			if !in.KnownAuthor {
				hold = "first comment from this author (mode hold_first_time)"
			}
		}
		if hold != "" {
			if trusted {
				skipped = append(skipped, RuleMode)
			} else {
				ev.hit(RuleMode, hold)
				action = ActionHold
			}
		}
	}
	if trusted {
		detail := "the author's email is on trusted_emails"
		if len(skipped) > 0 {
			detail += "; skipped the hold of " + strings.Join(skipped, ", ")
		}
		ev.hit(RuleTrusted, detail)
	}
	return Verdict{Action: action, Reasons: ev.reasons}
}

// trustSkips reports whether a trusted author skips the rule's hold. The
// rules that judge a comment by its look (which a trusted author's
// comment may well have) are skipped; the block rules are not, so that a
// hold an owner set on them still reaches a moderator.
func trustSkips(rule string) bool {
	switch rule {
	case RuleHoldWords, RuleMaxLinks, RuleTokenMissing, RuleTokenTooFast, RuleTokenExpired:
		return true
	}
	return false
}

func (e *Engine) checkIP(ev *evaluation, ip string) {
	if len(e.ipGroups) == 0 || ip == "" {
		return
	}
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return
	}
	a = a.WithZone("").Unmap()
	for _, g := range e.ipGroups {
		if g.is4 != a.Is4() {
			continue
		}
		p, err := a.Prefix(g.bits)
		if err != nil {
			continue
		}
		if entry, ok := g.entries[p]; ok {
			if p.IsSingleIP() {
				ev.hit(RuleBlockedIP, a.String()+" is on blocked_ips")
			} else {
				ev.hit(RuleBlockedIP, a.String()+" is in "+entry)
			}
			return
		}
	}
}

func (e *Engine) checkEmail(ev *evaluation, email string) {
	if email == "" || (len(e.emails) == 0 && len(e.emailDomains) == 0) {
		return
	}
	// The address itself stays out of the details; moderators see it on
	// the comment.
	if e.emails[email] {
		ev.hit(RuleBlockedEmail, "the author's email address is on blocked_emails")
		return
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return
	}
	// spam+anything@example.com is delivered to spam@example.com.
	if plus := strings.IndexByte(email[:at], '+'); plus > 0 && e.emails[email[:plus]+email[at:]] {
		ev.hit(RuleBlockedEmail, "the author's email address, without its +tag, is on blocked_emails")
		return
	}
	// The domain, then each parent domain: sub.spam.example, spam.example,
	// example.
	for d := strings.TrimSuffix(email[at+1:], "."); d != ""; {
		if e.emailDomains[d] {
			ev.hit(RuleBlockedEmail, fmt.Sprintf("the email domain %q is on blocked_emails", clip(d, 100)))
			return
		}
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			break
		}
		d = d[dot+1:]
	}
}

func (e *Engine) checkToken(ev *evaluation, t TokenStatus, age time.Duration) {
	minAge := time.Duration(e.rules.MinSubmitSeconds) * time.Second
	switch t {
	case TokenOK:
	case TokenTooFast:
		ev.hit(RuleTokenTooFast, fmt.Sprintf("submitted %s after the form was shown (minimum %s)",
			Duration(age.Truncate(time.Second)), Duration(minAge)))
	case TokenExpired:
		ev.hit(RuleTokenExpired, fmt.Sprintf("the form was shown %s ago (maximum %s)",
			Duration(age.Truncate(time.Minute)), e.rules.MaxTokenAge))
	case TokenForged:
		ev.hit(RuleTokenMissing, "the form token is not valid (forged, damaged, or for another page)")
	default:
		ev.hit(RuleTokenMissing, "no form token was sent")
	}
}

// The fields matchWords reads, in order.
const (
	fieldName = iota
	fieldEmail
	fieldWebsite
	fieldBody
	fieldBodyText
	fieldIP
	fieldUserAgent
	numFields
)

// fieldLabel names a field as reasons say it.
func fieldLabel(field int) string {
	switch field {
	case fieldName:
		return "name"
	case fieldEmail:
		return "email"
	case fieldWebsite:
		return "website"
	case fieldBody, fieldBodyText:
		return "body"
	case fieldIP:
		return "IP"
	}
	return "user agent"
}

// maxReported is how many distinct matches one reason names.
const maxReported = 3

// wordHit is one distinct match of a word list.
type wordHit struct {
	term    int    // index into Engine.terms, or -1 for a pattern
	pattern int    // index into Engine.patterns[list], when term is -1
	field   int    // see fieldLabel
	matched string // for a pattern: the folded text it matched
}

// wordHits collects a word list's matches.
type wordHits struct {
	hits [maxReported]wordHit
	n    int
	more bool // further distinct matches were found
}

func (w *wordHits) add(h wordHit) {
	for _, old := range w.hits[:w.n] {
		if old.term == h.term && (h.term >= 0 || old.pattern == h.pattern) {
			return
		}
	}
	if w.n == maxReported {
		w.more = true
		return
	}
	w.hits[w.n] = h
	w.n++
}

func (w *wordHits) report(ev *evaluation, e *Engine, list int) {
	if w.n == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("matched ")
	for i, h := range w.hits[:w.n] {
		if i > 0 {
			b.WriteString(", ")
		}
		if h.term >= 0 {
			fmt.Fprintf(&b, "%q", clip(e.terms[h.term], 60))
		} else {
			b.WriteString(clip(e.patterns[list][h.pattern].src, 60))
			if h.matched != "" {
				fmt.Fprintf(&b, " (%q)", clip(h.matched, 30))
			}
		}
		b.WriteString(" in ")
		b.WriteString(fieldLabel(h.field))
	}
	if w.more {
		b.WriteString(", and more")
	}
	ev.hit(listRule(list), b.String())
}

// matchWords matches both word lists against every field.
func (e *Engine) matchWords(in Input) [numLists]wordHits {
	var hits [numLists]wordHits
	if len(e.words) == 0 && len(e.patterns[listBlock]) == 0 && len(e.patterns[listHold]) == 0 {
		return hits
	}
	fields := [numFields]string{
		fieldName: in.Name, fieldEmail: in.Email, fieldWebsite: in.Website, fieldBody: in.Body,
		fieldBodyText: in.BodyText, fieldIP: in.IP, fieldUserAgent: in.UserAgent,
	}
	if strings.TrimSpace(in.BodyText) == strings.TrimSpace(in.Body) {
		fields[fieldBodyText] = "" // a plain-text comment; nothing new to read
	}
	for fi, raw := range fields {
		if raw == "" {
			continue
		}
		folded, blanks := e.fold.foldText(raw, false)
		e.matchFolded(folded, fi, &hits)
		if blanks {
			// A blank look-alike hides a word when dropped and separates
			// two when read as a space; match both readings.
			spaced, _ := e.fold.foldText(raw, true)
			e.matchFolded(spaced, fi, &hits)
		}
	}
	return hits
}

// matchFolded matches both word lists against one field's folded text.
func (e *Engine) matchFolded(folded string, field int, hits *[numLists]wordHits) {
	if len(e.words) > 0 {
		e.scanTokens(leet(folded, false), field, hits)
		if hasEmbeddedSymbol(folded) {
			e.scanTokens(leet(folded, true), field, hits)
		}
	}
	var pairs *bigramSet
	if e.prefiltered && len(folded) >= minBigramText {
		pairs = new(bigramSet)
		pairs.fill(folded)
	}
	for list := range numLists {
		for pi, p := range e.patterns[list] {
			if p.req != nil && !containsAny(folded, p.req, pairs) {
				continue
			}
			if loc := p.re.FindStringIndex(folded); loc != nil {
				h := wordHit{term: -1, pattern: pi, field: field}
				if field != fieldEmail { // the email stays out of details
					h.matched = folded[loc[0]:loc[1]]
				}
				hits[list].add(h)
			}
		}
	}
}

// scanTokens looks every token of s up in the word index and checks the
// rest of any phrase starting there.
func (e *Engine) scanTokens(s string, field int, hits *[numLists]wordHits) {
	for i := 0; ; {
		start, end := nextToken(s, i)
		if start == end {
			return
		}
		i = end
		refs, ok := e.words[s[start:end]]
		if !ok {
			continue
		}
	refs:
		for _, ref := range refs {
			j := end
			for _, want := range ref.rest {
				ts, te := nextToken(s, j)
				if s[ts:te] != want {
					continue refs
				}
				j = te
			}
			hits[ref.list].add(wordHit{term: ref.term, field: field})
		}
	}
}

// clip shortens s to at most n bytes, at a rune boundary, marking the cut
// with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
