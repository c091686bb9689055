-- Times are INTEGER unix microseconds, UTC. JSON columns hold arrays as text.

-- +goose Up
CREATE TABLE sites (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    origins       TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    rate_every_ms INTEGER NOT NULL DEFAULT 0,
    rate_burst    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE pages (
    site_id    TEXT    NOT NULL REFERENCES sites (id),
    key        TEXT    NOT NULL,
    url        TEXT    NOT NULL DEFAULT '',
    title      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (site_id, key)
) STRICT;

CREATE TABLE comments (
    id             TEXT    PRIMARY KEY,
    site_id        TEXT    NOT NULL,
    page_key       TEXT    NOT NULL,
    parent_id      TEXT    REFERENCES comments (id),
    depth          INTEGER NOT NULL,
    author_name    TEXT    NOT NULL,
    author_email   TEXT    NOT NULL,
    author_website TEXT    NOT NULL DEFAULT '',
    body           TEXT    NOT NULL,
    body_html      TEXT    NOT NULL,
    status         TEXT    NOT NULL
        CHECK (status IN ('pending', 'approved', 'rejected', 'spam', 'deleted')),
    ip             TEXT    NOT NULL DEFAULT '',
    user_agent     TEXT    NOT NULL DEFAULT '',
    reasons        TEXT    NOT NULL DEFAULT '[]', -- JSON array of {"rule","detail"}
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    FOREIGN KEY (site_id, page_key) REFERENCES pages (site_id, key)
) STRICT;

-- The public thread of a page (Approved) and the approved count per page
-- (CountApproved) both read this index by its (site_id, page_key, status) prefix.
CREATE INDEX comments_thread ON comments (site_id, page_key, status, created_at, id);
-- The moderation queue across all sites, and for chosen sites, keyset-paged.
CREATE INDEX comments_queue ON comments (status, created_at, id);
CREATE INDEX comments_site_queue ON comments (site_id, status, created_at, id);
-- Foreign key checks on replies.
CREATE INDEX comments_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE comment_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id  TEXT    NOT NULL REFERENCES comments (id),
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    from_status TEXT    NOT NULL, -- empty for the submission
    to_status   TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;

CREATE INDEX comment_events_comment ON comment_events (comment_id, id);

-- +goose Down
DROP TABLE comment_events;
DROP TABLE comments;
DROP TABLE pages;
DROP TABLE sites;
