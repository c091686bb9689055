package comment

import (
	"context"
	"time"
)

// Role is what a user may do on one site.
type Role string

// The per-site roles. An owner may do everything a moderator may, and also
// manage the site's moderators and settings.
const (
	RoleOwner     Role = "owner"
	RoleModerator Role = "moderator"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleModerator }

// User is a person who signs in to moderate. Email is unique, compared
// case-insensitively (stores keep it lower-cased).
type User struct {
	ID           string
	Email        string
	PasswordHash string // PHC-formatted argon2id hash; empty: cannot sign in with a password
	Admin        bool   // may do everything on every site
	CreatedAt    time.Time
}

// Grant gives a user a role on a site.
type Grant struct {
	UserID string
	SiteID string
	Role   Role
}

// Member is a grant as a site's settings page shows it.
type Member struct {
	UserID string
	Email  string
	Role   Role
}

// Session is a signed-in browser. The cookie holds a random value; the store
// keeps only its SHA-256 (hex), so a copy of the database cannot be used to
// sign in.
type Session struct {
	Hash      string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Token is an API token of a user, known by its SHA-256 (hex). It acts with
// the user's roles as they are when it is used.
type Token struct {
	ID         string
	UserID     string
	Name       string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
}

// AccountStore persists users, their grants, sessions and API tokens.
type AccountStore interface {
	// CreateUser stores u (ID set by the caller). ErrConflict if the email is
	// taken.
	CreateUser(ctx context.Context, u User) error
	// UserByEmail returns the user with that email (any case), or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UserByID returns the user, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// SetPassword replaces the user's password hash and ends all the user's
	// sessions, in one transaction. ErrNotFound if no user.
	SetPassword(ctx context.Context, userID, hash string) error

	// SetGrant gives the user the role on the site, replacing any role the
	// user had there. ErrNotFound if the user or site does not exist.
	SetGrant(ctx context.Context, g Grant) error
	// DeleteGrant removes the user's role on the site; removing a grant that
	// does not exist is not an error.
	DeleteGrant(ctx context.Context, userID, siteID string) error
	// Grants returns the user's grants, ordered by site id.
	Grants(ctx context.Context, userID string) ([]Grant, error)
	// Members returns the users with a role on the site, ordered by email.
	Members(ctx context.Context, siteID string) ([]Member, error)

	// CreateSession stores s. ErrConflict if the hash exists.
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the session, or ErrNotFound. Expired sessions are
	// returned too; the caller compares ExpiresAt with its clock.
	SessionByHash(ctx context.Context, hash string) (Session, error)
	// DeleteSession removes the session; a missing one is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes sessions that expired before now and
	// returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// CreateToken stores t. ErrConflict if the id or hash exists.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens returns the user's tokens, newest first.
	Tokens(ctx context.Context, userID string) ([]Token, error)
	// TouchToken records that the token was used at the given time.
	TouchToken(ctx context.Context, id string, at time.Time) error
	// DeleteToken removes the user's token with id. ErrNotFound if the user
	// has no such token.
	DeleteToken(ctx context.Context, userID, id string) error
}
