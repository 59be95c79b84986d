-- 0014: what repeats in every entry of one agreement version (its legal
-- basis, ~280 bytes, and its field list, ~115) is stored once here and
-- referred to by text_id. The entry's hash still covers both: the store
-- reads them back in place of the inline columns, which a referring entry
-- leaves empty (legal_basis '') and NULL (fields). Entries written before
-- (text_id NULL) keep their inline text. Rows here are never changed;
-- digest is SHA-256 over the pair, so instances sharing the store agree.
CREATE TABLE audit_texts (
    id          INTEGER PRIMARY KEY,
    digest      BLOB    NOT NULL UNIQUE,
    legal_basis TEXT    NOT NULL,
    fields      TEXT             -- JSON array; NULL for a nil slice
);
ALTER TABLE audit_log ADD COLUMN text_id INTEGER;
