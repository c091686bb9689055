package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/commentd/commentd/internal/comment"
)

func TestAuthenticate(t *testing.T) {
	siteDigest := sha256.Sum256([]byte("site-token-value"))
	st, err := SiteToken("bot", hex.EncodeToString(siteDigest[:]), []string{"blog"})
	if err != nil {
		t.Fatal(err)
	}
	a := NewTokens(AdminToken("admin-token-value"), st)
	tests := []struct {
		name      string
		token     string
		wantErr   error
		wantAdmin bool
		wantSite  string
	}{
		{name: "admin", token: "admin-token-value", wantAdmin: true},
		{name: "site token", token: "site-token-value", wantSite: "blog"},
		{name: "empty", token: "", wantErr: comment.ErrUnauthorized},
		{name: "wrong", token: "admin-token-valuf", wantErr: comment.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.Admin != tt.wantAdmin {
				t.Errorf("admin = %v, want %v", p.Admin, tt.wantAdmin)
			}
			if tt.wantSite != "" && (!p.CanModerate(tt.wantSite) || p.CanModerate("other")) {
				t.Errorf("principal %+v should moderate only %q", p, tt.wantSite)
			}
		})
	}
}

func TestSiteTokenRejectsBadDigest(t *testing.T) {
	if _, err := SiteToken("x", "abc", []string{"a"}); err == nil {
		t.Error("SiteToken accepted a short digest")
	}
}
