-- Spam rules: each site's settings document and rules version, and how
-- often each rule has fired. The lists the rules read are site_lists.

-- +goose Up
-- A site without a row has version 0 and no settings. A row is written by
-- SaveRules, or with empty settings by the first list change, which also
-- increments the version. updated_by and updated_at are those of the last
-- SaveRules (empty and NULL until there is one).
CREATE TABLE site_rules (
    site_id    TEXT    PRIMARY KEY REFERENCES sites (id),
    version    INTEGER NOT NULL CHECK (version > 0),
    settings   TEXT    NOT NULL DEFAULT '', -- JSON document, kept byte for byte
    updated_by TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER
) STRICT;

-- One hit per comment (stored or refused) per rule it fired.
CREATE TABLE rule_hits (
    site_id TEXT    NOT NULL REFERENCES sites (id),
    rule    TEXT    NOT NULL,
    hits    INTEGER NOT NULL CHECK (hits > 0),
    PRIMARY KEY (site_id, rule)
) STRICT;

-- +goose Down
DROP TABLE rule_hits;
DROP TABLE site_rules;
