package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/commentd/commentd/internal/comment"
)

// CreateUser stores u with its email lower-cased. An empty ID or email, or
// one PostgreSQL cannot hold as text, is a *comment.ValidationError; an ID
// or email already taken wraps comment.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u comment.User) error {
	if u.ID == "" || !storable(u.ID) {
		return comment.Invalid("id", "A user needs an id.")
	}
	if u.Email == "" || !storable(u.Email) {
		return comment.Invalid("email", "A user needs an email address.")
	}
	u.Email = strings.ToLower(u.Email)
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO users (id, email, password_hash, admin, created_at) VALUES ($1, $2, $3, $4, $5)`,
			u.ID, u.Email, u.PasswordHash, u.Admin, u.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// UserByEmail returns the user whose email equals email in any case, or an
// error wrapping comment.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (comment.User, error) {
	if !storable(email) {
		return comment.User{}, fmt.Errorf("user by email: %w", comment.ErrNotFound)
	}
	u, err := findUser(ctx, s.pool, "email", strings.ToLower(email))
	if err != nil {
		return comment.User{}, fmt.Errorf("user by email: %w", mapErr(err))
	}
	return u, nil
}

// UserByID returns the user, or an error wrapping comment.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (comment.User, error) {
	if !storable(id) {
		return comment.User{}, fmt.Errorf("user %q: %w", id, comment.ErrNotFound)
	}
	u, err := findUser(ctx, s.pool, "id", id)
	if err != nil {
		return comment.User{}, fmt.Errorf("user %s: %w", id, mapErr(err))
	}
	return u, nil
}

// SetPassword replaces the user's password hash and ends the user's
// sessions, or returns an error wrapping comment.ErrNotFound if there is no
// such user.
func (s *Store) SetPassword(ctx context.Context, userID, hash string) error {
	if !storable(userID) {
		return fmt.Errorf("set password of user %q: %w", userID, comment.ErrNotFound)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := affectedOne(tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("set password of user %s: %w", userID, err)
	}
	return nil
}

// SetGrant gives the user g.Role on g.SiteID, replacing the role the user
// had there. An unknown role is a *comment.ValidationError; an unknown user
// or site wraps comment.ErrNotFound.
func (s *Store) SetGrant(ctx context.Context, g comment.Grant) error {
	if !g.Role.Valid() {
		return comment.Invalid("role", "Choose owner or moderator.")
	}
	if !storable(g.UserID) || !storable(g.SiteID) {
		return fmt.Errorf("grant on site %q to user %q: %w", g.SiteID, g.UserID, comment.ErrNotFound)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO site_members (user_id, site_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, site_id) DO UPDATE SET role = excluded.role`,
			g.UserID, g.SiteID, string(g.Role))
		return err
	})
	if err != nil {
		return fmt.Errorf("grant %s on site %q to user %s: %w", g.Role, g.SiteID, g.UserID, err)
	}
	return nil
}

// DeleteGrant removes the user's role on the site, if any.
func (s *Store) DeleteGrant(ctx context.Context, userID, siteID string) error {
	if !storable(userID) || !storable(siteID) {
		return nil
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM site_members WHERE user_id = $1 AND site_id = $2`, userID, siteID)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke grant on site %q of user %s: %w", siteID, userID, err)
	}
	return nil
}

// Grants returns the user's grants ordered by site id in byte order (none
// for an unknown user).
func (s *Store) Grants(ctx context.Context, userID string) ([]comment.Grant, error) {
	if !storable(userID) {
		return nil, nil
	}
	gs, err := findGrants(ctx, s.pool, userID)
	if err != nil {
		return nil, fmt.Errorf("grants of user %s: %w", userID, mapErr(err))
	}
	return gs, nil
}

// Members returns the users with a role on the site ordered by email in
// byte order (none for an unknown site).
func (s *Store) Members(ctx context.Context, siteID string) ([]comment.Member, error) {
	if !storable(siteID) {
		return nil, nil
	}
	ms, err := findMembers(ctx, s.pool, siteID)
	if err != nil {
		return nil, fmt.Errorf("members of site %q: %w", siteID, mapErr(err))
	}
	return ms, nil
}

// CreateSession stores sess. A hash already stored wraps
// comment.ErrConflict, an unknown user comment.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, sess comment.Session) error {
	if !storable(sess.Hash) || !storable(sess.UserID) {
		return comment.Invalid("session", "A session needs a hash and a user.")
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			sess.Hash, sess.UserID, sess.CreatedAt, sess.ExpiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session of user %s: %w", sess.UserID, err)
	}
	return nil
}

// SessionByHash returns the session, expired or not, or an error wrapping
// comment.ErrNotFound.
func (s *Store) SessionByHash(ctx context.Context, hash string) (comment.Session, error) {
	if !storable(hash) {
		return comment.Session{}, fmt.Errorf("session: %w", comment.ErrNotFound)
	}
	var sess comment.Session
	err := s.pool.QueryRow(ctx, `
		SELECT hash, user_id, created_at, expires_at FROM sessions WHERE hash = $1`, hash).
		Scan(&sess.Hash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = comment.ErrNotFound
	}
	if err != nil {
		return comment.Session{}, fmt.Errorf("session: %w", mapErr(err))
	}
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, nil
}

// DeleteSession removes the session, if it exists.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if !storable(hash) {
		return nil
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions whose ExpiresAt is before now
// and returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, now)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// CreateToken stores t; a zero LastUsedAt means never used. An ID or hash
// already stored wraps comment.ErrConflict, an unknown user
// comment.ErrNotFound.
func (s *Store) CreateToken(ctx context.Context, t comment.Token) error {
	if !storable(t.ID) || !storable(t.UserID) || !storable(t.Name) || !storable(t.Hash) {
		return comment.Invalid("token", "A token's id, name and hash must be text.")
	}
	var lastUsed *time.Time
	if !t.LastUsedAt.IsZero() {
		lastUsed = &t.LastUsedAt
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO api_tokens (id, user_id, name, hash, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, t.UserID, t.Name, t.Hash, t.CreatedAt, lastUsed)
		return err
	})
	if err != nil {
		return fmt.Errorf("create token %s of user %s: %w", t.ID, t.UserID, err)
	}
	return nil
}

// TokenByHash returns the token, or an error wrapping comment.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (comment.Token, error) {
	if !storable(hash) {
		return comment.Token{}, fmt.Errorf("token: %w", comment.ErrNotFound)
	}
	ts, err := queryTokens(ctx, s.pool, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash)
	if err == nil && len(ts) == 0 {
		err = comment.ErrNotFound
	}
	if err != nil {
		return comment.Token{}, fmt.Errorf("token: %w", mapErr(err))
	}
	return ts[0], nil
}

// Tokens returns the user's tokens, newest first (none for an unknown user).
func (s *Store) Tokens(ctx context.Context, userID string) ([]comment.Token, error) {
	if !storable(userID) {
		return nil, nil
	}
	ts, err := queryTokens(ctx, s.pool, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE user_id = $1 ORDER BY created_at DESC, id COLLATE "C" DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %s: %w", userID, mapErr(err))
	}
	return ts, nil
}

// TouchToken sets the token's LastUsedAt to at, or returns an error wrapping
// comment.ErrNotFound if there is no such token.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !storable(id) {
		return fmt.Errorf("touch token %q: %w", id, comment.ErrNotFound)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		return affectedOne(tx.Exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, at, id))
	})
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}

// DeleteToken removes the user's token id, or returns an error wrapping
// comment.ErrNotFound if the user has no such token.
func (s *Store) DeleteToken(ctx context.Context, userID, id string) error {
	if !storable(userID) || !storable(id) {
		return fmt.Errorf("delete token %q of user %q: %w", id, userID, comment.ErrNotFound)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		return affectedOne(tx.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, id, userID))
	})
	if err != nil {
		return fmt.Errorf("delete token %s of user %s: %w", id, userID, err)
	}
	return nil
}

// findUser returns the user whose column key ("id" or "email", never user
// input) equals value.
func findUser(ctx context.Context, tx dbtx, key, value string) (comment.User, error) {
	var u comment.User
	err := tx.QueryRow(ctx, `
		SELECT id, email, password_hash, admin, created_at FROM users WHERE `+key+` = $1`, value).
		Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.User{}, comment.ErrNotFound
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

func findGrants(ctx context.Context, tx dbtx, userID string) ([]comment.Grant, error) {
	rows, err := tx.Query(ctx, `
		SELECT user_id, site_id, role FROM site_members WHERE user_id = $1 ORDER BY site_id COLLATE "C"`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (comment.Grant, error) {
		var (
			g    comment.Grant
			role string
		)
		err := row.Scan(&g.UserID, &g.SiteID, &role)
		g.Role = comment.Role(role)
		return g, err
	})
}

func findMembers(ctx context.Context, tx dbtx, siteID string) ([]comment.Member, error) {
	rows, err := tx.Query(ctx, `
		SELECT m.user_id, u.email, m.role FROM site_members m JOIN users u ON u.id = m.user_id
		WHERE m.site_id = $1 ORDER BY u.email COLLATE "C"`, siteID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (comment.Member, error) {
		var (
			m    comment.Member
			role string
		)
		err := row.Scan(&m.UserID, &m.Email, &role)
		m.Role = comment.Role(role)
		return m, err
	})
}

// tokenColumns is the column list token queries select, in the order
// queryTokens reads them.
const tokenColumns = `id, user_id, name, hash, created_at, last_used_at`

func queryTokens(ctx context.Context, tx dbtx, query string, args ...any) ([]comment.Token, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (comment.Token, error) {
		var (
			t        comment.Token
			lastUsed *time.Time
		)
		if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.CreatedAt, &lastUsed); err != nil {
			return comment.Token{}, err
		}
		t.CreatedAt = t.CreatedAt.UTC()
		if lastUsed != nil {
			t.LastUsedAt = lastUsed.UTC()
		}
		return t, nil
	})
}

// affectedOne maps the result of a statement meant to change one row:
// changing none means the row does not exist.
func affectedOne(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return comment.ErrNotFound
	}
	return nil
}
