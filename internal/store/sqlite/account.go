package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// CreateUser stores u with its email lower-cased. An empty ID or email is a
// *comment.ValidationError; an ID or email already taken wraps
// comment.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u comment.User) error {
	if u.ID == "" {
		return comment.Invalid("id", "A user needs an id.")
	}
	if u.Email == "" {
		return comment.Invalid("email", "A user needs an email address.")
	}
	u.Email = strings.ToLower(u.Email)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO users (id, email, password_hash, admin, created_at) VALUES (?, ?, ?, ?, ?)`,
			u.ID, u.Email, u.PasswordHash, u.Admin, micros(u.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// UserByEmail returns the user whose email equals email in any case, or an
// error wrapping comment.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (comment.User, error) {
	var u comment.User
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		u, err = findUser(ctx, tx, "email", strings.ToLower(email))
		return err
	})
	if err != nil {
		return comment.User{}, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// UserByID returns the user, or an error wrapping comment.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (comment.User, error) {
	var u comment.User
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		u, err = findUser(ctx, tx, "id", id)
		return err
	})
	if err != nil {
		return comment.User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// SetPassword replaces the user's password hash and ends the user's
// sessions, or returns an error wrapping comment.ErrNotFound if there is no
// such user.
func (s *Store) SetPassword(ctx context.Context, userID, hash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		return mapErr(err)
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO site_members (user_id, site_id, role) VALUES (?, ?, ?)
			ON CONFLICT (user_id, site_id) DO UPDATE SET role = excluded.role`,
			g.UserID, g.SiteID, string(g.Role))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("grant %s on site %q to user %s: %w", g.Role, g.SiteID, g.UserID, err)
	}
	return nil
}

// DeleteGrant removes the user's role on the site, if any.
func (s *Store) DeleteGrant(ctx context.Context, userID, siteID string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM site_members WHERE user_id = ? AND site_id = ?`, userID, siteID)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("revoke grant on site %q of user %s: %w", siteID, userID, err)
	}
	return nil
}

// Grants returns the user's grants ordered by site id (none for an unknown
// user).
func (s *Store) Grants(ctx context.Context, userID string) ([]comment.Grant, error) {
	var gs []comment.Grant
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		gs, err = findGrants(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("grants of user %s: %w", userID, err)
	}
	return gs, nil
}

// Members returns the users with a role on the site ordered by email (none
// for an unknown site).
func (s *Store) Members(ctx context.Context, siteID string) ([]comment.Member, error) {
	var ms []comment.Member
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		ms, err = findMembers(ctx, tx, siteID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("members of site %q: %w", siteID, err)
	}
	return ms, nil
}

// CreateSession stores sess. A hash already stored wraps
// comment.ErrConflict, an unknown user comment.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, sess comment.Session) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			sess.Hash, sess.UserID, micros(sess.CreatedAt), micros(sess.ExpiresAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create session of user %s: %w", sess.UserID, err)
	}
	return nil
}

// SessionByHash returns the session, expired or not, or an error wrapping
// comment.ErrNotFound.
func (s *Store) SessionByHash(ctx context.Context, hash string) (comment.Session, error) {
	var sess comment.Session
	err := s.read(ctx, func(tx *sql.Tx) error {
		var created, expires int64
		err := tx.QueryRowContext(ctx, `
			SELECT hash, user_id, created_at, expires_at FROM sessions WHERE hash = ?`, hash).
			Scan(&sess.Hash, &sess.UserID, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return comment.ErrNotFound
		}
		sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
		return mapErr(err)
	})
	if err != nil {
		return comment.Session{}, fmt.Errorf("session: %w", err)
	}
	return sess, nil
}

// DeleteSession removes the session, if it exists.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
		return mapErr(err)
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, micros(now))
		if err != nil {
			return mapErr(err)
		}
		n, err = res.RowsAffected()
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO api_tokens (id, user_id, name, hash, created_at, last_used_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.UserID, t.Name, t.Hash, micros(t.CreatedAt), nullMicros(t.LastUsedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create token %s of user %s: %w", t.ID, t.UserID, err)
	}
	return nil
}

// TokenByHash returns the token, or an error wrapping comment.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (comment.Token, error) {
	var t comment.Token
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash)
		if err != nil {
			return mapErr(err)
		}
		ts, err := scanTokens(rows)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return comment.ErrNotFound
		}
		t = ts[0]
		return nil
	})
	if err != nil {
		return comment.Token{}, fmt.Errorf("token: %w", err)
	}
	return t, nil
}

// Tokens returns the user's tokens, newest first (none for an unknown user).
func (s *Store) Tokens(ctx context.Context, userID string) ([]comment.Token, error) {
	var ts []comment.Token
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
			WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
		if err != nil {
			return mapErr(err)
		}
		ts, err = scanTokens(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tokens of user %s: %w", userID, err)
	}
	return ts, nil
}

// TouchToken sets the token's LastUsedAt to at, or returns an error wrapping
// comment.ErrNotFound if there is no such token.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, micros(at), id)
		return affectedOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}

// DeleteToken removes the user's token id, or returns an error wrapping
// comment.ErrNotFound if the user has no such token.
func (s *Store) DeleteToken(ctx context.Context, userID, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ? AND user_id = ?`, id, userID)
		return affectedOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("delete token %s of user %s: %w", id, userID, err)
	}
	return nil
}

// findUser returns the user whose column key ("id" or "email", never user
// input) equals value.
func findUser(ctx context.Context, tx *sql.Tx, key, value string) (comment.User, error) {
	var (
		u       comment.User
		created int64
	)
	err := tx.QueryRowContext(ctx, `
		SELECT id, email, password_hash, admin, created_at FROM users WHERE `+key+` = ?`, value).
		Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return comment.User{}, comment.ErrNotFound
	}
	if err != nil {
		return comment.User{}, mapErr(err)
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}

func findGrants(ctx context.Context, tx *sql.Tx, userID string) ([]comment.Grant, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT user_id, site_id, role FROM site_members WHERE user_id = ? ORDER BY site_id`, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var gs []comment.Grant
	for rows.Next() {
		var (
			g    comment.Grant
			role string
		)
		if err := rows.Scan(&g.UserID, &g.SiteID, &role); err != nil {
			return nil, mapErr(err)
		}
		g.Role = comment.Role(role)
		gs = append(gs, g)
	}
	return gs, mapErr(rows.Err())
}

func findMembers(ctx context.Context, tx *sql.Tx, siteID string) ([]comment.Member, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT m.user_id, u.email, m.role FROM site_members m JOIN users u ON u.id = m.user_id
		WHERE m.site_id = ? ORDER BY u.email`, siteID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var ms []comment.Member
	for rows.Next() {
		var (
			m    comment.Member
			role string
		)
		if err := rows.Scan(&m.UserID, &m.Email, &role); err != nil {
			return nil, mapErr(err)
		}
		m.Role = comment.Role(role)
		ms = append(ms, m)
	}
	return ms, mapErr(rows.Err())
}

// tokenColumns is the column list token queries select, in the order
// scanTokens reads them.
const tokenColumns = `id, user_id, name, hash, created_at, last_used_at`

// scanTokens reads and closes rows of tokenColumns.
func scanTokens(rows *sql.Rows) ([]comment.Token, error) {
	defer rows.Close()
	var ts []comment.Token
	for rows.Next() {
		var (
			t        comment.Token
			created  int64
			lastUsed sql.NullInt64
		)
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &created, &lastUsed); err != nil {
			return nil, mapErr(err)
		}
		t.CreatedAt = fromMicros(created)
		if lastUsed.Valid {
			t.LastUsedAt = fromMicros(lastUsed.Int64)
		}
		ts = append(ts, t)
	}
	return ts, mapErr(rows.Err())
}

// affectedOne maps the result of a statement meant to change one row:
// changing none means the row does not exist.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return comment.ErrNotFound
	}
	return nil
}

// nullMicros stores a zero time as NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}
