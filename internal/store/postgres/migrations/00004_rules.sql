-- Spam rules: each site's settings document and rules version, and how
-- often each rule has fired. The lists the rules read are site_lists.

-- +goose Up
-- A site without a row has version 0 and no settings. A row is written by
-- SaveRules, or with empty settings by the first list change, which also
-- increments the version. updated_by and updated_at are those of the last
-- SaveRules (empty and NULL until there is one). The settings are text, not
-- jsonb, so that they come back byte for byte (jsonb reorders keys and drops
-- whitespace); the store checks that they are JSON.
CREATE TABLE site_rules (
    site_id    text        PRIMARY KEY REFERENCES sites (id),
    version    integer     NOT NULL CHECK (version > 0),
    settings   text        NOT NULL DEFAULT '',
    updated_by text        NOT NULL DEFAULT '',
    updated_at timestamptz
);

-- One hit per comment (stored or refused) per rule it fired.
CREATE TABLE rule_hits (
    site_id text   NOT NULL REFERENCES sites (id),
    rule    text   NOT NULL,
    hits    bigint NOT NULL CHECK (hits > 0),
    PRIMARY KEY (site_id, rule)
);

-- +goose Down
DROP TABLE rule_hits;
DROP TABLE site_rules;
