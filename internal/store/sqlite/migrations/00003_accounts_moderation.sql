-- Accounts (users, per-site grants, sessions, API tokens), the moderation
-- workspace (revisions, site lists) and the queue's filters: by author email,
-- by IP and by words (FTS5).

-- +goose Up
CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE, -- lower-cased by the store
    password_hash TEXT    NOT NULL DEFAULT '',
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE site_members (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id TEXT NOT NULL REFERENCES sites (id),
    role    TEXT NOT NULL CHECK (role IN ('owner', 'moderator')),
    PRIMARY KEY (user_id, site_id)
) STRICT;

-- Members of a site.
CREATE INDEX site_members_site ON site_members (site_id);

CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY, -- SHA-256 (hex) of the cookie value
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- DeleteExpiredSessions.
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE, -- SHA-256 (hex) of the token
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER -- NULL: never used
) STRICT;

-- A user's tokens, newest first.
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

CREATE TABLE comment_revisions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id     TEXT    NOT NULL REFERENCES comments (id),
    author_name    TEXT    NOT NULL,
    author_website TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    edited_by      TEXT    NOT NULL,
    edited_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX comment_revisions_comment ON comment_revisions (comment_id, id);

CREATE TABLE site_lists (
    site_id    TEXT    NOT NULL REFERENCES sites (id),
    list       TEXT    NOT NULL CHECK (list IN ('trusted_email', 'blocked_email', 'blocked_ip')),
    value      TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (site_id, list, value)
) STRICT;

-- The author's email as the store compares it: lower-cased by Go's
-- strings.ToLower when the comment is written, since SQLite's lower() folds
-- ASCII only. Rows written before this migration are folded with lower().
ALTER TABLE comments ADD COLUMN author_email_lower TEXT NOT NULL DEFAULT '';
UPDATE comments SET author_email_lower = lower(author_email);

-- AuthorStats (email, site, then a count per status) and the queue filtered
-- by email, keyset-ordered within one site and status.
CREATE INDEX comments_author ON comments (author_email_lower, site_id, status, created_at, id);
-- The queue filtered by IP.
CREATE INDEX comments_ip ON comments (ip, site_id, status, created_at, id);

-- Full-text search in the author's name and the body. External content: the
-- text lives in comments only; the triggers keep the index in step. The
-- rowid is comments' implicit rowid, which VACUUM keeps because the table
-- has indexes (see TestSearchSurvivesVacuum). Diacritics are kept, so that
-- only case is folded, as in the PostgreSQL store.
CREATE VIRTUAL TABLE comments_fts USING fts5(
    author_name, body,
    content = 'comments', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO comments_fts (comments_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER comments_fts_insert AFTER INSERT ON comments BEGIN
    INSERT INTO comments_fts (rowid, author_name, body) VALUES (new.rowid, new.author_name, new.body);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER comments_fts_delete AFTER DELETE ON comments BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, author_name, body)
    VALUES ('delete', old.rowid, old.author_name, old.body);
END;
-- +goose StatementEnd

-- Only edits of the searched columns touch the index, not status changes.
-- +goose StatementBegin
CREATE TRIGGER comments_fts_update AFTER UPDATE OF author_name, body ON comments BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, author_name, body)
    VALUES ('delete', old.rowid, old.author_name, old.body);
    INSERT INTO comments_fts (rowid, author_name, body) VALUES (new.rowid, new.author_name, new.body);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER comments_fts_update;
DROP TRIGGER comments_fts_delete;
DROP TRIGGER comments_fts_insert;
DROP TABLE comments_fts;
DROP INDEX comments_ip;
DROP INDEX comments_author;
ALTER TABLE comments DROP COLUMN author_email_lower;
DROP TABLE site_lists;
DROP TABLE comment_revisions;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE site_members;
DROP TABLE users;
