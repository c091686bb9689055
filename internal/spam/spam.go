// Package spam decides what happens to a submitted comment: approve it, hold
// it for a moderator, file it as spam or reject it, and why.
//
// A site owner's Rules (moderation mode, word lists, link limit, blocked IPs
// and emails, trusted authors, form-token timing and the action each rule
// takes) are parsed and validated with ParseJSON or ParseYAML, compiled once
// with Compile into an Engine, and the Engine judges each submission with
// Evaluate, returning a Verdict with one comment.Reason per rule that fired.
//
// The package does no I/O and keeps no state between calls: the caller loads
// the rules, caches the Engine, and checks form tokens (NewToken, CheckToken)
// before calling Evaluate.
//
// # Word matching
//
// hold_words and block_words are matched against the name, email, website,
// body, IP and user agent of a submission, as WordPress does, and against
// the body as readers see it (Input.BodyText) too. Text and list entries
// are normalised the same way, so that a term matches however it is
// disguised:
//
//  1. Unicode NFKD (fullwidth ｖ, mathematical 𝐯, the Roman numeral Ⅴ and
//     ligatures become plain letters, and accented letters their base and
//     combining marks); format characters (zero-width joiners and spaces,
//     soft hyphens, bidi controls), variation selectors and other
//     default-ignorable code points are dropped, and so are combining marks
//     after anything that folds to ASCII (é, ị, v̶i̶a̶g̶r̶a̶, 1̶); then lower
//     case, with look-alike letters of other scripts folded to plain Latin
//     (Cyrillic а and і, Greek ο and ν, Cherokee Ꮩ, small capital ᴀ, ø);
//     then NFC, so that other scripts keep their marks and syllables. Blank
//     look-alikes (Hangul fillers, the braille blank) are read both as
//     nothing and as a space: "vi⠀agra" matches viagra and "buy⠀now" the
//     phrase "buy now". An RE2 pattern (/cas+ino/) is matched against this
//     text, with its own literals and classes folded the same way, so
//     /Casino/ and /казино/ work as written.
//  2. For words and phrases only, leetspeak is folded too: the digits
//     0 1 3 4 5 7 become o i e a s t, and @ $ ! become a s i inside a word
//     (v!agra, but not "viagra!"). Text with such a symbol is matched both
//     with and without it folded, so "bob@example.com" matches the terms
//     "example.com" and "bob@example.com". Patterns are not leet-folded: a
//     pattern that means to catch digits or symbols says so
//     (/v[i1!]agra/), and one that names them (/\d{6,}/, /@\w+/) keeps
//     working.
//  3. Words are split into tokens at every character that is not a letter,
//     digit or mark; a word entry matches a whole token ("ass" does not
//     match "class"), and a phrase matches consecutive tokens, whatever
//     separates them. Scripts written without spaces need a pattern.
package spam

import "github.com/commentd/commentd/internal/comment"

// Action is what becomes of a comment. Actions are ordered by severity:
// ActionApprove < ActionHold < ActionSpam < ActionReject.
type Action string

// The actions, from least to most severe. A rule that fires may take any of
// ActionHold, ActionSpam and ActionReject; ActionApprove is only ever the
// outcome of a verdict.
const (
	// ActionApprove publishes the comment at once.
	ActionApprove Action = "approve"
	// ActionHold queues the comment for a moderator.
	ActionHold Action = "hold"
	// ActionSpam files the comment as spam; the submitter is answered as if
	// it had been held.
	ActionSpam Action = "spam"
	// ActionReject refuses the comment; it is not stored.
	ActionReject Action = "reject"
)

// Severity returns the rank of a in the order approve (0) < hold (1) <
// spam (2) < reject (3), or -1 for an unknown action.
func (a Action) Severity() int {
	switch a {
	case ActionApprove:
		return 0
	case ActionHold:
		return 1
	case ActionSpam:
		return 2
	case ActionReject:
		return 3
	}
	return -1
}

// Valid reports whether a is one of the four actions.
func (a Action) Valid() bool { return a.Severity() >= 0 }

// validHitAction reports whether a rule that fires may take action a.
func validHitAction(a Action) bool {
	return a == ActionHold || a == ActionSpam || a == ActionReject
}

// Status returns the status a comment judged a is stored with:
// approve → approved, hold → pending, spam → spam, reject → rejected (a
// rejected comment is normally not stored at all). An unknown action gives
// pending, so that nothing unknown is ever published.
func (a Action) Status() comment.Status {
	switch a {
	case ActionApprove:
		return comment.StatusApproved
	case ActionSpam:
		return comment.StatusSpam
	case ActionReject:
		return comment.StatusRejected
	}
	return comment.StatusPending
}

// Rule names. They name the rule in comment.Reason.Rule, are the keys of
// Rules.Actions and count the rule's hits.
const (
	// RuleBlockedIP: the client IP is on blocked_ips or in a range there.
	RuleBlockedIP = "blocked_ip"
	// RuleBlockedEmail: the author's email (also with a +tag removed from
	// its local part), or its domain, is on blocked_emails.
	RuleBlockedEmail = "blocked_email"
	// RuleBlockWords: a block_words entry matched.
	RuleBlockWords = "block_words"
	// RuleHoneypot: the hidden form field, which people never see, was
	// filled in.
	RuleHoneypot = "honeypot"
	// RuleTokenMissing: the form token is missing or forged (bad format, bad
	// signature, another site or page, issued in the future).
	RuleTokenMissing = "form_token_missing"
	// RuleTokenTooFast: the form was submitted sooner after it was shown
	// than min_submit_seconds.
	RuleTokenTooFast = "form_token_too_fast"
	// RuleTokenExpired: the form token is older than max_token_age.
	RuleTokenExpired = "form_token_expired"
	// RuleHoldWords: a hold_words entry matched.
	RuleHoldWords = "hold_words"
	// RuleMaxLinks: the body has max_links links or more (by CountLinks,
	// or by Input.RenderedLinks when that is more).
	RuleMaxLinks = "max_links"

	// RuleMode is not configurable: the moderation mode held a comment that
	// no rule held.
	RuleMode = "moderation_mode"
	// RuleTrusted is not configurable: the author is on trusted_emails, so
	// the holds of hold_words, max_links, the form-token rules and the
	// moderation mode were skipped (see Engine.Evaluate).
	RuleTrusted = "trusted_author"
)

// RuleNames returns the names of the rules whose action a site owner sets,
// in the order Evaluate checks them. The slice is new on every call.
func RuleNames() []string {
	return []string{
		RuleBlockedIP, RuleBlockedEmail, RuleBlockWords, RuleHoneypot,
		RuleTokenMissing, RuleTokenTooFast, RuleTokenExpired,
		RuleHoldWords, RuleMaxLinks,
	}
}

// DefaultActions returns the action each configurable rule takes unless the
// site owner changes it: block lists and block words reject, a honeypot or a
// form submitted too fast is spam, everything else holds (a missing or
// expired token holds, so that a reader with an odd setup is never silently
// lost). The map is new on every call.
func DefaultActions() map[string]Action {
	return map[string]Action{
		RuleBlockedIP:    ActionReject,
		RuleBlockedEmail: ActionReject,
		RuleBlockWords:   ActionReject,
		RuleHoneypot:     ActionSpam,
		RuleTokenMissing: ActionHold,
		RuleTokenTooFast: ActionSpam,
		RuleTokenExpired: ActionHold,
		RuleHoldWords:    ActionHold,
		RuleMaxLinks:     ActionHold,
	}
}
