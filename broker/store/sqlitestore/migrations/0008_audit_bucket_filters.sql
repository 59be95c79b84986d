-- 0008: a Bloom filter per sealed bucket of the audit log (16,384 entries)
-- over its citizen keys and request ids, so a search by citizen or request
-- visits the buckets that may hold the key instead of all of them (see
-- store.AuditFilters). Derived from the log and rebuilt when missing;
-- `lgsp audit verify` checks them against the entries.
CREATE TABLE audit_bucket_filters (
    bucket   INTEGER PRIMARY KEY,
    citizens BLOB NOT NULL,
    requests BLOB NOT NULL
) STRICT;
