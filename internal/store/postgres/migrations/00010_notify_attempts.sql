-- notify_jobs.attempts: how many times a job was claimed. A job whose
-- planning keeps failing is given up after a number of attempts instead of
-- being retried forever.
--
-- notify_deliveries_digest: when a digest key was last sent, read when a
-- held comment is planned, without scanning every delivery.

-- +goose Up
ALTER TABLE notify_jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0;

CREATE INDEX notify_deliveries_digest ON notify_deliveries (digest_key, done_at)
    WHERE digest_key <> '';

-- +goose Down
DROP INDEX notify_deliveries_digest;
ALTER TABLE notify_jobs DROP COLUMN attempts;
