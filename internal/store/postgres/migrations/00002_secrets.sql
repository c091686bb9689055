-- Secrets the instances sharing this database must agree on, such as the
-- HMAC key used when none is configured. Written once, never updated.

-- +goose Up
CREATE TABLE secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE secrets;
