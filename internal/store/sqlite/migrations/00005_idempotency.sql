-- Idempotency keys of submissions: a retry of a submission with the same
-- key gets the first answer instead of a second comment. A key is written
-- in the transaction of its comment.

-- +goose Up
-- comment_id has no foreign key, so that a key never stands in the way of
-- removing a comment; a key whose comment is gone is answered as such.
-- request_hash identifies the submission first sent with the key; status
-- is what its submitter was told. Rows past expires_at are ignored and
-- deleted from time to time.
CREATE TABLE idempotency_keys (
    site_id      TEXT    NOT NULL REFERENCES sites (id),
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    comment_id   TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (site_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
