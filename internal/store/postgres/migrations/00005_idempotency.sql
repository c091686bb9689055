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
    site_id      text        NOT NULL REFERENCES sites (id),
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    comment_id   text        NOT NULL,
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (site_id, key)
);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
