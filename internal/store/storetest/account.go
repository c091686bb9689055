package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// mustUser stores a user with a unique, lower-case email starting with
// local, and returns it as stored.
func mustUser(t *testing.T, s comment.Store, local string) comment.User {
	t.Helper()
	id := newID()
	u := comment.User{ID: id, Email: local + "-" + id + "@example.org", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", CreatedAt: t0}
	if err := s.CreateUser(ctxFor(t), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Email, err)
	}
	return u
}

// checkSameUser reports every field in which got differs from want.
func checkSameUser(t *testing.T, got, want comment.User) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("user differs\n got: %+v\nwant: %+v", got, want)
	}
}

func testUsers(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	id := newID()
	ada := comment.User{ID: id, Email: "Ada.Lovelace-" + id + "@Example.ORG", PasswordHash: "$argon2id$hash", Admin: true, CreatedAt: t0}
	stored := ada
	stored.Email = strings.ToLower(ada.Email)
	if err := s.CreateUser(ctx, ada); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	noPassword := comment.User{ID: newID(), Email: "bob-" + id + "@example.org", CreatedAt: t0.Add(time.Second)}
	if err := s.CreateUser(ctx, noPassword); err != nil {
		t.Fatalf("CreateUser without a password: %v", err)
	}

	t.Run("lookups", func(t *testing.T) {
		tests := []struct {
			name   string
			lookup func() (comment.User, error)
			want   comment.User
		}{
			{"by id", func() (comment.User, error) { return s.UserByID(ctx, ada.ID) }, stored},
			{"by email as stored", func() (comment.User, error) { return s.UserByEmail(ctx, stored.Email) }, stored},
			{"by email as created", func() (comment.User, error) { return s.UserByEmail(ctx, ada.Email) }, stored},
			{"by email upper-cased", func() (comment.User, error) { return s.UserByEmail(ctx, strings.ToUpper(ada.Email)) }, stored},
			{"without password, not admin", func() (comment.User, error) { return s.UserByID(ctx, noPassword.ID) }, noPassword},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.lookup()
				if err != nil {
					t.Fatalf("lookup: %v", err)
				}
				checkSameUser(t, got, tt.want)
			})
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, key := range []string{newID(), "", "nobody@example.org", "x' OR '1'='1", "\xff\xfe", "a\x00b", strings.Repeat("z", 5000)} {
			if _, err := s.UserByID(ctx, key); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("UserByID(%q) error = %v, want ErrNotFound", key, err)
			}
			if _, err := s.UserByEmail(ctx, key); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("UserByEmail(%q) error = %v, want ErrNotFound", key, err)
			}
		}
	})

	t.Run("conflicts", func(t *testing.T) {
		tests := []struct {
			name string
			u    comment.User
		}{
			{"email taken", comment.User{ID: newID(), Email: stored.Email, CreatedAt: t0}},
			{"email taken in another case", comment.User{ID: newID(), Email: strings.ToUpper(stored.Email), CreatedAt: t0}},
			{"id taken", comment.User{ID: ada.ID, Email: "other-" + id + "@example.org", CreatedAt: t0}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.CreateUser(ctx, tt.u); !errors.Is(err, comment.ErrConflict) {
					t.Errorf("CreateUser error = %v, want ErrConflict", err)
				}
			})
		}
		got, err := s.UserByID(ctx, ada.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkSameUser(t, got, stored)
	})

	t.Run("set password", func(t *testing.T) {
		steps := []struct {
			name string
			hash string
		}{
			{"new hash", "$argon2id$new"},
			{"cleared", ""},
		}
		for _, st := range steps {
			if err := s.SetPassword(ctx, ada.ID, st.hash); err != nil {
				t.Fatalf("%s: SetPassword: %v", st.name, err)
			}
			got, err := s.UserByID(ctx, ada.ID)
			if err != nil {
				t.Fatalf("%s: UserByID: %v", st.name, err)
			}
			if got.PasswordHash != st.hash {
				t.Errorf("%s: PasswordHash = %q, want %q", st.name, got.PasswordHash, st.hash)
			}
		}
		if other, err := s.UserByID(ctx, noPassword.ID); err != nil || other.PasswordHash != "" {
			t.Errorf("other user after SetPassword = %+v, %v; want unchanged", other, err)
		}
		// A new password ends the user's sessions, and only theirs.
		now := time.Now().UTC().Truncate(time.Microsecond)
		mine := comment.Session{Hash: "pw-" + newID(), UserID: ada.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		theirs := comment.Session{Hash: "pw-" + newID(), UserID: noPassword.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		for _, ss := range []comment.Session{mine, theirs} {
			if err := s.CreateSession(ctx, ss); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
		}
		if err := s.SetPassword(ctx, ada.ID, "$argon2id$newer"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByHash(ctx, mine.Hash); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("session after a new password: err = %v, want ErrNotFound", err)
		}
		if _, err := s.SessionByHash(ctx, theirs.Hash); err != nil {
			t.Errorf("another user's session after SetPassword: %v", err)
		}
		if err := s.SetPassword(ctx, newID(), "x"); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("SetPassword(unknown user) error = %v, want ErrNotFound", err)
		}
	})
}

func testGrants(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	// Site ids in an order that differs from their creation order.
	siteB, siteA := mustSite(t, s), mustSite(t, s)
	if siteA.ID > siteB.ID {
		siteA, siteB = siteB, siteA
	}
	zed, amy, mia := mustUser(t, s, "zed"), mustUser(t, s, "amy"), mustUser(t, s, "mia")

	steps := []struct {
		name        string
		set         []comment.Grant
		delete      [][2]string     // user, site
		wantGrants  []comment.Grant // of amy
		wantMembers []comment.Member
	}{
		{
			name:       "grants on two sites",
			set:        []comment.Grant{{UserID: amy.ID, SiteID: siteB.ID, Role: comment.RoleModerator}, {UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleOwner}},
			wantGrants: []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleOwner}, {UserID: amy.ID, SiteID: siteB.ID, Role: comment.RoleModerator}},
			wantMembers: []comment.Member{
				{UserID: amy.ID, Email: amy.Email, Role: comment.RoleOwner},
			},
		},
		{
			name:       "members ordered by email",
			set:        []comment.Grant{{UserID: zed.ID, SiteID: siteA.ID, Role: comment.RoleModerator}, {UserID: mia.ID, SiteID: siteA.ID, Role: comment.RoleModerator}},
			wantGrants: []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleOwner}, {UserID: amy.ID, SiteID: siteB.ID, Role: comment.RoleModerator}},
			wantMembers: []comment.Member{
				{UserID: amy.ID, Email: amy.Email, Role: comment.RoleOwner},
				{UserID: mia.ID, Email: mia.Email, Role: comment.RoleModerator},
				{UserID: zed.ID, Email: zed.Email, Role: comment.RoleModerator},
			},
		},
		{
			name:       "a new role replaces the old",
			set:        []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleModerator}, {UserID: zed.ID, SiteID: siteA.ID, Role: comment.RoleOwner}},
			wantGrants: []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleModerator}, {UserID: amy.ID, SiteID: siteB.ID, Role: comment.RoleModerator}},
			wantMembers: []comment.Member{
				{UserID: amy.ID, Email: amy.Email, Role: comment.RoleModerator},
				{UserID: mia.ID, Email: mia.Email, Role: comment.RoleModerator},
				{UserID: zed.ID, Email: zed.Email, Role: comment.RoleOwner},
			},
		},
		{
			name:       "setting the same role again changes nothing",
			set:        []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleModerator}},
			wantGrants: []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleModerator}, {UserID: amy.ID, SiteID: siteB.ID, Role: comment.RoleModerator}},
			wantMembers: []comment.Member{
				{UserID: amy.ID, Email: amy.Email, Role: comment.RoleModerator},
				{UserID: mia.ID, Email: mia.Email, Role: comment.RoleModerator},
				{UserID: zed.ID, Email: zed.Email, Role: comment.RoleOwner},
			},
		},
		{
			name:       "delete a grant, and one that does not exist",
			delete:     [][2]string{{mia.ID, siteA.ID}, {mia.ID, siteA.ID}, {mia.ID, siteB.ID}, {newID(), "no-such-site"}},
			wantGrants: []comment.Grant{{UserID: amy.ID, SiteID: siteA.ID, Role: comment.RoleModerator}, {UserID: amy.ID, SiteID: siteB.ID, Role: comment.RoleModerator}},
			wantMembers: []comment.Member{
				{UserID: amy.ID, Email: amy.Email, Role: comment.RoleModerator},
				{UserID: zed.ID, Email: zed.Email, Role: comment.RoleOwner},
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, g := range st.set {
				if err := s.SetGrant(ctx, g); err != nil {
					t.Fatalf("SetGrant(%+v): %v", g, err)
				}
			}
			for _, d := range st.delete {
				if err := s.DeleteGrant(ctx, d[0], d[1]); err != nil {
					t.Fatalf("DeleteGrant(%q, %q): %v", d[0], d[1], err)
				}
			}
			grants, err := s.Grants(ctx, amy.ID)
			if err != nil {
				t.Fatalf("Grants: %v", err)
			}
			if !slices.Equal(grants, st.wantGrants) {
				t.Errorf("Grants = %+v, want %+v", grants, st.wantGrants)
			}
			members, err := s.Members(ctx, siteA.ID)
			if err != nil {
				t.Fatalf("Members: %v", err)
			}
			if !slices.Equal(members, st.wantMembers) {
				t.Errorf("Members = %+v, want %+v", members, st.wantMembers)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			g    comment.Grant
			want error // nil: a *comment.ValidationError
		}{
			{"unknown user", comment.Grant{UserID: newID(), SiteID: siteA.ID, Role: comment.RoleOwner}, comment.ErrNotFound},
			{"unknown site", comment.Grant{UserID: amy.ID, SiteID: "no-such-site", Role: comment.RoleOwner}, comment.ErrNotFound},
			{"unknown role", comment.Grant{UserID: amy.ID, SiteID: siteA.ID, Role: "admin"}, nil},
			{"no role", comment.Grant{UserID: amy.ID, SiteID: siteA.ID}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.SetGrant(ctx, tt.g)
				var ve *comment.ValidationError
				switch {
				case tt.want == nil && !errors.As(err, &ve):
					t.Errorf("SetGrant error = %v, want a *comment.ValidationError", err)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Errorf("SetGrant error = %v, want %v", err, tt.want)
				}
			})
		}
	})

	t.Run("nobody", func(t *testing.T) {
		if gs, err := s.Grants(ctx, newID()); err != nil || len(gs) != 0 {
			t.Errorf("Grants(unknown user) = %v, %v; want none", gs, err)
		}
		if ms, err := s.Members(ctx, "no-such-site"); err != nil || len(ms) != 0 {
			t.Errorf("Members(unknown site) = %v, %v; want none", ms, err)
		}
		if ms, err := s.Members(ctx, "\xff"); err != nil || len(ms) != 0 {
			t.Errorf("Members(invalid utf-8) = %v, %v; want none", ms, err)
		}
	})
}

func testSessions(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	u := mustUser(t, s, "sess")
	sess := comment.Session{Hash: "hash-" + newID(), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}

	t.Run("round trip", func(t *testing.T) {
		got, err := s.SessionByHash(ctx, sess.Hash)
		if err != nil {
			t.Fatalf("SessionByHash: %v", err)
		}
		if got.Hash != sess.Hash || got.UserID != sess.UserID ||
			!got.CreatedAt.Equal(sess.CreatedAt) || !got.ExpiresAt.Equal(sess.ExpiresAt) ||
			got.CreatedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
			t.Errorf("SessionByHash = %+v, want %+v in UTC", got, sess)
		}
	})

	t.Run("create errors", func(t *testing.T) {
		tests := []struct {
			name string
			s    comment.Session
			want error
		}{
			{"hash exists", comment.Session{Hash: sess.Hash, UserID: u.ID, CreatedAt: t0, ExpiresAt: t0}, comment.ErrConflict},
			{"unknown user", comment.Session{Hash: "hash-" + newID(), UserID: newID(), CreatedAt: t0, ExpiresAt: t0}, comment.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.CreateSession(ctx, tt.s); !errors.Is(err, tt.want) {
					t.Errorf("CreateSession error = %v, want %v", err, tt.want)
				}
			})
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, h := range []string{"hash-" + newID(), "", "\xff", strings.Repeat("f", 4096)} {
			if _, err := s.SessionByHash(ctx, h); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("SessionByHash(%q) error = %v, want ErrNotFound", h, err)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		doomed := comment.Session{Hash: "hash-" + newID(), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateSession(ctx, doomed); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		for i := range 2 { // the second time, the session is already gone
			if err := s.DeleteSession(ctx, doomed.Hash); err != nil {
				t.Fatalf("DeleteSession #%d: %v", i+1, err)
			}
		}
		if _, err := s.SessionByHash(ctx, doomed.Hash); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("SessionByHash after delete: error = %v, want ErrNotFound", err)
		}
		if _, err := s.SessionByHash(ctx, sess.Hash); err != nil {
			t.Errorf("other session after delete: %v", err)
		}
	})

	t.Run("delete expired", func(t *testing.T) {
		// Long before t0, so that no other session of the database expired
		// before now.
		now := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
		expiries := map[string]time.Time{
			"long gone":          now.Add(-30 * 24 * time.Hour),
			"just gone":          now.Add(-time.Microsecond),
			"expires right now":  now,
			"expires later":      now.Add(time.Hour),
			"also expired, long": now.Add(-time.Hour),
		}
		hashes := map[string]string{}
		for name, exp := range expiries {
			h := "hash-" + newID()
			hashes[name] = h
			if err := s.CreateSession(ctx, comment.Session{Hash: h, UserID: u.ID, CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp}); err != nil {
				t.Fatalf("CreateSession(%s): %v", name, err)
			}
		}
		steps := []struct {
			name string
			want int
		}{
			{"first sweep removes the three expired", 3},
			{"second sweep finds none", 0},
		}
		for _, st := range steps {
			n, err := s.DeleteExpiredSessions(ctx, now)
			if err != nil {
				t.Fatalf("%s: DeleteExpiredSessions: %v", st.name, err)
			}
			if n != st.want {
				t.Errorf("%s: DeleteExpiredSessions = %d, want %d", st.name, n, st.want)
			}
		}
		for name, h := range hashes {
			_, err := s.SessionByHash(ctx, h)
			wantGone := expiries[name].Before(now)
			if gone := errors.Is(err, comment.ErrNotFound); gone != wantGone {
				t.Errorf("session %q: SessionByHash error = %v, want gone = %t", name, err, wantGone)
			}
		}
	})
}

func testTokens(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	u, other := mustUser(t, s, "tok"), mustUser(t, s, "other")
	newToken := func(userID, name string, created time.Time) comment.Token {
		return comment.Token{ID: newID(), UserID: userID, Name: name, Hash: "sha-" + newID(), CreatedAt: created}
	}
	older := newToken(u.ID, "ci", t0)
	newer := newToken(u.ID, "laptop", t0.Add(time.Hour))
	theirs := newToken(other.ID, "theirs", t0.Add(2*time.Hour))
	for _, tok := range []comment.Token{older, newer, theirs} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.Name, err)
		}
	}
	checkToken := func(t *testing.T, got, want comment.Token) {
		t.Helper()
		if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want.CreatedAt)
		}
		if !got.LastUsedAt.Equal(want.LastUsedAt) || (!got.LastUsedAt.IsZero() && got.LastUsedAt.Location() != time.UTC) {
			t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, want.LastUsedAt)
		}
		got.CreatedAt, got.LastUsedAt, want.CreatedAt, want.LastUsedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != want {
			t.Errorf("token = %+v, want %+v", got, want)
		}
	}

	t.Run("by hash, never used", func(t *testing.T) {
		got, err := s.TokenByHash(ctx, newer.Hash)
		if err != nil {
			t.Fatalf("TokenByHash: %v", err)
		}
		checkToken(t, got, newer)
		if !got.LastUsedAt.IsZero() {
			t.Errorf("LastUsedAt = %v, want zero", got.LastUsedAt)
		}
	})

	t.Run("newest first", func(t *testing.T) {
		got, err := s.Tokens(ctx, u.ID)
		if err != nil {
			t.Fatalf("Tokens: %v", err)
		}
		if len(got) != 2 {
			t.Fatalf("Tokens returned %d tokens, want 2: %+v", len(got), got)
		}
		checkToken(t, got[0], newer)
		checkToken(t, got[1], older)
		if none, err := s.Tokens(ctx, newID()); err != nil || len(none) != 0 {
			t.Errorf("Tokens(unknown user) = %+v, %v; want none", none, err)
		}
	})

	t.Run("create errors", func(t *testing.T) {
		dupID := newToken(u.ID, "dup id", t0)
		dupID.ID = older.ID
		dupHash := newToken(u.ID, "dup hash", t0)
		dupHash.Hash = older.Hash
		tests := []struct {
			name string
			tok  comment.Token
			want error
		}{
			{"id exists", dupID, comment.ErrConflict},
			{"hash exists", dupHash, comment.ErrConflict},
			{"unknown user", newToken(newID(), "orphan", t0), comment.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.CreateToken(ctx, tt.tok); !errors.Is(err, tt.want) {
					t.Errorf("CreateToken error = %v, want %v", err, tt.want)
				}
			})
		}
	})

	t.Run("touch", func(t *testing.T) {
		steps := []time.Time{t0.Add(3 * time.Hour), t0.Add(4*time.Hour + time.Microsecond)}
		for _, at := range steps {
			if err := s.TouchToken(ctx, older.ID, at); err != nil {
				t.Fatalf("TouchToken(%v): %v", at, err)
			}
			got, err := s.TokenByHash(ctx, older.Hash)
			if err != nil {
				t.Fatalf("TokenByHash: %v", err)
			}
			want := older
			want.LastUsedAt = at
			checkToken(t, got, want)
		}
		if got, err := s.TokenByHash(ctx, newer.Hash); err != nil || !got.LastUsedAt.IsZero() {
			t.Errorf("untouched token = %+v, %v; want LastUsedAt zero", got, err)
		}
		if err := s.TouchToken(ctx, newID(), t0); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("TouchToken(unknown) error = %v, want ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		tests := []struct {
			name   string
			userID string
			id     string
			want   error
		}{
			{"another user's token", u.ID, theirs.ID, comment.ErrNotFound},
			{"unknown token", u.ID, newID(), comment.ErrNotFound},
			{"own token", u.ID, older.ID, nil},
			{"own token again", u.ID, older.ID, comment.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.DeleteToken(ctx, tt.userID, tt.id); !errors.Is(err, tt.want) {
					t.Errorf("DeleteToken error = %v, want %v", err, tt.want)
				}
			})
		}
		if _, err := s.TokenByHash(ctx, older.Hash); !errors.Is(err, comment.ErrNotFound) {
			t.Errorf("TokenByHash(deleted) error = %v, want ErrNotFound", err)
		}
		if _, err := s.TokenByHash(ctx, theirs.Hash); err != nil {
			t.Errorf("TokenByHash(other user's) after a refused delete: %v", err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, h := range []string{"sha-" + newID(), "", "\xff\xfe", "x' OR '1'='1"} {
			if _, err := s.TokenByHash(ctx, h); !errors.Is(err, comment.ErrNotFound) {
				t.Errorf("TokenByHash(%q) error = %v, want ErrNotFound", h, err)
			}
		}
	})
}
