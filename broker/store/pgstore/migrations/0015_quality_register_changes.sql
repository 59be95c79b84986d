-- 0015: "alive" findings for register changes (broker/quality). A change of
-- a citizen's name or residence in the population stream that a dataset's
-- current row about that citizen does not carry yet is kept here, one row
-- per source, dataset, citizen and field: expected is a keyed hash of the
-- register's new value (never the value), changed_ms when the bus first saw
-- it. A row is deleted once the dataset carries the value, or once its
-- finding is made after quality.reflect_within; the finding item's event id
-- makes it once however many instances find it due. quality_counts gains
-- the count of those findings per day, for the "alive" indicator.
CREATE TABLE quality_register_changes (
    source      text   NOT NULL,
    dataset     text   NOT NULL,
    citizen_key text   NOT NULL,
    field       text   NOT NULL,
    expected    text   NOT NULL,
    changed_ms  bigint NOT NULL,
    PRIMARY KEY (source, dataset, citizen_key, field)
);
CREATE INDEX quality_register_changes_due ON quality_register_changes (changed_ms);
ALTER TABLE quality_counts ADD COLUMN unreflected bigint NOT NULL DEFAULT 0;
