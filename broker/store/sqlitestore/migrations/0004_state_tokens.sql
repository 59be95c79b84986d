-- Latest row per entity of each dataset, for lookups under an agreement.
CREATE TABLE dataset_state (
    dataset     TEXT    NOT NULL,
    entity_key  TEXT    NOT NULL,
    citizen_key TEXT    NOT NULL,
    row_json    BLOB    NOT NULL,
    event_id    TEXT    NOT NULL,
    updated_us  INTEGER NOT NULL,
    PRIMARY KEY (dataset, entity_key)
) STRICT;
CREATE INDEX dataset_state_citizen ON dataset_state (dataset, citizen_key, updated_us) WHERE citizen_key <> '';

-- Agencies' API tokens, stored only as SHA-256 hashes of the secret.
CREATE TABLE api_tokens (
    id         TEXT    PRIMARY KEY,
    agency     TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX api_tokens_agency ON api_tokens (agency);

-- Answers to HTTP pushes by Idempotency-Key: a retried request is a no-op.
CREATE TABLE idempotency (
    source     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (source, key)
) STRICT;
