package notify

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	testNow     = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
)

func TestReaderTokenRoundTrip(t *testing.T) {
	cases := []struct {
		name, purpose, site, email string
		expires                    time.Time
	}{
		{"confirm", PurposeConfirm, "demo", "Reader@Example.org", testNow.Add(time.Hour)},
		{"unsubscribe never expires", PurposeUnsubscribe, "demo", "r@example.org", time.Time{}},
		{"site with odd characters", PurposeConfirm, "a-b_c", "x+tag@sub.example.org", testNow.Add(time.Minute)},
		{"unicode local part", PurposeUnsubscribe, "demo", "ÜSER@example.org", time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := SealReaderToken(testSecret, tc.purpose, tc.site, tc.email, tc.expires)
			if strings.ContainsAny(tok, "+/=") {
				t.Errorf("token %q is not unpadded base64url", tok)
			}
			if strings.Contains(strings.ToLower(tok), "example") {
				t.Errorf("token %q shows the domain", tok)
			}
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if strings.Contains(strings.ToLower(string(raw)), "example") || strings.Contains(string(raw), tc.site) {
				t.Errorf("decoded token shows the address or site: %q", raw)
			}
			site, email, err := OpenReaderToken(testSecret, tc.purpose, tok, testNow)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if site != tc.site || email != strings.ToLower(tc.email) {
				t.Errorf("got (%q, %q), want (%q, %q)", site, email, tc.site, strings.ToLower(tc.email))
			}
		})
	}
}

func TestReaderTokenNonceDiffers(t *testing.T) {
	a := SealReaderToken(testSecret, PurposeConfirm, "demo", "r@example.org", time.Time{})
	b := SealReaderToken(testSecret, PurposeConfirm, "demo", "r@example.org", time.Time{})
	if a == b {
		t.Errorf("two tokens for the same address are equal: %q", a)
	}
}

func TestReaderTokenRefused(t *testing.T) {
	good := SealReaderToken(testSecret, PurposeConfirm, "demo", "r@example.org", testNow.Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		name, purpose, token string
		secret               []byte
		now                  time.Time
		want                 error
	}{
		{"wrong purpose", PurposeUnsubscribe, good, testSecret, testNow, ErrInvalidToken},
		{"other secret", PurposeConfirm, good, otherSecret, testNow, ErrInvalidToken},
		{"nonce altered", PurposeConfirm, flip(0), testSecret, testNow, ErrInvalidToken},
		{"ciphertext altered", PurposeConfirm, flip(14), testSecret, testNow, ErrInvalidToken},
		{"tag altered", PurposeConfirm, flip(len(raw) - 1), testSecret, testNow, ErrInvalidToken},
		{"truncated", PurposeConfirm, good[:len(good)-4], testSecret, testNow, ErrInvalidToken},
		{"not base64", PurposeConfirm, "!!!" + good, testSecret, testNow, ErrInvalidToken},
		{"padded base64", PurposeConfirm, good + "=", testSecret, testNow, ErrInvalidToken},
		{"empty", PurposeConfirm, "", testSecret, testNow, ErrInvalidToken},
		{"too short", PurposeConfirm, "AAAA", testSecret, testNow, ErrInvalidToken},
		{"huge", PurposeConfirm, strings.Repeat("A", 5000), testSecret, testNow, ErrInvalidToken},
		{"expired", PurposeConfirm, good, testSecret, testNow.Add(time.Hour), ErrExpiredToken},
		{"long expired", PurposeConfirm, good, testSecret, testNow.Add(30 * 24 * time.Hour), ErrExpiredToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site, email, err := OpenReaderToken(tc.secret, tc.purpose, tc.token, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if site != "" || email != "" {
				t.Errorf("refused token gave (%q, %q)", site, email)
			}
		})
	}
	// Just before expiry it still opens.
	if _, _, err := OpenReaderToken(testSecret, PurposeConfirm, good, testNow.Add(time.Hour-time.Second)); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
}

func TestReaderURLs(t *testing.T) {
	c := ConfirmURL("https://comments.example.net/", testSecret, "demo", "R@example.org", testNow)
	u, err := url.Parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://comments.example.net/notify/confirm" {
		t.Errorf("confirm URL = %q", got)
	}
	site, email, err := OpenReaderToken(testSecret, PurposeConfirm, u.Query().Get("t"), testNow.Add(ConfirmValidity-time.Minute))
	if err != nil || site != "demo" || email != "r@example.org" {
		t.Errorf("confirm token opens to (%q, %q, %v)", site, email, err)
	}
	if _, _, err := OpenReaderToken(testSecret, PurposeConfirm, u.Query().Get("t"), testNow.Add(ConfirmValidity)); !errors.Is(err, ErrExpiredToken) {
		t.Errorf("confirm token after 7 days: err = %v, want expired", err)
	}

	un := UnsubscribeURL("http://127.0.0.1:8080", testSecret, "demo", "r@example.org")
	u, err = url.Parse(un)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/notify/unsubscribe" {
		t.Errorf("unsubscribe path = %q", u.Path)
	}
	if _, _, err := OpenReaderToken(testSecret, PurposeUnsubscribe, u.Query().Get("t"), testNow.Add(10*365*24*time.Hour)); err != nil {
		t.Errorf("unsubscribe token ten years on: %v", err)
	}
	if _, _, err := OpenReaderToken(testSecret, PurposeConfirm, u.Query().Get("t"), testNow); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("unsubscribe token used to confirm: err = %v", err)
	}
}

func TestMaskAddress(t *testing.T) {
	cases := []struct{ in, want string }{
		{"reader@example.org", "r***@example.org"},
		{"ü@example.org", "ü***@example.org"},
		{"@example.org", "***"},
		{"nobody", "***"},
	}
	for _, tc := range cases {
		if got := MaskAddress(tc.in); got != tc.want {
			t.Errorf("MaskAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
