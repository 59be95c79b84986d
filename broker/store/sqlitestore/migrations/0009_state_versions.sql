-- 0009: dataset state applies only newer changes. version is the offset of
-- the canonical message that produced the row (every change of one entity
-- is on one partition, so offsets order them); a delete leaves a tombstone
-- with its version, so a late, older upsert cannot bring the row back.
ALTER TABLE dataset_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dataset_state ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
