-- An audit log of sensitive operations, such as readers' data exports and
-- erasures. subject identifies whom an entry is about without personal
-- data (a hash of the normalised email); details is a JSON object of counts.

-- +goose Up
CREATE TABLE audit_log (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL,
    details jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at ON audit_log (at, id);

-- +goose Down
DROP TABLE audit_log;
