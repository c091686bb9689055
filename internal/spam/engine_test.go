package spam

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// testRules are the defaults in mode hold_on_hits, so that a clean
// comment is approved and every hit shows in the action.
func testRules(mutate func(*Rules)) Rules {
	r := DefaultRules()
	r.Mode = ModeHoldOnHits
	if mutate != nil {
		mutate(&r)
	}
	return r
}

func mustCompile(t testing.TB, r Rules) *Engine {
	t.Helper()
	e, err := Compile(r)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e
}

// cleanInput is a submission no default rule objects to.
func cleanInput(mutate func(*Input)) Input {
	in := Input{
		Name:      "Alice Martin",
		Email:     "alice@readers.example",
		Website:   "https://alice.example/blog",
		Body:      "Thanks for the article. The section on the harbour works was useful.",
		IP:        "198.51.100.23",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
		Token:     TokenOK,
		TokenAge:  42 * time.Second,
	}
	if mutate != nil {
		mutate(&in)
	}
	return in
}

func ruleNames(rs []comment.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Rule
	}
	return out
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name       string
		rules      func(*Rules)
		input      func(*Input)
		want       Action
		wantRules  []string
		wantDetail string // a substring of the first reason's detail
	}{
		{name: "clean comment", want: ActionApprove},

		// Blocked IPs.
		{
			name:  "blocked single IPv4",
			rules: func(r *Rules) { r.BlockedIPs = []string{"198.51.100.23"} },
			want:  ActionReject, wantRules: []string{RuleBlockedIP}, wantDetail: "198.51.100.23 is on blocked_ips",
		},
		{
			name:  "blocked IPv4 range",
			rules: func(r *Rules) { r.BlockedIPs = []string{"198.51.100.0/24"} },
			want:  ActionReject, wantRules: []string{RuleBlockedIP}, wantDetail: "198.51.100.23 is in 198.51.100.0/24",
		},
		{
			name:  "IPv4 outside the range",
			rules: func(r *Rules) { r.BlockedIPs = []string{"198.51.101.0/24", "10.0.0.0/8"} },
			want:  ActionApprove,
		},
		{
			name:  "blocked IPv6 range",
			rules: func(r *Rules) { r.BlockedIPs = []string{"2001:db8:abcd::/48"} },
			input: func(in *Input) { in.IP = "2001:DB8:ABCD:12::7" },
			want:  ActionReject, wantRules: []string{RuleBlockedIP}, wantDetail: "2001:db8:abcd:12::7 is in 2001:db8:abcd::/48",
		},
		{
			name:  "IPv6 outside the range",
			rules: func(r *Rules) { r.BlockedIPs = []string{"2001:db8:abcd::/48"} },
			input: func(in *Input) { in.IP = "2001:db8:abce::7" },
			want:  ActionApprove,
		},
		{
			name:  "IPv4-mapped client in an IPv4 range",
			rules: func(r *Rules) { r.BlockedIPs = []string{"198.51.100.0/24"} },
			input: func(in *Input) { in.IP = "::ffff:198.51.100.23" },
			want:  ActionReject, wantRules: []string{RuleBlockedIP}, wantDetail: "198.51.100.23 is in 198.51.100.0/24",
		},
		{
			name:  "IPv4 client in an IPv4-mapped range",
			rules: func(r *Rules) { r.BlockedIPs = []string{"::ffff:198.51.100.0/120"} },
			want:  ActionReject, wantRules: []string{RuleBlockedIP}, wantDetail: "is in 198.51.100.0/24",
		},
		{
			name:  "narrowest range named",
			rules: func(r *Rules) { r.BlockedIPs = []string{"198.0.0.0/8", "198.51.100.0/24"} },
			want:  ActionReject, wantRules: []string{RuleBlockedIP}, wantDetail: "is in 198.51.100.0/24",
		},
		{
			name:  "unparseable client IP is not blocked",
			rules: func(r *Rules) { r.BlockedIPs = []string{"0.0.0.0/0"} },
			input: func(in *Input) { in.IP = "unknown" },
			want:  ActionApprove,
		},

		// Blocked emails.
		{
			name:  "blocked address, any case",
			rules: func(r *Rules) { r.BlockedEmails = []string{"alice@readers.example"} },
			input: func(in *Input) { in.Email = " Alice@Readers.Example " },
			want:  ActionReject, wantRules: []string{RuleBlockedEmail}, wantDetail: "address is on blocked_emails",
		},
		{
			name:  "blocked domain",
			rules: func(r *Rules) { r.BlockedEmails = []string{"readers.example"} },
			want:  ActionReject, wantRules: []string{RuleBlockedEmail}, wantDetail: `"readers.example"`,
		},
		{
			name:  "blocked @domain",
			rules: func(r *Rules) { r.BlockedEmails = []string{"@readers.example"} },
			want:  ActionReject, wantRules: []string{RuleBlockedEmail},
		},
		{
			name:  "blocked domain covers subdomains",
			rules: func(r *Rules) { r.BlockedEmails = []string{"example.com"} },
			input: func(in *Input) { in.Email = "bot@mail.eu.example.com" },
			want:  ActionReject, wantRules: []string{RuleBlockedEmail}, wantDetail: `"example.com"`,
		},
		{
			name:  "notexample.com is not example.com",
			rules: func(r *Rules) { r.BlockedEmails = []string{"example.com"} },
			input: func(in *Input) { in.Email = "someone@notexample.com" },
			want:  ActionApprove,
		},
		{
			name:  "blocked address with a +tag",
			rules: func(r *Rules) { r.BlockedEmails = []string{"spam@example.com"} },
			input: func(in *Input) { in.Email = "Spam+x@Example.com" },
			want:  ActionReject, wantRules: []string{RuleBlockedEmail}, wantDetail: "without its +tag",
		},
		{
			name:  "blocked address with an empty +tag",
			rules: func(r *Rules) { r.BlockedEmails = []string{"spam@example.com"} },
			input: func(in *Input) { in.Email = "spam+@example.com" },
			want:  ActionReject, wantRules: []string{RuleBlockedEmail},
		},
		{
			name:  "a +tag on another address",
			rules: func(r *Rules) { r.BlockedEmails = []string{"spam@example.com"} },
			input: func(in *Input) { in.Email = "ham+spam@example.com" },
			want:  ActionApprove,
		},
		{
			name:  "a local part that starts with +",
			rules: func(r *Rules) { r.BlockedEmails = []string{"spam@example.com"} },
			input: func(in *Input) { in.Email = "+spam@example.com" },
			want:  ActionApprove,
		},
		{
			name:  "a blocked address with a +tag blocks only itself",
			rules: func(r *Rules) { r.BlockedEmails = []string{"spam+x@example.com"} },
			input: func(in *Input) { in.Email = "spam@example.com" },
			want:  ActionApprove,
		},
		{
			name:  "another address at the domain of a blocked address",
			rules: func(r *Rules) { r.BlockedEmails = []string{"bot@example.com"} },
			input: func(in *Input) { in.Email = "someone@example.com" },
			want:  ActionApprove,
		},

		// Words.
		{
			name:  "block word in body",
			rules: func(r *Rules) { r.BlockWords = []string{"viagra"} },
			input: func(in *Input) { in.Body = "Cheap VIAGRA here" },
			want:  ActionReject, wantRules: []string{RuleBlockWords}, wantDetail: `matched "viagra" in body`,
		},
		{
			name:  "hold word in name",
			rules: func(r *Rules) { r.HoldWords = []string{"seo"} },
			input: func(in *Input) { in.Name = "Best SEO Services" },
			want:  ActionHold, wantRules: []string{RuleHoldWords}, wantDetail: `matched "seo" in name`,
		},
		{
			name:  "hold word in email",
			rules: func(r *Rules) { r.HoldWords = []string{"casino"} },
			input: func(in *Input) { in.Email = "win@casino-royal.example" },
			want:  ActionHold, wantRules: []string{RuleHoldWords}, wantDetail: "in email",
		},
		{
			name:  "hold word in website",
			rules: func(r *Rules) { r.HoldWords = []string{"casino"} },
			input: func(in *Input) { in.Website = "https://best-casino.example" },
			want:  ActionHold, wantRules: []string{RuleHoldWords}, wantDetail: "in website",
		},
		{
			name:  "IP in a word list",
			rules: func(r *Rules) { r.HoldWords = []string{"198.51.100.23"} },
			want:  ActionHold, wantRules: []string{RuleHoldWords}, wantDetail: `matched "198.51.100.23" in IP`,
		},
		{
			name:  "other IP not matched by a word-list IP",
			rules: func(r *Rules) { r.HoldWords = []string{"98.51.100.23"} },
			want:  ActionApprove,
		},
		{
			name:  "hold word in user agent",
			rules: func(r *Rules) { r.HoldWords = []string{"curl"} },
			input: func(in *Input) { in.UserAgent = "curl/8.5.0" },
			want:  ActionHold, wantRules: []string{RuleHoldWords}, wantDetail: "in user agent",
		},
		{
			name:  "pattern in body",
			rules: func(r *Rules) { r.BlockWords = []string{"/cas+ino/"} },
			input: func(in *Input) { in.Body = "Play at the CASSSINO tonight" },
			want:  ActionReject, wantRules: []string{RuleBlockWords}, wantDetail: `matched /cas+ino/ ("casssino") in body`,
		},
		{
			name:  "several matches named, then more",
			rules: func(r *Rules) { r.HoldWords = []string{"alpha", "beta", "gamma", "delta"} },
			input: func(in *Input) { in.Body = "alpha beta gamma delta alpha" },
			want:  ActionHold, wantRules: []string{RuleHoldWords},
			wantDetail: `matched "alpha" in body, "beta" in body, "gamma" in body, and more`,
		},

		// Honeypot.
		{
			name:  "honeypot filled",
			input: func(in *Input) { in.Honeypot = "http://spam.example" },
			want:  ActionSpam, wantRules: []string{RuleHoneypot}, wantDetail: "hidden field was filled in",
		},
		{
			name:  "honeypot blank",
			input: func(in *Input) { in.Honeypot = "  " },
			want:  ActionApprove,
		},

		// Form token.
		{
			name:  "token missing",
			input: func(in *Input) { in.Token = TokenMissing },
			want:  ActionHold, wantRules: []string{RuleTokenMissing}, wantDetail: "no form token",
		},
		{
			name:  "token status unset counts as missing",
			input: func(in *Input) { in.Token = "" },
			want:  ActionHold, wantRules: []string{RuleTokenMissing},
		},
		{
			name:  "token forged",
			input: func(in *Input) { in.Token = TokenForged },
			want:  ActionHold, wantRules: []string{RuleTokenMissing}, wantDetail: "not valid",
		},
		{
			name:  "token too fast",
			input: func(in *Input) { in.Token, in.TokenAge = TokenTooFast, 1500*time.Millisecond },
			want:  ActionSpam, wantRules: []string{RuleTokenTooFast},
			wantDetail: "submitted 1s after the form was shown (minimum 3s)",
		},
		{
			name:  "token expired",
			input: func(in *Input) { in.Token, in.TokenAge = TokenExpired, 25*time.Hour+30*time.Second },
			want:  ActionHold, wantRules: []string{RuleTokenExpired},
			wantDetail: "the form was shown 25h ago (maximum 24h)",
		},

		// Links.
		{
			name:  "one link is fine",
			input: func(in *Input) { in.Body = "See https://a.example/x for more." },
			want:  ActionApprove,
		},
		{
			name:  "two links hold (2 or more, as WordPress)",
			input: func(in *Input) { in.Body = "See https://a.example and [this](https://b.example)." },
			want:  ActionHold, wantRules: []string{RuleMaxLinks}, wantDetail: "2 links (the rule fires at 2 or more)",
		},
		{
			name:  "max_links 0 is off",
			rules: func(r *Rules) { r.MaxLinks = 0 },
			input: func(in *Input) { in.Body = "https://a.example https://b.example https://c.example" },
			want:  ActionApprove,
		},
		{
			name: "rendered links count when the Markdown count is lower",
			input: func(in *Input) {
				in.Body, in.RenderedLinks = "[a](https&#58;//a.example) [b](https\\://b.example)", 2
			},
			want: ActionHold, wantRules: []string{RuleMaxLinks}, wantDetail: "2 links",
		},
		{
			name: "the Markdown count counts when the rendered count is lower",
			input: func(in *Input) {
				in.Body, in.RenderedLinks = "https://a.example https://b.example https://c.example", 1
			},
			want: ActionHold, wantRules: []string{RuleMaxLinks}, wantDetail: "3 links",
		},
		{
			name:  "max_links 3",
			rules: func(r *Rules) { r.MaxLinks = 3 },
			input: func(in *Input) { in.Body = "https://a.example https://b.example" },
			want:  ActionApprove,
		},

		// Changed actions.
		{
			name:  "honeypot set to reject",
			rules: func(r *Rules) { r.Actions = map[string]Action{RuleHoneypot: ActionReject} },
			input: func(in *Input) { in.Honeypot = "x" },
			want:  ActionReject, wantRules: []string{RuleHoneypot},
		},
		{
			name: "block words set to hold",
			rules: func(r *Rules) {
				r.BlockWords, r.Actions = []string{"viagra"}, map[string]Action{RuleBlockWords: ActionHold}
			},
			input: func(in *Input) { in.Body = "viagra" },
			want:  ActionHold, wantRules: []string{RuleBlockWords},
		},
		{
			name: "blocked IP set to spam",
			rules: func(r *Rules) {
				r.BlockedIPs, r.Actions = []string{"198.51.100.23"}, map[string]Action{RuleBlockedIP: ActionSpam}
			},
			want: ActionSpam, wantRules: []string{RuleBlockedIP},
		},
		{
			name: "blocked email set to hold",
			rules: func(r *Rules) {
				r.BlockedEmails, r.Actions = []string{"readers.example"}, map[string]Action{RuleBlockedEmail: ActionHold}
			},
			want: ActionHold, wantRules: []string{RuleBlockedEmail},
		},
		{
			name:  "missing token set to spam",
			rules: func(r *Rules) { r.Actions = map[string]Action{RuleTokenMissing: ActionSpam} },
			input: func(in *Input) { in.Token = TokenMissing },
			want:  ActionSpam, wantRules: []string{RuleTokenMissing},
		},
		{
			name:  "too fast set to reject",
			rules: func(r *Rules) { r.Actions = map[string]Action{RuleTokenTooFast: ActionReject} },
			input: func(in *Input) { in.Token = TokenTooFast },
			want:  ActionReject, wantRules: []string{RuleTokenTooFast},
		},
		{
			name:  "expired token set to spam",
			rules: func(r *Rules) { r.Actions = map[string]Action{RuleTokenExpired: ActionSpam} },
			input: func(in *Input) { in.Token = TokenExpired },
			want:  ActionSpam, wantRules: []string{RuleTokenExpired},
		},
		{
			name:  "hold words set to spam",
			rules: func(r *Rules) { r.HoldWords, r.Actions = []string{"seo"}, map[string]Action{RuleHoldWords: ActionSpam} },
			input: func(in *Input) { in.Body = "seo" },
			want:  ActionSpam, wantRules: []string{RuleHoldWords},
		},
		{
			name:  "max links set to reject",
			rules: func(r *Rules) { r.Actions = map[string]Action{RuleMaxLinks: ActionReject} },
			input: func(in *Input) { in.Body = "www.a.example www.b.example" },
			want:  ActionReject, wantRules: []string{RuleMaxLinks},
		},

		// Several hits: the most severe wins, every hit is recorded in
		// evaluation order.
		{
			name: "most severe of several",
			rules: func(r *Rules) {
				r.HoldWords = []string{"seo"}
				r.BlockedIPs = []string{"198.51.100.0/24"}
			},
			input: func(in *Input) {
				in.Body = "seo https://a.example https://b.example"
				in.Honeypot = "x"
				in.Token = TokenTooFast
			},
			want:      ActionReject,
			wantRules: []string{RuleBlockedIP, RuleHoneypot, RuleTokenTooFast, RuleHoldWords, RuleMaxLinks},
		},
		{
			name:      "spam beats hold",
			rules:     func(r *Rules) { r.HoldWords = []string{"seo"} },
			input:     func(in *Input) { in.Body, in.Honeypot = "seo", "x" },
			want:      ActionSpam,
			wantRules: []string{RuleHoneypot, RuleHoldWords},
		},

		// Trusted authors.
		{
			name:      "trusted author skips a hold",
			rules:     func(r *Rules) { r.HoldWords, r.TrustedEmails = []string{"seo"}, []string{"alice@readers.example"} },
			input:     func(in *Input) { in.Body, in.Email = "seo", "ALICE@readers.example" },
			want:      ActionApprove,
			wantRules: []string{RuleHoldWords, RuleTrusted}, wantDetail: `matched "seo"`,
		},
		{
			name:      "trusted author does not skip a block word",
			rules:     func(r *Rules) { r.BlockWords, r.TrustedEmails = []string{"viagra"}, []string{"alice@readers.example"} },
			input:     func(in *Input) { in.Body = "viagra" },
			want:      ActionReject,
			wantRules: []string{RuleBlockWords, RuleTrusted},
		},
		{
			name: "trusted author does not skip a blocked IP",
			rules: func(r *Rules) {
				r.BlockedIPs, r.TrustedEmails = []string{"198.51.100.23"}, []string{"alice@readers.example"}
			},
			want:      ActionReject,
			wantRules: []string{RuleBlockedIP, RuleTrusted},
		},
		{
			name:      "trusted author does not skip spam",
			rules:     func(r *Rules) { r.TrustedEmails = []string{"alice@readers.example"} },
			input:     func(in *Input) { in.Honeypot = "x" },
			want:      ActionSpam,
			wantRules: []string{RuleHoneypot, RuleTrusted},
		},
		{
			name: "trusted author does not skip a hold set on the honeypot",
			rules: func(r *Rules) {
				r.TrustedEmails, r.Actions = []string{"alice@readers.example"}, map[string]Action{RuleHoneypot: ActionHold}
			},
			input:     func(in *Input) { in.Honeypot = "x" },
			want:      ActionHold,
			wantRules: []string{RuleHoneypot, RuleTrusted},
		},
		{
			name: "trusted author does not skip a hold set on block words",
			rules: func(r *Rules) {
				r.BlockWords, r.TrustedEmails = []string{"viagra"}, []string{"alice@readers.example"}
				r.Actions = map[string]Action{RuleBlockWords: ActionHold}
			},
			input:     func(in *Input) { in.Body = "viagra" },
			want:      ActionHold,
			wantRules: []string{RuleBlockWords, RuleTrusted}, wantDetail: `matched "viagra"`,
		},
		{
			name: "trusted author does not skip a hold set on a blocked IP",
			rules: func(r *Rules) {
				r.BlockedIPs, r.TrustedEmails = []string{"198.51.100.23"}, []string{"alice@readers.example"}
				r.Actions = map[string]Action{RuleBlockedIP: ActionHold}
			},
			want:      ActionHold,
			wantRules: []string{RuleBlockedIP, RuleTrusted},
		},
		{
			name: "trusted author does not skip a hold set on a blocked email",
			rules: func(r *Rules) {
				r.BlockedEmails, r.TrustedEmails = []string{"readers.example"}, []string{"alice@readers.example"}
				r.Actions = map[string]Action{RuleBlockedEmail: ActionHold}
			},
			want:      ActionHold,
			wantRules: []string{RuleBlockedEmail, RuleTrusted},
		},
		{
			name: "trusted author skips the holds of links and form tokens",
			rules: func(r *Rules) {
				r.TrustedEmails = []string{"alice@readers.example"}
			},
			input:     func(in *Input) { in.Body, in.Token = "https://a.example https://b.example", TokenExpired },
			want:      ActionApprove,
			wantRules: []string{RuleTokenExpired, RuleMaxLinks, RuleTrusted},
		},
		{
			name: "trusted author does not skip spam set on a form-token rule",
			rules: func(r *Rules) {
				r.TrustedEmails = []string{"alice@readers.example"}
			},
			input:     func(in *Input) { in.Token = TokenTooFast },
			want:      ActionSpam,
			wantRules: []string{RuleTokenTooFast, RuleTrusted},
		},
		{
			name:      "trusted author skips the mode hold",
			rules:     func(r *Rules) { r.Mode, r.TrustedEmails = ModeHoldAll, []string{"alice@readers.example"} },
			want:      ActionApprove,
			wantRules: []string{RuleTrusted}, wantDetail: "skipped the hold of moderation_mode",
		},
		{
			name:      "trusted author in hold_on_hits with no hits",
			rules:     func(r *Rules) { r.TrustedEmails = []string{"alice@readers.example"} },
			want:      ActionApprove,
			wantRules: []string{RuleTrusted}, wantDetail: "the author's email is on trusted_emails",
		},

		// Modes.
		{
			name:      "hold_all holds a clean comment",
			rules:     func(r *Rules) { r.Mode = ModeHoldAll },
			input:     func(in *Input) { in.KnownAuthor = true },
			want:      ActionHold,
			wantRules: []string{RuleMode}, wantDetail: "hold_all",
		},
		{
			name:      "hold_first_time holds an unknown author",
			rules:     func(r *Rules) { r.Mode = ModeHoldFirstTime },
			want:      ActionHold,
			wantRules: []string{RuleMode}, wantDetail: "first comment from this author",
		},
		{
			name:  "hold_first_time approves a known author",
			rules: func(r *Rules) { r.Mode = ModeHoldFirstTime },
			input: func(in *Input) { in.KnownAuthor = true },
			want:  ActionApprove,
		},
		{
			name:      "hold_first_time still applies hits to a known author",
			rules:     func(r *Rules) { r.Mode, r.HoldWords = ModeHoldFirstTime, []string{"seo"} },
			input:     func(in *Input) { in.KnownAuthor, in.Body = true, "seo" },
			want:      ActionHold,
			wantRules: []string{RuleHoldWords},
		},
		{
			name:  "hold_on_hits approves an unknown author",
			input: func(in *Input) { in.KnownAuthor = false },
			want:  ActionApprove,
		},
		{
			name:      "a hold hit in hold_all is reported with the mode",
			rules:     func(r *Rules) { r.Mode = ModeHoldAll },
			input:     func(in *Input) { in.Token = TokenMissing },
			want:      ActionHold,
			wantRules: []string{RuleTokenMissing, RuleMode},
		},
		{
			name:      "a spam hit in hold_all is reported without the mode",
			rules:     func(r *Rules) { r.Mode = ModeHoldAll; r.Actions[RuleTokenMissing] = ActionSpam },
			input:     func(in *Input) { in.Token = TokenMissing },
			want:      ActionSpam,
			wantRules: []string{RuleTokenMissing},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustCompile(t, testRules(tt.rules))
			got := e.Evaluate(cleanInput(tt.input))
			if got.Action != tt.want {
				t.Errorf("Action = %q, want %q (reasons %v)", got.Action, tt.want, got.Reasons)
			}
			if names := ruleNames(got.Reasons); !slices.Equal(names, tt.wantRules) && (len(names) != 0 || len(tt.wantRules) != 0) {
				t.Errorf("reasons = %v, want rules %v", got.Reasons, tt.wantRules)
			}
			if tt.wantDetail != "" && (len(got.Reasons) == 0 || !strings.Contains(got.Reasons[0].Detail, tt.wantDetail)) {
				t.Errorf("reasons = %v, want first detail to contain %q", got.Reasons, tt.wantDetail)
			}
			for _, r := range got.Reasons {
				if len(r.Detail) > maxDetail {
					t.Errorf("detail of %s is %d bytes, want at most %d", r.Rule, len(r.Detail), maxDetail)
				}
			}
		})
	}
}

// TestEvaluateEveryAction sets each configurable rule to each action and
// checks the verdict follows.
func TestEvaluateEveryAction(t *testing.T) {
	// An input and rules that make exactly the named rule fire.
	fire := map[string]struct {
		rules func(*Rules)
		input func(*Input)
	}{
		RuleBlockedIP:    {rules: func(r *Rules) { r.BlockedIPs = []string{"198.51.100.0/24"} }},
		RuleBlockedEmail: {rules: func(r *Rules) { r.BlockedEmails = []string{"readers.example"} }},
		RuleBlockWords:   {rules: func(r *Rules) { r.BlockWords = []string{"harbour"} }},
		RuleHoneypot:     {input: func(in *Input) { in.Honeypot = "x" }},
		RuleTokenMissing: {input: func(in *Input) { in.Token = TokenForged }},
		RuleTokenTooFast: {input: func(in *Input) { in.Token = TokenTooFast }},
		RuleTokenExpired: {input: func(in *Input) { in.Token = TokenExpired }},
		RuleHoldWords:    {rules: func(r *Rules) { r.HoldWords = []string{"harbour works"} }},
		RuleMaxLinks:     {input: func(in *Input) { in.Body = "<https://a.example> and https://b.example" }},
	}
	for _, rule := range RuleNames() {
		f, ok := fire[rule]
		if !ok {
			t.Fatalf("no test input for rule %s", rule)
		}
		for _, action := range []Action{ActionHold, ActionSpam, ActionReject} {
			t.Run(rule+"/"+string(action), func(t *testing.T) {
				r := testRules(f.rules)
				r.Actions = map[string]Action{rule: action}
				got := mustCompile(t, r).Evaluate(cleanInput(f.input))
				if got.Action != action {
					t.Errorf("Action = %q, want %q", got.Action, action)
				}
				if names := ruleNames(got.Reasons); !slices.Equal(names, []string{rule}) {
					t.Errorf("reasons = %v, want [%s]", got.Reasons, rule)
				}
			})
		}
	}
}

// TestWordMatching covers normalisation, whole words, phrases and
// patterns, in the body.
func TestWordMatching(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		text  string
		want  bool
	}{
		{"plain", "viagra", "buy viagra now", true},
		{"upper case", "viagra", "VIAGRA", true},
		{"leet digit", "viagra", "v1agra", true},
		{"roman numeral and leet", "viagra", "Ⅴ1agra", true},
		{"cyrillic i", "viagra", "vіagra", true},
		{"cyrillic a and e", "casino", "саsinо", true},
		{"greek nu and omicron", "viagra", "νiagrα", true},
		{"fullwidth", "viagra", "ｖｉａｇｒａ", true},
		{"mathematical bold", "viagra", "𝐯𝐢𝐚𝐠𝐫𝐚", true},
		{"small capitals", "viagra", "ᴠɪᴀɢʀᴀ", true},
		{"zero-width joiner", "viagra", "vi\u200dag\u200dra", true},
		{"zero-width space", "viagra", "via\u200bgra", true},
		{"soft hyphen", "viagra", "via\u00adgra", true},
		{"combining strike-through", "viagra", "v\u0336i\u0336a\u0336g\u0336r\u0336a\u0336", true},
		{"accents", "viagra", "víägra", true},
		{"symbol inside word", "viagra", "v!agra", true},
		{"at sign inside word", "casino", "c@sino", true},
		{"dollar inside word", "casino", "ca$ino", true},
		{"sentence punctuation", "viagra", "Want viagra!", true},
		{"sentence punctuation after phrase", "buy now", "Buy now!!!", true},
		{"leet in the term too", "v1agra", "viagra", true},
		{"homoglyph in the term too", "vіagra", "viagra", true},
		{"accent in the term", "café", "cafe", true},
		{"longer word", "viagra", "viagras", false},
		{"word inside word", "ass", "a class on assessment", false},
		{"leet word", "ass", "what a 455", true},
		{"whole word", "ass", "kick ass", true},
		{"hyphenated", "viagra", "viagra-online", true},
		{"underscore", "viagra", "buy_viagra", true},
		{"phrase", "buy now", "please BUY   NOW", true},
		{"phrase across a newline", "buy now", "buy\nnow", true},
		{"phrase with a word between", "buy now", "buy it now", false},
		{"phrase glued", "buy now", "buynow", false},
		{"phrase partial at end", "buy now please", "buy now", false},
		{"non-latin word", "казино", "Лучшее КАЗИНО!", true},
		{"pattern", "/cas+ino/", "the cassino", true},
		{"pattern ignores case", "/cas+ino/", "CASINO", true},
		{"pattern sees homoglyphs folded", "/cas+ino/", "cаsino", true},
		{"pattern is not leet-folded", "/cas+ino/", "c4sino", false},
		{"pattern with upper case", "/Cas+ino/", "casino", true},
		{"pattern in another script", "/казино/", "КАЗИНО", true},
		{"pattern class folded", "/[сc]asino/", "casino", true},
		{"pattern with spaces", `/\bfree\s+money\b/`, "get FREE \n money", true},
		{"pattern word boundary", `/\bfree\s+money\b/`, "carefree money", false},
		{"pattern over zero-width space", "/viagra/", "via\u200bgra", true},

		// Letters with marks outside Latin-1 and Extended-A (NFKD).
		{"dot below", "viagra", "vịagra", true},
		{"caron", "viagra", "vǐagra", true},
		{"accent in the term, dot below", "vịagra", "viagra", true},
		{"pattern literal with a dot below", "/vịagra/", "viagra", true},
		{"pattern class with a dot below", "/v[ịx]agra/", "viagra", true},
		{"pattern class holding a look-alike", "/[ϲ]asino/", "casino", true},
		// Marks after digits and symbols, and enclosing marks.
		{"strike-through on a digit", "viagra", "v1\u0336agra", true},
		{"strike-through on a symbol", "viagra", "v!\u0336agra", true},
		{"enclosing circles", "viagra", "v\u20ddi\u20dda\u20ddg\u20ddr\u20dda\u20dd", true},
		// Blank look-alikes: hidden inside a word, a space between words.
		{"Hangul filler inside a word", "viagra", "vi\u3164agra", true},
		{"halfwidth Hangul filler", "viagra", "via\uffa0gra", true},
		{"Hangul choseong filler", "viagra", "vi\u115fagra", true},
		{"Hangul jungseong filler", "viagra", "vi\u1160agra", true},
		{"braille blank inside a word", "viagra", "via\u2800gra", true},
		{"braille blank between the words of a phrase", "buy now", "buy\u2800now", true},
		{"Hangul filler between the words of a phrase", "buy now", "buy\u3164now", true},
		{"pattern over a Hangul filler", "/viagra/", "vi\u3164agra", true},
		// Look-alikes.
		{"lunate sigma", "casino", "ϲasino", true},
		{"capital lunate sigma", "casino", "Ϲasino", true},
		{"lunate sigma in the term", "ϲasino", "casino", true},
		{"sigma, capital and final", "kasinos", "ΚΑΣΙΝΟΣ", true},
		{"l with middle dot", "hello", "heŀŀo", true},
		{"izhitsa", "viagra", "ѵiagra", true},
		{"Cherokee capital", "viagra", "Ꮩiagra", true},
		{"Cherokee small", "viagra", "ꮩiagra", true},
		{"Cherokee in the term", "Ꮩiagra", "viagra", true},
		{"Lisu", "viagra", "ꓦꓲꓮꓖꓣꓮ", true},
		{"stroke", "viagra", "vɨagra", true},
		// Other scripts keep their marks and syllables.
		{"Korean", "한국어", "한국어 공부", true},
		{"pattern with a Hangul class", "/[가-힣]+어/", "한국어", true},
		{"Japanese voicing marks kept", "がか", "かか", false},
		{"Devanagari", "हिन्दी", "हिन्दी में", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, list := range []string{RuleHoldWords, RuleBlockWords} {
				r := testRules(nil)
				if list == RuleHoldWords {
					r.HoldWords = []string{tt.entry}
				} else {
					r.BlockWords = []string{tt.entry}
				}
				got := mustCompile(t, r).Evaluate(cleanInput(func(in *Input) { in.Body = tt.text }))
				hit := slices.Contains(ruleNames(got.Reasons), list)
				if hit != tt.want {
					t.Errorf("%s %q on %q: hit = %v, want %v (reasons %v)", list, tt.entry, tt.text, hit, tt.want, got.Reasons)
				}
			}
		})
	}
}

// TestBodyText: words and patterns match the text a reader sees too,
// and a hit there is reported in the body.
func TestBodyText(t *testing.T) {
	tests := []struct {
		name       string
		entry      string
		body, text string
		want       bool
	}{
		{"entity", "viagra", "&#118;iagra", "viagra", true},
		{"empty HTML element", "viagra", "v<b></b>iagra", "viagra", true},
		{"emphasis", "viagra", "v*i*agra", "viagra", true},
		{"link text", "viagra", "v[i](x)agra", "viagra", true},
		{"phrase", "buy now", "buy&nbsp;now", "buy\u00a0now", true},
		{"pattern", "/v+iagra/", "&#118;iagra", "viagra", true},
		{"no rendering", "viagra", "v*i*agra", "", false},
		{"plain text comment", "viagra", "no spam here", "no spam here", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRules(func(r *Rules) { r.BlockWords = []string{tt.entry} })
			got := mustCompile(t, r).Evaluate(cleanInput(func(in *Input) { in.Body, in.BodyText = tt.body, tt.text }))
			hit := slices.Contains(ruleNames(got.Reasons), RuleBlockWords)
			if hit != tt.want {
				t.Fatalf("%q on body %q, text %q: hit = %v, want %v (reasons %v)", tt.entry, tt.body, tt.text, hit, tt.want, got.Reasons)
			}
			if hit && !strings.Contains(got.Reasons[0].Detail, " in body") {
				t.Errorf("detail = %q, want the hit reported in body", got.Reasons[0].Detail)
			}
		})
	}
}

// TestBodyTextReportedOnce: a term found in both Body and BodyText is
// named once.
func TestBodyTextReportedOnce(t *testing.T) {
	r := testRules(func(r *Rules) { r.HoldWords = []string{"viagra"} })
	got := mustCompile(t, r).Evaluate(cleanInput(func(in *Input) { in.Body, in.BodyText = "**viagra**", "viagra" }))
	if len(got.Reasons) != 1 || got.Reasons[0].Detail != `matched "viagra" in body` {
		t.Errorf("reasons = %v, want one: matched \"viagra\" in body", got.Reasons)
	}
}

func TestWordsInEmail(t *testing.T) {
	tests := []struct {
		entry, email string
		want         bool
	}{
		{"example.com", "bob@example.com", true},
		{"bob@example.com", "bob@example.com", true},
		{"bob", "bob@example.com", true},
		{"example", "bob@notexample.com", false},
	}
	for _, tt := range tests {
		r := testRules(func(r *Rules) { r.HoldWords = []string{tt.entry} })
		got := mustCompile(t, r).Evaluate(cleanInput(func(in *Input) { in.Email, in.Website = tt.email, "" }))
		if hit := slices.Contains(ruleNames(got.Reasons), RuleHoldWords); hit != tt.want {
			t.Errorf("%q on email %q: hit = %v, want %v", tt.entry, tt.email, hit, tt.want)
		}
	}
}

func TestPatternDetailLeavesEmailOut(t *testing.T) {
	r := testRules(func(r *Rules) { r.HoldWords = []string{"/bob@[a-z.]+/"} })
	got := mustCompile(t, r).Evaluate(cleanInput(func(in *Input) { in.Email = "bob@secret.example" }))
	if len(got.Reasons) != 1 {
		t.Fatalf("reasons = %v, want one", got.Reasons)
	}
	if d := got.Reasons[0].Detail; strings.Contains(d, "secret") || !strings.Contains(d, "in email") {
		t.Errorf("detail = %q, want the pattern and field without the address", d)
	}
}

func TestDetailIsClipped(t *testing.T) {
	long := strings.Repeat("x", 190)
	r := testRules(func(r *Rules) {
		r.HoldWords = []string{long + "a", long + "b", long + "c", long + "d"}
	})
	body := long + "a " + long + "b " + long + "c " + long + "d"
	got := mustCompile(t, r).Evaluate(cleanInput(func(in *Input) { in.Body = body }))
	if len(got.Reasons) != 1 {
		t.Fatalf("reasons = %v, want one", got.Reasons)
	}
	if d := got.Reasons[0].Detail; len(d) > maxDetail || !strings.HasSuffix(d, "…") {
		t.Errorf("detail is %d bytes (%q), want at most %d ending in …", len(d), d, maxDetail)
	}
}

func TestEngineRulesIsACopy(t *testing.T) {
	e := mustCompile(t, testRules(func(r *Rules) { r.HoldWords = []string{"b", "a"} }))
	r := e.Rules()
	if !slices.Equal(r.HoldWords, []string{"a", "b"}) {
		t.Errorf("HoldWords = %v, want normalised [a b]", r.HoldWords)
	}
	r.HoldWords[0] = "changed"
	r.Actions[RuleHoneypot] = ActionReject
	if again := e.Rules(); again.HoldWords[0] != "a" || again.Actions[RuleHoneypot] != ActionSpam {
		t.Errorf("changing the copy changed the engine: %v", again)
	}
}

func TestCompileRefusesInvalidRules(t *testing.T) {
	r := testRules(func(r *Rules) { r.BlockedIPs = []string{"nope"} })
	_, err := Compile(r)
	ve, ok := err.(*comment.ValidationError)
	if !ok {
		t.Fatalf("Compile error = %v, want a *comment.ValidationError", err)
	}
	if _, ok := ve.Fields["blocked_ips[0]"]; !ok {
		t.Errorf("fields = %v, want blocked_ips[0]", ve.Fields)
	}
}

func TestActionOrder(t *testing.T) {
	order := []Action{ActionApprove, ActionHold, ActionSpam, ActionReject}
	for i := 1; i < len(order); i++ {
		if order[i-1].Severity() >= order[i].Severity() {
			t.Errorf("%s is not less severe than %s", order[i-1], order[i])
		}
	}
	if Action("maybe").Valid() {
		t.Error(`Action("maybe").Valid() = true`)
	}
	wantStatus := map[Action]comment.Status{
		ActionApprove: comment.StatusApproved, ActionHold: comment.StatusPending,
		ActionSpam: comment.StatusSpam, ActionReject: comment.StatusRejected, "": comment.StatusPending,
	}
	for a, want := range wantStatus {
		if got := a.Status(); got != want {
			t.Errorf("%q.Status() = %q, want %q", a, got, want)
		}
	}
}
