package spam

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

func TestDefaultRulesAreValid(t *testing.T) {
	r := DefaultRules()
	if ve := r.Validate(); ve != nil {
		t.Fatalf("DefaultRules().Validate() = %v", ve.Fields)
	}
	n := r
	n.Normalize()
	if !reflect.DeepEqual(n, r) {
		t.Errorf("Normalize changed the defaults:\n got %+v\nwant %+v", n, r)
	}
	if got := r.RateLimits.Page.RateLimit(); got != (comment.RateLimit{Every: 500 * time.Millisecond, Burst: 60}) {
		t.Errorf("page limit = %+v", got)
	}
	// A comment a second from different readers never reaches the page or
	// site limits.
	if every := time.Duration(r.RateLimits.Page.Every); every >= time.Second {
		t.Errorf("page limit every %s, want under 1s", every)
	}
}

func TestNormalize(t *testing.T) {
	r := Rules{
		Mode:          " Hold_On_Hits ",
		HoldWords:     []string{" Buy   NOW ", "viagra", "", "VIAGRA", "/Cas+ino/ ", "/Cas+ino/"},
		BlockWords:    nil,
		BlockedIPs:    []string{"203.0.113.7/24", "::ffff:198.51.100.0/120", "2001:DB8::/32", " 10.0.0.1 ", "::ffff:10.0.0.1", "bogus"},
		BlockedEmails: []string{"@Spam.Example", "spam.example", "Bob@Example.COM", "trailing.example."},
		TrustedEmails: []string{" Alice@Example.org", "alice@example.org"},
		Actions:       map[string]Action{RuleHoneypot: " Reject "},
		RateLimits:    RateLimits{IP: Limit{Burst: 7}},
	}
	callers := r.HoldWords
	r.Normalize()

	want := Rules{
		Mode:          ModeHoldOnHits,
		HoldWords:     []string{"/Cas+ino/", "buy now", "viagra"},
		BlockWords:    []string{},
		BlockedIPs:    []string{"10.0.0.1", "198.51.100.0/24", "2001:db8::/32", "203.0.113.0/24", "bogus"},
		BlockedEmails: []string{"bob@example.com", "spam.example", "trailing.example"},
		TrustedEmails: []string{"alice@example.org"},
		MaxTokenAge:   Duration(24 * time.Hour),
		Actions:       DefaultActions(),
		RateLimits:    defaultRateLimits(),
	}
	want.Actions[RuleHoneypot] = ActionReject
	want.RateLimits.IP.Burst = 7
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Normalize:\n got %+v\nwant %+v", r, want)
	}
	if callers[0] != " Buy   NOW " {
		t.Errorf("Normalize changed the caller's slice: %q", callers)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Rules)
		want   map[string]string // field → a substring of its message
	}{
		{name: "defaults", mutate: func(*Rules) {}},
		{name: "bad mode", mutate: func(r *Rules) { r.Mode = "sometimes" }, want: map[string]string{"mode": "hold_all"}},
		{name: "negative version", mutate: func(r *Rules) { r.Version = -1 }, want: map[string]string{"version": "negative"}},
		{name: "negative max_links", mutate: func(r *Rules) { r.MaxLinks = -1 }, want: map[string]string{"max_links": "between 0"}},
		{name: "min_submit_seconds too large", mutate: func(r *Rules) { r.MinSubmitSeconds = 3601 }, want: map[string]string{"min_submit_seconds": "3600"}},
		{name: "min_submit_seconds negative", mutate: func(r *Rules) { r.MinSubmitSeconds = -1 }, want: map[string]string{"min_submit_seconds": "between"}},
		{name: "max_token_age too short", mutate: func(r *Rules) { r.MaxTokenAge = Duration(time.Second) }, want: map[string]string{"max_token_age": "between 1m and 720h"}},
		{name: "max_token_age under the minimum", mutate: func(r *Rules) {
			r.MinSubmitSeconds, r.MaxTokenAge = 3600, Duration(time.Hour)
		}, want: map[string]string{"max_token_age": "longer than min_submit_seconds"}},
		{name: "bad pattern", mutate: func(r *Rules) { r.HoldWords = []string{"ok", "fine", "good", "/(unclosed/"} },
			want: map[string]string{"hold_words[3]": "not a valid RE2 pattern: missing closing )"}},
		{name: "pattern matching everything", mutate: func(r *Rules) { r.BlockWords = []string{"/x*/"} },
			want: map[string]string{"block_words[0]": "every comment"}},
		{name: "empty pattern", mutate: func(r *Rules) { r.BlockWords = []string{"//"} }, want: map[string]string{"block_words[0]": "empty pattern"}},
		{name: "word of punctuation", mutate: func(r *Rules) { r.BlockWords = []string{"--"} }, want: map[string]string{"block_words[0]": "no letters or digits"}},
		{name: "blank entries are fine", mutate: func(r *Rules) { r.BlockWords = []string{"  ", ""} }},
		{name: "entry too long", mutate: func(r *Rules) { r.HoldWords = []string{strings.Repeat("a", 201)} }, want: map[string]string{"hold_words[0]": "200 bytes"}},
		{name: "too many entries", mutate: func(r *Rules) { r.HoldWords = make([]string, MaxListEntries+1) }, want: map[string]string{"hold_words": "10000 entries"}},
		{name: "too many patterns", mutate: func(r *Rules) {
			for i := range MaxPatterns + 1 {
				r.HoldWords = append(r.HoldWords, fmt.Sprintf("/a%dc/", i))
			}
		}, want: map[string]string{"hold_words": "200 patterns"}},
		{name: "pattern too complex", mutate: func(r *Rules) { r.BlockWords = []string{"ok", "/[a-z]{0,1000}[a-z]{0,1000}x/"} },
			want: map[string]string{"block_words[1]": "pattern too complex: 4003 steps, at most 1000"}},
		{name: "pattern at the limit", mutate: func(r *Rules) { r.BlockWords = []string{worstPattern(0)} }},
		{name: "patterns too complex together", mutate: func(r *Rules) {
			r.HoldWords = append(worstPatterns(0), `/(?:\w+\s*){0,100}\d{7}/`)
		}, want: map[string]string{"hold_words": "patterns too complex together: 20"}},
		{name: "patterns at the list limit", mutate: func(r *Rules) { r.HoldWords = worstPatterns(0) }},
		{name: "a repeated pattern counts once", mutate: func(r *Rules) {
			r.HoldWords = append(worstPatterns(0), worstPattern(0), " "+worstPattern(1))
		}},
		{name: "mode in any case, with spaces", mutate: func(r *Rules) { r.Mode = " HOLD_On_Hits " }},
		{name: "blank mode", mutate: func(r *Rules) { r.Mode = "  " }, want: map[string]string{"mode": "one of"}},
		{name: "action in any case, with spaces", mutate: func(r *Rules) { r.Actions[RuleHoneypot] = " Reject " }},
		{name: "action key with spaces", mutate: func(r *Rules) { r.Actions = map[string]Action{" honeypot ": ActionReject} }},
		{name: "action key given twice", mutate: func(r *Rules) { r.Actions[" honeypot"] = ActionReject },
			want: map[string]string{"actions. honeypot": "given twice"}},
		{name: "bad IP", mutate: func(r *Rules) { r.BlockedIPs = []string{"10.0.0.0/8", "10.0.0.300"} },
			want: map[string]string{"blocked_ips[1]": "not an IP address or CIDR range"}},
		{name: "bad CIDR", mutate: func(r *Rules) { r.BlockedIPs = []string{"10.0.0.0/33"} }, want: map[string]string{"blocked_ips[0]": "CIDR"}},
		{name: "IP with zone", mutate: func(r *Rules) { r.BlockedIPs = []string{"fe80::1%eth0"} }, want: map[string]string{"blocked_ips[0]": "CIDR"}},
		{name: "IPv6 range", mutate: func(r *Rules) { r.BlockedIPs = []string{"2001:db8::/32", "::ffff:10.0.0.0/104"} }},
		{name: "bad email", mutate: func(r *Rules) { r.BlockedEmails = []string{"ok@example.com", "bob@", "bob@exa mple.com"} },
			want: map[string]string{"blocked_emails[1]": "not an email", "blocked_emails[2]": "not an email"}},
		{name: "unusual but possible addresses", mutate: func(r *Rules) {
			r.BlockedEmails = []string{`"a b"@example.com`, "x@[192.0.2.1]", "üser@bücher.example"}
			r.TrustedEmails = []string{`"a@b"@example.com`}
		}},
		{name: "bad domain", mutate: func(r *Rules) { r.BlockedEmails = []string{"spam..example"} }, want: map[string]string{"blocked_emails[0]": "not an email"}},
		{name: "domains and addresses", mutate: func(r *Rules) {
			r.BlockedEmails = []string{"@spam.example", "spam.example", "Bob@Example.com", "xn--bcher-kva.example", "bücher.example"}
		}},
		{name: "trusted domain refused", mutate: func(r *Rules) { r.TrustedEmails = []string{"example.com"} }, want: map[string]string{"trusted_emails[0]": "full addresses"}},
		{name: "unknown action key", mutate: func(r *Rules) { r.Actions["captcha"] = ActionHold }, want: map[string]string{"actions.captcha": "not a rule"}},
		{name: "approve is not an action for a hit", mutate: func(r *Rules) { r.Actions[RuleHoneypot] = ActionApprove },
			want: map[string]string{"actions.honeypot": "must be one of hold, spam, reject"}},
		{name: "unknown action", mutate: func(r *Rules) { r.Actions[RuleMaxLinks] = "delete" }, want: map[string]string{"actions.max_links": "hold, spam, reject"}},
		{name: "bad rate limits", mutate: func(r *Rules) {
			r.RateLimits.IP.Every = 0
			r.RateLimits.Site.Burst = 0
			r.RateLimits.Page.Every = Duration(-time.Second)
		}, want: map[string]string{"rate_limits.ip.every": "more than 0", "rate_limits.site.burst": "between 1", "rate_limits.page.every": "more than 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := DefaultRules()
			tt.mutate(&r)
			ve := r.Validate()
			if len(tt.want) == 0 {
				if ve != nil {
					t.Fatalf("Validate() = %v, want nil", ve.Fields)
				}
				return
			}
			if ve == nil {
				t.Fatalf("Validate() = nil, want errors on %v", slices.Sorted(maps.Keys(tt.want)))
			}
			if !slices.Equal(slices.Sorted(maps.Keys(ve.Fields)), slices.Sorted(maps.Keys(tt.want))) {
				t.Fatalf("Validate() fields = %v, want %v", ve.Fields, tt.want)
			}
			for field, sub := range tt.want {
				if !strings.Contains(ve.Fields[field], sub) {
					t.Errorf("%s: message %q, want it to contain %q", field, ve.Fields[field], sub)
				}
			}
		})
	}
}

// TestNormalizeKeepsValid: normalising valid rules keeps them valid and is
// idempotent.
func TestNormalizeKeepsValid(t *testing.T) {
	r := DefaultRules()
	r.HoldWords = []string{" B ", "a", "/X+/", "a"}
	r.BlockedIPs = []string{"::ffff:1.2.3.4", "1.2.3.4", "10.1.2.3/8"}
	r.BlockedEmails = []string{"@A.example", "a.example"}
	if ve := r.Validate(); ve != nil {
		t.Fatalf("Validate before Normalize: %v", ve.Fields)
	}
	r.Normalize()
	if ve := r.Validate(); ve != nil {
		t.Fatalf("Validate after Normalize: %v", ve.Fields)
	}
	again := r
	again.Normalize()
	if !reflect.DeepEqual(again, r) {
		t.Errorf("Normalize is not idempotent:\n got %+v\nwant %+v", again, r)
	}
}

func TestParseJSON(t *testing.T) {
	t.Run("partial document keeps defaults", func(t *testing.T) {
		got, err := ParseJSON([]byte(`{
			"version": 4, "mode": "hold_on_hits", "hold_words": ["Buy Now", "/cas+ino/"],
			"actions": {"honeypot": "reject"},
			"rate_limits": {"ip": {"every": "30s"}}
		}`))
		if err != nil {
			t.Fatalf("ParseJSON: %v", err)
		}
		want := DefaultRules()
		want.Version = 4
		want.Mode = ModeHoldOnHits
		want.HoldWords = []string{"/cas+ino/", "buy now"}
		want.Actions[RuleHoneypot] = ActionReject
		want.RateLimits.IP.Every = Duration(30 * time.Second)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseJSON:\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("mode and actions in any case, with spaces", func(t *testing.T) {
		for _, parse := range []func([]byte) (Rules, error){ParseJSON, ParseYAML} {
			got, err := parse([]byte(`{"mode": " HOLD_ON_HITS ", "actions": {" honeypot ": " Reject "}}`))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.Mode != ModeHoldOnHits || got.Actions[RuleHoneypot] != ActionReject || len(got.Actions) != len(DefaultActions()) {
				t.Errorf("mode %q, actions %v; want hold_on_hits, honeypot reject", got.Mode, got.Actions)
			}
		}
	})
	t.Run("explicit zero turns a rule off", func(t *testing.T) {
		got, err := ParseJSON([]byte(`{"max_links": 0, "min_submit_seconds": 0}`))
		if err != nil {
			t.Fatalf("ParseJSON: %v", err)
		}
		if got.MaxLinks != 0 || got.MinSubmitSeconds != 0 {
			t.Errorf("max_links %d, min_submit_seconds %d, want 0, 0", got.MaxLinks, got.MinSubmitSeconds)
		}
	})

	tests := []struct {
		name string
		doc  string
		want map[string]string // field → a substring of its message
	}{
		{"not JSON", `{"mode": `, map[string]string{"rules": "not valid JSON"}},
		{"syntax error line", "{\n\"mode\": \"hold_all\",\n}", map[string]string{"rules": "line 3"}},
		{"not an object", `["hold_all"]`, map[string]string{"rules": "JSON object"}},
		{"null", `null`, map[string]string{"rules": "JSON object"}},
		{"unknown field", `{"mode": "hold_all", "captcha": true}`, map[string]string{"captcha": "unknown field"}},
		{"unknown rate limit", `{"rate_limits": {"global": {"every": "1s", "burst": 1}}}`, map[string]string{"rate_limits.global": "unknown field"}},
		{"unknown rate limit field", `{"rate_limits": {"ip": {"every": "1s", "rate": 1}}}`, map[string]string{"rate_limits.ip.rate": "unknown field"}},
		{"bad duration", `{"max_token_age": "one day"}`, map[string]string{"max_token_age": "not a duration"}},
		{"number for duration", `{"rate_limits": {"ip": {"every": 15}}}`, map[string]string{"rate_limits.ip.every": "duration string"}},
		{"wrong type", `{"max_links": "two"}`, map[string]string{"max_links": "whole number"}},
		{"wrong nested type", `{"rate_limits": {"ip": {"burst": "3"}}}`, map[string]string{"rate_limits.ip.burst": "whole number"}},
		{"wrong list type", `{"hold_words": "viagra"}`, map[string]string{"hold_words": "list of strings"}},
		{"wrong list element type", `{"blocked_ips": [1]}`, map[string]string{"blocked_ips": "list of strings"}},
		{"wrong action type", `{"actions": {"honeypot": 1}}`, map[string]string{"actions": "hold, spam or reject"}},
		{"null fields keep defaults", `{"hold_words": null, "actions": null, "rate_limits": null, "max_token_age": null}`, nil},
		{"bad action", `{"actions": {"honeypot": "ignore"}}`, map[string]string{"actions.honeypot": "hold, spam, reject"}},
		{"unknown action key", `{"actions": {"captcha": "hold"}}`, map[string]string{"actions.captcha": "not a rule"}},
		{"bad CIDR", `{"blocked_ips": ["10.0.0.0/8", "10.0.0.0/40"]}`, map[string]string{"blocked_ips[1]": "CIDR"}},
		{"bad regex, index as sent", `{"block_words": ["zzz", "aaa", "/a(/"]}`, map[string]string{"block_words[2]": "RE2"}},
		{"bad rate limit", `{"rate_limits": {"email": {"every": "0s", "burst": 0}}}`,
			map[string]string{"rate_limits.email.every": "more than 0", "rate_limits.email.burst": "between 1"}},
		{"bad mode", `{"mode": ""}`, map[string]string{"mode": "one of"}},
		{"bad mode in capitals", `{"mode": " HOLD_NONE "}`, map[string]string{"mode": "one of"}},
		{"action given twice", `{"actions": {"honeypot": "hold", " honeypot": "reject"}}`, map[string]string{"actions. honeypot": "given twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.doc))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ParseJSON: %v", err)
				}
				return
			}
			var ve *comment.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseJSON error = %v, want a *comment.ValidationError", err)
			}
			if !slices.Equal(slices.Sorted(maps.Keys(ve.Fields)), slices.Sorted(maps.Keys(tt.want))) {
				t.Fatalf("fields = %v, want %v", ve.Fields, tt.want)
			}
			for field, sub := range tt.want {
				if !strings.Contains(ve.Fields[field], sub) {
					t.Errorf("%s: message %q, want it to contain %q", field, ve.Fields[field], sub)
				}
			}
		})
	}
}

func richRules() Rules {
	r := DefaultRules()
	r.Version = 7
	r.Mode = ModeHoldFirstTime
	r.MaxLinks = 3
	r.HoldWords = []string{"buy now", "/cas+ino/", "seo", `/\bfree\s+money\b/`}
	r.BlockWords = []string{"viagra", "казино"}
	r.BlockedIPs = []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"}
	r.BlockedEmails = []string{"spam.example", "bot@example.com"}
	r.TrustedEmails = []string{"editor@news.example"}
	r.MinSubmitSeconds = 5
	r.MaxTokenAge = Duration(90 * time.Minute)
	r.Actions[RuleTokenMissing] = ActionSpam
	r.RateLimits.Page = Limit{Every: Duration(250 * time.Millisecond), Burst: 120}
	r.Normalize()
	return r
}

func TestJSONRoundTrip(t *testing.T) {
	r := richRules()
	b, err := r.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	for _, want := range []string{`"max_token_age":"1h30m"`, `"every":"250ms"`, `"mode":"hold_first_time"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s: want it to contain %s", b, want)
		}
	}
	got, err := ParseJSON(b)
	if err != nil {
		t.Fatalf("ParseJSON(JSON()): %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	r := richRules()
	b, err := r.YAML()
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	for _, want := range []string{"max_token_age: 1h30m\n", "mode: hold_first_time\n", "  ip:\n    every: 15s\n    burst: 3\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("YAML:\n%s\nwant it to contain %q", b, want)
		}
	}
	got, err := ParseYAML(b)
	if err != nil {
		t.Fatalf("ParseYAML(YAML()): %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
}

func TestParseYAML(t *testing.T) {
	got, err := ParseYAML([]byte("mode: hold_on_hits\nblock_words:\n  - Viagra\n  - /cas+ino/\nmax_token_age: 2h\n"))
	if err != nil {
		t.Fatalf("ParseYAML: %v", err)
	}
	if got.Mode != ModeHoldOnHits || !slices.Equal(got.BlockWords, []string{"/cas+ino/", "viagra"}) ||
		got.MaxTokenAge != Duration(2*time.Hour) || got.MaxLinks != 2 {
		t.Errorf("ParseYAML = %+v", got)
	}

	tests := []struct {
		name, doc, field, sub string
	}{
		{"unknown field", "mode: hold_all\nextra: 1\n", "extra", "unknown field"},
		{"bad CIDR", "blocked_ips:\n  - 10.0.0.0/99\n", "blocked_ips[0]", "CIDR"},
		{"syntax error", "mode: [hold_all\n", "rules", "not valid YAML"},
		{"not a mapping", "- a\n- b\n", "rules", "mapping"},
		{"empty", "", "rules", "mapping"},
		{"duplicate key", "mode: hold_all\nmode: hold_on_hits\n", "rules", "not valid YAML"},
		{"non-string key", "1: x\n", "rules", "keys must be strings"},
		{"float for int", "max_links: 2.5\n", "max_links", "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.doc))
			var ve *comment.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseYAML error = %v, want a *comment.ValidationError", err)
			}
			if msg, ok := ve.Fields[tt.field]; !ok || !strings.Contains(msg, tt.sub) {
				t.Errorf("fields = %v, want %s containing %q", ve.Fields, tt.field, tt.sub)
			}
		})
	}
}

// TestTopLevelKeys keeps the shape check in step with the JSON tags.
func TestTopLevelKeys(t *testing.T) {
	var tags []string
	typ := reflect.TypeFor[Rules]()
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		tags = append(tags, tag)
		if y := typ.Field(i).Tag.Get("yaml"); y != tag {
			t.Errorf("field %s: yaml tag %q, json tag %q", typ.Field(i).Name, y, tag)
		}
	}
	if !slices.Equal(tags, topLevelKeys()) {
		t.Errorf("topLevelKeys() = %v, JSON tags %v", topLevelKeys(), tags)
	}
}

func TestDurationString(t *testing.T) {
	tests := map[time.Duration]string{
		24 * time.Hour:                    "24h",
		90 * time.Minute:                  "1h30m",
		time.Minute:                       "1m",
		10 * time.Minute:                  "10m",
		15 * time.Second:                  "15s",
		500 * time.Millisecond:            "500ms",
		time.Hour + 5*time.Second:         "1h0m5s",
		0:                                 "0s",
		10*time.Minute + 10*time.Second:   "10m10s",
		100 * time.Hour:                   "100h",
		2*time.Hour + 30*time.Millisecond: "2h0m0.03s",
	}
	for d, want := range tests {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%d).String() = %q, want %q", d, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(Duration(d).String())); err != nil || back != Duration(d) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", Duration(d).String(), back, err, d)
		}
	}
}
