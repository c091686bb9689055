// Package auth checks the API tokens that moderators and automation present.
// Tokens are known only by their SHA-256 digests and compared in constant
// time.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/commentd/commentd/internal/comment"
)

// Token is one accepted API token: its digest and what it grants.
type Token struct {
	SHA256    [sha256.Size]byte
	Principal comment.Principal
}

// Tokens authenticates bearer tokens against a fixed list.
type Tokens struct {
	tokens []Token
}

// NewTokens returns an authenticator for the given tokens.
func NewTokens(tokens ...Token) *Tokens {
	return &Tokens{tokens: tokens}
}

// AdminToken returns the Token for a plain-text admin token.
func AdminToken(plain string) Token {
	return Token{SHA256: sha256.Sum256([]byte(plain)), Principal: comment.Principal{Name: "admin", Admin: true}}
}

// SiteToken returns the Token for a digest given as 64 hex characters, granting
// moderation of sites.
func SiteToken(name, hexDigest string, sites []string) (Token, error) {
	b, err := hex.DecodeString(hexDigest)
	if err != nil || len(b) != sha256.Size {
		return Token{}, fmt.Errorf("token %q: sha256 must be 64 hex characters", name)
	}
	roles := make(map[string]comment.Role, len(sites))
	for _, s := range sites {
		roles[s] = comment.RoleModerator
	}
	t := Token{Principal: comment.Principal{Name: name, Roles: roles}}
	copy(t.SHA256[:], b)
	return t, nil
}

// Authenticate returns the principal of the token, or comment.ErrUnauthorized.
// Every configured token is compared, so the time taken does not tell which
// one nearly matched.
func (a *Tokens) Authenticate(_ context.Context, token string) (comment.Principal, error) {
	if token == "" {
		return comment.Principal{}, comment.ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].SHA256[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return comment.Principal{}, comment.ErrUnauthorized
	}
	return a.tokens[found].Principal, nil
}
