-- Secrets the instances sharing this database must agree on, such as the
-- HMAC key used when none is configured. Written once, never updated.

-- +goose Up
CREATE TABLE secrets (
    name       TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE secrets;
