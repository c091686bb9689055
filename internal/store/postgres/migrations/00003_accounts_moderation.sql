-- Accounts (users, per-site grants, sessions, API tokens), the moderation
-- workspace (revisions, site lists) and the queue's filters: by author email,
-- by IP and by words (full-text search).

-- +goose Up
CREATE TABLE users (
    id            text        PRIMARY KEY,
    email         text        NOT NULL UNIQUE, -- lower-cased by the store
    password_hash text        NOT NULL DEFAULT '',
    admin         boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);

CREATE TABLE site_members (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id text NOT NULL REFERENCES sites (id),
    role    text NOT NULL CHECK (role IN ('owner', 'moderator')),
    PRIMARY KEY (user_id, site_id)
);

-- Members of a site.
CREATE INDEX site_members_site ON site_members (site_id);

CREATE TABLE sessions (
    hash       text        PRIMARY KEY, -- SHA-256 (hex) of the cookie value
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- DeleteExpiredSessions.
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           text        PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    hash         text        NOT NULL UNIQUE, -- SHA-256 (hex) of the token
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz -- NULL: never used
);

-- A user's tokens, newest first.
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

CREATE TABLE comment_revisions (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    comment_id     text        NOT NULL REFERENCES comments (id),
    author_name    text        NOT NULL,
    author_website text        NOT NULL,
    body           text        NOT NULL,
    edited_by      text        NOT NULL,
    edited_at      timestamptz NOT NULL
);

CREATE INDEX comment_revisions_comment ON comment_revisions (comment_id, id);

CREATE TABLE site_lists (
    site_id    text        NOT NULL REFERENCES sites (id),
    list       text        NOT NULL CHECK (list IN ('trusted_email', 'blocked_email', 'blocked_ip')),
    value      text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (site_id, list, value)
);

-- Two columns the store computes in Go when it writes a comment, so that
-- matching does not depend on the database's locale (lower() and the text
-- search parser fold case and split words by it, and the parser keeps
-- hosts, emails, paths and numbers like 3.14 whole):
--   author_email_lower: strings.ToLower(author_email);
--   search: the words of author_name and body (runs of letters, digits and
--     private-use characters), lower-cased, as a tsvector without positions.
-- Rows written before this migration get the closest SQL equivalents.
ALTER TABLE comments
    ADD COLUMN author_email_lower text     NOT NULL DEFAULT '',
    ADD COLUMN search             tsvector NOT NULL DEFAULT ''::tsvector;
UPDATE comments SET
    author_email_lower = lower(author_email),
    search = strip(to_tsvector('simple',
        lower(regexp_replace(author_name || ' ' || body, '[^[:alnum:]]+', ' ', 'g'))));

-- AuthorStats (email, site, then a count per status) and the queue filtered
-- by email, keyset-ordered within one site and status.
CREATE INDEX comments_author ON comments (author_email_lower, site_id, status, created_at, id);
-- The queue filtered by IP.
CREATE INDEX comments_ip ON comments (ip, site_id, status, created_at, id);
-- The queue filtered by words.
CREATE INDEX comments_search ON comments USING gin (search);

-- +goose Down
DROP INDEX comments_search;
DROP INDEX comments_ip;
DROP INDEX comments_author;
ALTER TABLE comments DROP COLUMN search, DROP COLUMN author_email_lower;
DROP TABLE site_lists;
DROP TABLE comment_revisions;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE site_members;
DROP TABLE users;
