-- 0013: data quality (broker/quality). quality_counts holds the scorecard
-- counters per source, dataset and day (days since 1970-01-01, UTC); every
-- instance adds its batch of increments with an upsert, so several
-- instances and restarts add up rather than overwrite. quality_fields
-- counts, per field, the valid rows that carry it (kind 'present') and the
-- identity mismatches on it (kind 'mismatch'); quality_reasons the
-- rejections per kind and JSON path, with one example reason.
CREATE TABLE quality_counts (
    source          text   NOT NULL,
    dataset         text   NOT NULL,
    day             bigint NOT NULL,
    received        bigint NOT NULL DEFAULT 0,
    valid           bigint NOT NULL DEFAULT 0,
    duplicates      bigint NOT NULL DEFAULT 0,
    verified        bigint NOT NULL DEFAULT 0,
    mismatch        bigint NOT NULL DEFAULT 0,
    not_found       bigint NOT NULL DEFAULT 0,
    invalid_id      bigint NOT NULL DEFAULT 0,
    linked          bigint NOT NULL DEFAULT 0,
    review          bigint NOT NULL DEFAULT 0,
    deceased        bigint NOT NULL DEFAULT 0,
    unmatched       bigint NOT NULL DEFAULT 0,
    deceased_active bigint NOT NULL DEFAULT 0,
    last_seen_ms    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (source, dataset, day)
);
CREATE INDEX quality_counts_day ON quality_counts (day);
CREATE TABLE quality_fields (
    source  text   NOT NULL,
    dataset text   NOT NULL,
    day     bigint NOT NULL,
    kind    text   NOT NULL,
    field   text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (source, dataset, day, kind, field)
);
CREATE TABLE quality_reasons (
    source  text   NOT NULL,
    dataset text   NOT NULL,
    day     bigint NOT NULL,
    kind    text   NOT NULL,
    path    text   NOT NULL,
    example text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (source, dataset, day, kind, path)
);
-- Dead-lettered and unreconciled records, and "alive" findings, as items
-- the owning ministry corrects and resubmits or discards. event_id (the
-- record's ce_id, or the finding's own id) makes an item once, however often
-- its batch is re-read.
CREATE TABLE quality_items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      text   NOT NULL UNIQUE,
    source        text   NOT NULL,
    connector     text   NOT NULL,
    dataset       text   NOT NULL,
    kind          text   NOT NULL,
    path          text   NOT NULL,
    reason        text   NOT NULL,
    status        text   NOT NULL CHECK (status IN ('open', 'resubmitted', 'accepted', 'discarded')),
    record        BLOB   NOT NULL,
    entity_key    text   NOT NULL,
    citizen_key   text   NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    last_event_id text   NOT NULL DEFAULT '',
    created_ms    bigint NOT NULL,
    updated_ms    bigint NOT NULL
);
CREATE INDEX quality_items_list ON quality_items (source, status, id);
CREATE INDEX quality_items_citizen ON quality_items (citizen_key) WHERE citizen_key <> '' AND status = 'open';
CREATE TABLE quality_item_history (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id  bigint NOT NULL REFERENCES quality_items (id),
    at_ms    bigint NOT NULL,
    actor    text   NOT NULL,
    action   text   NOT NULL,
    status   text   NOT NULL,
    kind     text   NOT NULL,
    path     text   NOT NULL,
    reason   text   NOT NULL,
    note     text   NOT NULL,
    event_id text   NOT NULL
);
CREATE INDEX quality_item_history_item ON quality_item_history (item_id, seq);
