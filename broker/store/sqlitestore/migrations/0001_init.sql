-- 0001: the whole store.Store in its first shape.
-- STRICT tables so a wrong type is an error here, as it is in PostgreSQL,
-- instead of being stored silently and surprising the other backend's tests.

-- Schemas are deduplicated on the exact (type, text) pair; SQLite indexes the
-- full text, so no fingerprint is involved.
CREATE TABLE schemas (
    id          INTEGER PRIMARY KEY,
    schema_type TEXT    NOT NULL,
    schema_text TEXT    NOT NULL,
    UNIQUE (schema_type, schema_text)
) STRICT;

CREATE TABLE subject_versions (
    subject   TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    schema_id INTEGER NOT NULL REFERENCES schemas (id),
    deleted   INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    PRIMARY KEY (subject, version)
) STRICT, WITHOUT ROWID;

-- AddVersion looks up "does this subject already have this schema".
CREATE INDEX subject_versions_schema ON subject_versions (subject, schema_id);

CREATE TABLE connector_positions (
    connector  TEXT    NOT NULL PRIMARY KEY,
    position   BLOB    NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- seq is the rowid, so appends go to the right edge of the table b-tree and
-- a duplicate seq is a primary key violation.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    time_us      INTEGER NOT NULL, -- Unix microseconds, UTC
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    dataset      TEXT    NOT NULL,
    fields       TEXT,             -- JSON array; NULL for a nil slice
    purpose      TEXT    NOT NULL,
    legal_basis  TEXT    NOT NULL,
    agreement_id TEXT    NOT NULL,
    decision     TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    citizen_key  TEXT    NOT NULL,
    prev_hash    BLOB,
    hash         BLOB
) STRICT;

-- Partial indexes: system entries have no citizen or request, and indexing
-- their empty strings would only cost space. Queries repeat the "<> ''"
-- condition so the planner can use them.
CREATE INDEX audit_log_citizen ON audit_log (citizen_key, seq) WHERE citizen_key <> '';
CREATE INDEX audit_log_request ON audit_log (request_id, seq) WHERE request_id <> '';
CREATE INDEX audit_log_actor   ON audit_log (actor, seq);

-- The hash chain makes tampering detectable; these triggers make an
-- accidental UPDATE or DELETE from a tool or a bug fail loudly instead.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Keyed by the personal number; WITHOUT ROWID keeps rows in id order, which
-- is the order ScanCitizens must return.
CREATE TABLE citizens (
    id             TEXT    NOT NULL PRIMARY KEY,
    old_id         TEXT    NOT NULL,
    full_name      TEXT    NOT NULL,
    dob            TEXT    NOT NULL,
    sex            TEXT    NOT NULL,
    birth_province TEXT    NOT NULL,
    deceased       INTEGER NOT NULL CHECK (deceased IN (0, 1))
) STRICT, WITHOUT ROWID;
