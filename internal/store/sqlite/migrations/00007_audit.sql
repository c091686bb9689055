-- An audit log of sensitive operations, such as readers' data exports and
-- erasures. subject identifies whom an entry is about without personal
-- data (a hash of the normalised email); details is a JSON object of counts.

-- +goose Up
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    details TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at, id);

-- +goose Down
DROP TABLE audit_log;
