-- Latest row per entity of each dataset, for lookups under an agreement.
CREATE TABLE dataset_state (
    dataset     text        NOT NULL,
    entity_key  text        NOT NULL,
    citizen_key text        NOT NULL,
    row_json    bytea       NOT NULL,
    event_id    text        NOT NULL,
    updated     timestamptz NOT NULL,
    PRIMARY KEY (dataset, entity_key)
);
CREATE INDEX dataset_state_citizen ON dataset_state (dataset, citizen_key, updated) WHERE citizen_key <> '';

-- Agencies' API tokens, stored only as SHA-256 hashes of the secret.
CREATE TABLE api_tokens (
    id      text        PRIMARY KEY,
    agency  text        NOT NULL,
    hash    bytea       NOT NULL UNIQUE,
    created timestamptz NOT NULL,
    revoked timestamptz
);
CREATE INDEX api_tokens_agency ON api_tokens (agency);

-- Answers to HTTP pushes by Idempotency-Key: a retried request is a no-op.
CREATE TABLE idempotency (
    source  text        NOT NULL,
    key     text        NOT NULL,
    status  integer     NOT NULL,
    body    bytea       NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, key)
);
