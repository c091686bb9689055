package spam

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	shown := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := NewToken(secret, "blog", "/2026/harbour", shown)
	rules := DefaultRules()

	flipped := []byte(tok)
	if flipped[len(flipped)-1] == 'A' {
		flipped[len(flipped)-1] = 'B'
	} else {
		flipped[len(flipped)-1] = 'A'
	}
	// A token whose issue time is changed keeps a MAC that no longer fits.
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	raw[7]++
	retimed := base64.RawURLEncoding.EncodeToString(raw)

	tests := []struct {
		name          string
		secret        []byte
		site, page    string
		token         string
		now           time.Time
		rules         func(*Rules)
		want          TokenStatus
		wantAge       time.Duration
		checkAgeExact bool
	}{
		{name: "ok", token: tok, now: shown.Add(10 * time.Second), want: TokenOK, wantAge: 10 * time.Second, checkAgeExact: true},
		{name: "ok at exactly the minimum", token: tok, now: shown.Add(3 * time.Second), want: TokenOK},
		{name: "ok at exactly the maximum", token: tok, now: shown.Add(24 * time.Hour), want: TokenOK},
		{name: "missing", token: "", now: shown, want: TokenMissing},
		{name: "garbage", token: "not-a-token", now: shown, want: TokenForged},
		{name: "bad base64 of the right length", token: strings.Repeat("*", len(tok)), now: shown, want: TokenForged},
		{name: "forged MAC", token: string(flipped), now: shown.Add(time.Minute), want: TokenForged},
		{name: "changed issue time", token: retimed, now: shown.Add(time.Minute), want: TokenForged},
		{name: "other secret", secret: []byte("another secret, 32 bytes long!!!"), token: tok, now: shown.Add(time.Minute), want: TokenForged},
		{name: "other page", page: "/2026/other", token: tok, now: shown.Add(time.Minute), want: TokenForged},
		{name: "other site", site: "other", token: tok, now: shown.Add(time.Minute), want: TokenForged},
		{name: "site and page boundary moved", site: "blog/", page: "2026/harbour", token: tok, now: shown.Add(time.Minute), want: TokenForged},
		{name: "too fast", token: tok, now: shown.Add(2 * time.Second), want: TokenTooFast, wantAge: 2 * time.Second, checkAgeExact: true},
		{name: "too fast with a slightly fast clock", token: tok, now: shown.Add(-30 * time.Second), want: TokenTooFast},
		{name: "minimum off", token: tok, now: shown, rules: func(r *Rules) { r.MinSubmitSeconds = 0 }, want: TokenOK},
		{name: "expired", token: tok, now: shown.Add(24*time.Hour + time.Second), want: TokenExpired, wantAge: 24*time.Hour + time.Second, checkAgeExact: true},
		{name: "shorter maximum", token: tok, now: shown.Add(2 * time.Hour), rules: func(r *Rules) { r.MaxTokenAge = Duration(time.Hour) }, want: TokenExpired},
		{name: "zero maximum means 24h", token: tok, now: shown.Add(23 * time.Hour), rules: func(r *Rules) { r.MaxTokenAge = 0 }, want: TokenOK},
		{name: "issued in the future", token: tok, now: shown.Add(-2 * time.Minute), want: TokenForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, site, page := secret, "blog", "/2026/harbour"
			if tt.secret != nil {
				sec = tt.secret
			}
			if tt.site != "" {
				site = tt.site
			}
			if tt.page != "" {
				page = tt.page
			}
			r := rules
			if tt.rules != nil {
				tt.rules(&r)
			}
			got, age := CheckToken(sec, site, page, tt.token, tt.now, r)
			if got != tt.want {
				t.Errorf("CheckToken = %q, want %q", got, tt.want)
			}
			if tt.checkAgeExact && age != tt.wantAge {
				t.Errorf("age = %s, want %s", age, tt.wantAge)
			}
		})
	}
}

func TestTokenShape(t *testing.T) {
	tok := NewToken([]byte("k"), "s", "p", time.Unix(1_700_000_000, 999_000_000))
	if len(tok) != 32 || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q: want 32 URL-safe characters", tok)
	}
	if again := NewToken([]byte("k"), "s", "p", time.Unix(1_700_000_000, 0)); again != tok {
		t.Errorf("tokens of the same second differ: %q, %q", tok, again)
	}
}
