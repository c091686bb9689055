// Package notify holds what notifications need outside the sending of them:
// the opaque links that let a reader confirm an address for reply
// notifications or unsubscribe from them.
package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The purposes of reader tokens. A token sealed for one purpose does not
// open for another.
const (
	PurposeConfirm     = "confirm"
	PurposeUnsubscribe = "unsubscribe"
)

// ConfirmValidity is how long a confirmation link made by ConfirmURL works.
const ConfirmValidity = 7 * 24 * time.Hour

// Errors of OpenReaderToken.
var (
	// ErrInvalidToken: the token is malformed, was altered, was sealed with
	// another secret or for another purpose.
	ErrInvalidToken = errors.New("invalid reader token")
	// ErrExpiredToken: the token is genuine but past its expiry.
	ErrExpiredToken = errors.New("expired reader token")
)

const (
	// keyInfo labels the key derived from the server secret, so that it
	// differs from every other key the secret yields.
	keyInfo = "commentd reader token key v1"
	// adLabel starts the associated data, which ends in the purpose.
	adLabel = "commentd reader token v1\x00"
	// maxTokenLen bounds what OpenReaderToken decodes: a site id and an
	// address of the longest allowed lengths fit well within it.
	maxTokenLen = 2048
)

// aead returns AES-256-GCM keyed with HKDF-SHA256 of the secret.
func aead(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, keyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive reader token key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("reader token cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealReaderToken returns an opaque URL-safe token (unpadded base64url)
// naming purpose, site and address. It is AES-256-GCM with a key derived
// from the server secret by HKDF-SHA256 and a random nonce, the purpose in
// the associated data, so that the address cannot be read from it and no
// one without the secret can make or alter one. The address is kept in
// lower case. expires is when the token stops opening; the zero time means
// never. It panics only if the system's random source fails.
func SealReaderToken(secret []byte, purpose, siteID, email string, expires time.Time) string {
	g, err := aead(secret)
	if err != nil {
		// HKDF with SHA-256 and a 32-byte key, and AES-256, do not fail.
		panic(err)
	}
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	email = strings.ToLower(email)
	plain := make([]byte, 0, 8+4+len(siteID)+len(email))
	plain = binary.BigEndian.AppendUint64(plain, uint64(exp))
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(siteID)))
	plain = append(plain, siteID...)
	plain = append(plain, email...)
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Errorf("reader token nonce: %w", err))
	}
	sealed := g.Seal(nonce, nonce, plain, []byte(adLabel+purpose))
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// OpenReaderToken checks a token made by SealReaderToken with the same
// secret and purpose and returns its site and lower-cased address. It
// returns ErrInvalidToken for a malformed, altered or foreign token or one
// of another purpose, and ErrExpiredToken for a genuine one whose expiry
// is at or before now.
func OpenReaderToken(secret []byte, purpose, token string, now time.Time) (siteID, emailLower string, err error) {
	if token == "" || len(token) > maxTokenLen {
		return "", "", ErrInvalidToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", "", ErrInvalidToken
	}
	g, err := aead(secret)
	if err != nil {
		return "", "", err
	}
	if len(raw) < g.NonceSize()+g.Overhead() {
		return "", "", ErrInvalidToken
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(adLabel+purpose))
	if err != nil {
		return "", "", ErrInvalidToken
	}
	if len(plain) < 12 {
		return "", "", ErrInvalidToken
	}
	exp := int64(binary.BigEndian.Uint64(plain[:8]))
	n := binary.BigEndian.Uint32(plain[8:12])
	rest := plain[12:]
	if uint64(n) > uint64(len(rest)) {
		return "", "", ErrInvalidToken
	}
	if exp != 0 && !now.Before(time.Unix(exp, 0)) {
		return "", "", ErrExpiredToken
	}
	return string(rest[:n]), string(rest[n:]), nil
}

// ConfirmURL is base + "/notify/confirm?t=" + a PurposeConfirm token for
// the site and address that expires ConfirmValidity after now. A trailing
// slash of base is dropped.
func ConfirmURL(base string, secret []byte, siteID, email string, now time.Time) string {
	t := SealReaderToken(secret, PurposeConfirm, siteID, email, now.Add(ConfirmValidity))
	return strings.TrimRight(base, "/") + "/notify/confirm?t=" + url.QueryEscape(t)
}

// UnsubscribeURL is base + "/notify/unsubscribe?t=" + a PurposeUnsubscribe
// token for the site and address that never expires. A trailing slash of
// base is dropped.
func UnsubscribeURL(base string, secret []byte, siteID, email string) string {
	t := SealReaderToken(secret, PurposeUnsubscribe, siteID, email, time.Time{})
	return strings.TrimRight(base, "/") + "/notify/unsubscribe?t=" + url.QueryEscape(t)
}

// MaskAddress shows an address without giving it away: the first
// character of the local part, then "***@" and the domain
// ("r***@example.org"). Anything without an "@" becomes "***".
func MaskAddress(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return "***"
	}
	first := []rune(email[:at])[0]
	return string(first) + "***" + email[at:]
}
