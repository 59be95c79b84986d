-- 0003: retention of the audit log, and entries hidden from the citizen until a date.
-- Retention: the delete guard of 0001 now lets a
-- delete through only for entries at or below the "through" row of
-- audit_prune_gate, which PruneAudit writes and removes again inside its own
-- transaction, so the gate is never open outside it. Anything else (a tool,
-- a bug) still fails loudly; someone who opens the gate by hand is caught
-- by verification, as someone who drops the trigger is.
CREATE TABLE audit_prune_gate (
    through INTEGER NOT NULL
) STRICT;

DROP TRIGGER audit_log_no_delete;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > COALESCE((SELECT MAX(through) FROM audit_prune_gate), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Entries an agreement hides from the citizen's own view during an
-- investigation, until this time (Unix microseconds, UTC); NULL: never hidden.
ALTER TABLE audit_log ADD COLUMN hidden_until_us INTEGER;
