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
ALTER TABLE comments ADD COLUMN notify_replies boolean NOT NULL DEFAULT false;

CREATE TABLE notify_jobs (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('held', 'reply', 'confirm')),
    comment_id    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    claimed_until timestamptz NOT NULL DEFAULT '-infinity' -- a worker holds it until then
);

-- +goose StatementBegin
CREATE FUNCTION notify_jobs_on_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT parent_id, notify_replies INTO c FROM comments WHERE id = NEW.comment_id;
    IF NEW.to_status = 'pending' AND NEW.from_status = '' THEN
        INSERT INTO notify_jobs (kind, comment_id, created_at) VALUES ('held', NEW.comment_id, NEW.at);
    END IF;
    IF NEW.to_status = 'approved' AND coalesce(c.parent_id, '') <> '' THEN
        INSERT INTO notify_jobs (kind, comment_id, created_at) VALUES ('reply', NEW.comment_id, NEW.at);
    END IF;
    IF NEW.from_status = '' AND NEW.to_status IN ('pending', 'approved') AND c.notify_replies THEN
        INSERT INTO notify_jobs (kind, comment_id, created_at) VALUES ('confirm', NEW.comment_id, NEW.at);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER notify_jobs_on_event AFTER INSERT ON comment_events
    FOR EACH ROW WHEN (NEW.to_status IN ('pending', 'approved'))
    EXECUTE FUNCTION notify_jobs_on_event();

CREATE TABLE notify_deliveries (
    id            text        PRIMARY KEY, -- time-ordered (UUIDv7)
    site_id       text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('held', 'reply', 'confirm')),
    channel       text        NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient     text        NOT NULL,    -- an email address or a webhook URL
    comment_id    text        NOT NULL DEFAULT '',
    payload       jsonb       NOT NULL DEFAULT '{}',
    digest_key    text        NOT NULL DEFAULT '',
    state         text        NOT NULL CHECK (state IN ('due', 'sent', 'failed', 'dropped')),
    attempts      integer     NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,    -- when a due delivery is next tried
    claimed_until timestamptz NOT NULL DEFAULT '-infinity', -- a sender holds it until then
    last_error    text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    done_at       timestamptz
);

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
    site_id         text        NOT NULL REFERENCES sites (id),
    email_lower     text        NOT NULL, -- strings.ToLower of the address
    state           text        NOT NULL CHECK (state IN ('unconfirmed', 'confirmed', 'unsubscribed')),
    confirm_sent_at timestamptz,
    changed_at      timestamptz NOT NULL,
    PRIMARY KEY (site_id, email_lower)
);

-- +goose Down
DROP TABLE reader_addresses;
DROP TABLE notify_deliveries;
DROP TRIGGER notify_jobs_on_event ON comment_events;
DROP FUNCTION notify_jobs_on_event();
DROP TABLE notify_jobs;
ALTER TABLE comments DROP COLUMN notify_replies;
