-- Notifications to moderators and readers.
--
-- notify_jobs: what may call for a message, recorded by a trigger in the
-- same transaction as the comment event that caused it, so that nothing
-- is lost between a commit and a crash. A worker reads each job once,
-- decides who is to be told (none, when the comment has moved on since),
-- writes deliveries and deletes the job in one transaction.
--   held:    a comment was submitted and held for moderation;
--   reply:   a reply was approved (at submission or by a moderator);
--   confirm: a comment was submitted with "notify me of replies" ticked.
-- Jobs carry no foreign key: a comment erased before its job is read makes
-- the job a no-op rather than blocking the erase.
--
-- notify_deliveries: one message to one recipient (an email address or a
-- webhook URL), tried until sent or out of attempts. Deliveries with the
-- same non-empty digest_key are sent together as one message.
--
-- reader_addresses: per site, the state of a reader's address for reply
-- notifications. No mail but the confirmation itself goes to an address
-- that is not 'confirmed'.
--
-- comments.notify_replies: the author ticked "notify me of replies".

-- +goose Up
ALTER TABLE comments ADD COLUMN notify_replies INTEGER NOT NULL DEFAULT 0
    CHECK (notify_replies IN (0, 1));

CREATE TABLE notify_jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('held', 'reply', 'confirm')),
    comment_id    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0 -- a worker holds it until then
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER notify_jobs_on_event AFTER INSERT ON comment_events
WHEN NEW.to_status IN ('pending', 'approved')
BEGIN
    INSERT INTO notify_jobs (kind, comment_id, created_at)
    SELECT 'held', NEW.comment_id, NEW.at
    WHERE NEW.to_status = 'pending' AND NEW.from_status = '';

    INSERT INTO notify_jobs (kind, comment_id, created_at)
    SELECT 'reply', NEW.comment_id, NEW.at FROM comments
    WHERE NEW.to_status = 'approved' AND comments.id = NEW.comment_id
      AND coalesce(comments.parent_id, '') <> '';

    INSERT INTO notify_jobs (kind, comment_id, created_at)
    SELECT 'confirm', NEW.comment_id, NEW.at FROM comments
    WHERE NEW.from_status = '' AND comments.id = NEW.comment_id
      AND comments.notify_replies = 1;
END;
-- +goose StatementEnd

CREATE TABLE notify_deliveries (
    id            TEXT    PRIMARY KEY, -- time-ordered (UUIDv7)
    site_id       TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('held', 'reply', 'confirm')),
    channel       TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient     TEXT    NOT NULL,    -- an email address or a webhook URL
    comment_id    TEXT    NOT NULL DEFAULT '',
    payload       TEXT    NOT NULL DEFAULT '{}', -- JSON
    digest_key    TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL CHECK (state IN ('due', 'sent', 'failed', 'dropped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,    -- when a due delivery is next tried
    claimed_until INTEGER NOT NULL DEFAULT 0, -- a sender holds it until then
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    done_at       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The sender's queue.
CREATE INDEX notify_deliveries_due ON notify_deliveries (next_at) WHERE state = 'due';
-- One message of a kind about a comment to a recipient, however often the
-- comment goes back and forth.
CREATE UNIQUE INDEX notify_deliveries_once ON notify_deliveries (kind, comment_id, channel, recipient)
    WHERE comment_id <> '';
-- Purging finished deliveries; finding a reader's for export and erasure.
CREATE INDEX notify_deliveries_done ON notify_deliveries (done_at) WHERE state <> 'due';
CREATE INDEX notify_deliveries_recipient ON notify_deliveries (recipient);

CREATE TABLE reader_addresses (
    site_id         TEXT    NOT NULL REFERENCES sites (id),
    email_lower     TEXT    NOT NULL, -- strings.ToLower of the address
    state           TEXT    NOT NULL CHECK (state IN ('unconfirmed', 'confirmed', 'unsubscribed')),
    confirm_sent_at INTEGER NOT NULL DEFAULT 0,
    changed_at      INTEGER NOT NULL,
    PRIMARY KEY (site_id, email_lower)
) STRICT;

-- +goose Down
DROP TABLE reader_addresses;
DROP TABLE notify_deliveries;
DROP TRIGGER notify_jobs_on_event;
DROP TABLE notify_jobs;
ALTER TABLE comments DROP COLUMN notify_replies;
