-- 0002: the schema registry beyond register/lookup: schema references,
-- per-subject and global settings (compatibility level, mode).

-- The references a schema was registered with, in their given order. They
-- belong to the schema id: ids are immutable, and so are their references.
CREATE TABLE schema_references (
    schema_id integer NOT NULL REFERENCES schemas (id),
    ord       integer NOT NULL,
    name      text    NOT NULL,
    subject   text COLLATE "C" NOT NULL,
    version   integer NOT NULL,
    PRIMARY KEY (schema_id, ord)
);

-- ReferencedBy looks up who refers to a subject version.
CREATE INDEX schema_references_target ON schema_references (subject, version);

-- subject '' is the global setting.
CREATE TABLE registry_settings (
    setting text NOT NULL,
    subject text COLLATE "C" NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (setting, subject)
);
