-- How much of each comment's client data (IP address, user agent) is kept.
-- The retention job shortens or removes it once the comment is older than
-- the configured period and records here that it did, so that each row is
-- rewritten once per level, not on every run:
--   0: as submitted;
--   1: the IP cut to its network, the user agent removed (mode truncate);
--   2: both removed (mode delete).

-- +goose Up
ALTER TABLE comments ADD COLUMN client_data_state INTEGER NOT NULL DEFAULT 0
    CHECK (client_data_state IN (0, 1, 2));

-- ExpireClientData: the rows of one level created before a time.
CREATE INDEX comments_client_data ON comments (client_data_state, created_at);

-- +goose Down
DROP INDEX comments_client_data;
ALTER TABLE comments DROP COLUMN client_data_state;
