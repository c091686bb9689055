package spam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// TokenStatus is CheckToken's verdict on a form token.
type TokenStatus string

// The token statuses. Evaluate turns TokenMissing and TokenForged (and any
// other value, the zero value included) into a RuleTokenMissing hit,
// TokenTooFast into RuleTokenTooFast and TokenExpired into RuleTokenExpired.
const (
	TokenOK      TokenStatus = "ok"       // genuine, and neither too young nor too old
	TokenMissing TokenStatus = "missing"  // no token was sent
	TokenForged  TokenStatus = "forged"   // bad format or signature, another site or page, or issued in the future
	TokenTooFast TokenStatus = "too_fast" // younger than min_submit_seconds
	TokenExpired TokenStatus = "expired"  // older than max_token_age
)

// Form token layout: the issue time in Unix seconds (8 bytes, big-endian)
// followed by the first macBytes of its HMAC, base64url without padding.
const (
	macBytes   = 16
	tokenBytes = 8 + macBytes
	// futureSlack is how far in the future a token's issue time may be,
	// for clocks of several instances that disagree a little.
	futureSlack = time.Minute
)

// tokenMAC returns the HMAC-SHA256 of a token's site, page and issue time.
// Site and page are length-prefixed, so no two (site, page) pairs share an
// input.
func tokenMAC(secret []byte, siteID, pageKey string, issued int64) []byte {
	m := hmac.New(sha256.New, secret)
	var n [8]byte
	m.Write([]byte("commentd form token v1\x00"))
	binary.BigEndian.PutUint64(n[:], uint64(len(siteID)))
	m.Write(n[:])
	m.Write([]byte(siteID))
	binary.BigEndian.PutUint64(n[:], uint64(len(pageKey)))
	m.Write(n[:])
	m.Write([]byte(pageKey))
	binary.BigEndian.PutUint64(n[:], uint64(issued))
	m.Write(n[:])
	return m.Sum(nil)
}

// NewToken returns a form token for the page's comment form, issued at the
// given time (kept to the second). It is an HMAC-SHA256 with secret (the
// server's secret, at least 32 random bytes, the same on every instance)
// over site, page and issue time, so only the server can make one and it
// is valid for that page only. The token is 32 URL-safe characters.
func NewToken(secret []byte, siteID, pageKey string, issued time.Time) string {
	var raw [tokenBytes]byte
	sec := issued.Unix()
	binary.BigEndian.PutUint64(raw[:8], uint64(sec))
	copy(raw[8:], tokenMAC(secret, siteID, pageKey, sec))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// CheckToken checks a form token sent with a submission to the page at
// now, with the timing of rules r (min_submit_seconds, and max_token_age,
// 24 h when zero). It returns TokenMissing for an empty token; TokenForged
// for a malformed token, a wrong signature (compared in constant time), a
// token of another site or page, or one issued more than a minute in the
// future; TokenTooFast or TokenExpired when the age is out of range; and
// TokenOK otherwise. The age (zero when unknown) is returned for the
// reason's detail.
func CheckToken(secret []byte, siteID, pageKey, token string, now time.Time, r Rules) (TokenStatus, time.Duration) {
	if token == "" {
		return TokenMissing, 0
	}
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return TokenForged, 0
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != tokenBytes {
		return TokenForged, 0
	}
	sec := int64(binary.BigEndian.Uint64(raw[:8]))
	if !hmac.Equal(raw[8:], tokenMAC(secret, siteID, pageKey, sec)[:macBytes]) {
		return TokenForged, 0
	}
	age := now.Sub(time.Unix(sec, 0))
	if age < -futureSlack {
		return TokenForged, 0
	}
	age = max(age, 0)
	if age < time.Duration(r.MinSubmitSeconds)*time.Second {
		return TokenTooFast, age
	}
	maxAge := time.Duration(r.MaxTokenAge)
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	if age > maxAge {
		return TokenExpired, age
	}
	return TokenOK, age
}
