-- 0002: the schema registry beyond register/lookup: schema references,
-- per-subject and global settings (compatibility level, mode).

-- The references a schema was registered with, in their given order. They
-- belong to the schema id: ids are immutable, and so are their references.
CREATE TABLE schema_references (
    schema_id INTEGER NOT NULL REFERENCES schemas (id),
    ord       INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (schema_id, ord)
) STRICT, WITHOUT ROWID;

-- ReferencedBy looks up who refers to a subject version.
CREATE INDEX schema_references_target ON schema_references (subject, version);

-- subject '' is the global setting.
CREATE TABLE registry_settings (
    setting TEXT NOT NULL,
    subject TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (setting, subject)
) STRICT, WITHOUT ROWID;
