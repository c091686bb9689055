-- Times are timestamptz (microsecond precision). JSON columns are jsonb arrays.

-- +goose Up
CREATE TABLE sites (
    id            text        PRIMARY KEY,
    name          text        NOT NULL,
    origins       jsonb       NOT NULL DEFAULT '[]', -- array of strings
    rate_every_ms bigint      NOT NULL DEFAULT 0,
    rate_burst    integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE pages (
    site_id    text        NOT NULL REFERENCES sites (id),
    key        text        NOT NULL,
    url        text        NOT NULL DEFAULT '',
    title      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (site_id, key)
);

CREATE TABLE comments (
    id             text        PRIMARY KEY,
    site_id        text        NOT NULL,
    page_key       text        NOT NULL,
    parent_id      text        REFERENCES comments (id),
    depth          integer     NOT NULL,
    author_name    text        NOT NULL,
    author_email   text        NOT NULL,
    author_website text        NOT NULL DEFAULT '',
    body           text        NOT NULL,
    body_html      text        NOT NULL,
    status         text        NOT NULL
        CHECK (status IN ('pending', 'approved', 'rejected', 'spam', 'deleted')),
    ip             text        NOT NULL DEFAULT '',
    user_agent     text        NOT NULL DEFAULT '',
    reasons        jsonb       NOT NULL DEFAULT '[]', -- array of {"rule","detail"}
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    FOREIGN KEY (site_id, page_key) REFERENCES pages (site_id, key)
);

-- The public thread of a page (Approved) and the approved count per page
-- (CountApproved) both read this index by its (site_id, page_key, status) prefix.
CREATE INDEX comments_thread ON comments (site_id, page_key, status, created_at, id);
-- The moderation queue across all sites, and for chosen sites, keyset-paged.
CREATE INDEX comments_queue ON comments (status, created_at, id);
CREATE INDEX comments_site_queue ON comments (site_id, status, created_at, id);
-- Foreign key checks on replies.
CREATE INDEX comments_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE comment_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    comment_id  text        NOT NULL REFERENCES comments (id),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    from_status text        NOT NULL, -- empty for the submission
    to_status   text        NOT NULL,
    at          timestamptz NOT NULL
);

CREATE INDEX comment_events_comment ON comment_events (comment_id, id);

-- +goose Down
DROP TABLE comment_events;
DROP TABLE comments;
DROP TABLE pages;
DROP TABLE sites;
