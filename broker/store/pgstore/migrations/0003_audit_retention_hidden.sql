-- 0003: retention of the audit log, and entries hidden from the citizen until a date.
-- Retention: the append-only guard of 0001 now lets
-- a DELETE through only for entries at or below the transaction-local
-- setting lgsp.audit_prune_through, which PruneAudit sets (SET LOCAL, so it
-- ends with its transaction) right before deleting. UPDATE and TRUNCATE stay
-- refused. Someone who sets the value by hand is caught by verification, as
-- someone who drops the trigger is.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.seq <= COALESCE(NULLIF(current_setting('lgsp.audit_prune_through', true), ''), '0')::bigint THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;

-- Entries an agreement hides from the citizen's own view during an
-- investigation, until this time; NULL: never hidden.
ALTER TABLE audit_log ADD COLUMN hidden_until timestamptz;
