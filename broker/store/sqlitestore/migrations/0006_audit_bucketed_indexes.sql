-- 0006: audit indexes that appends touch in one small region. The citizen
-- key (an HMAC) and the request id (a UUID) are random, so with the index
-- keyed by them every appended entry dirtied its own random leaf page of
-- each index, and in WAL mode every dirtied page is written whole (4 KB)
-- at each commit: at millions of entries two pages per entry, far more
-- than the entry itself. Both indexes now start with the entry's bucket,
-- seq >> 14 (16,384 consecutive entries), so the appends of a group commit
-- fall in the newest bucket's few hundred pages and share them. They also
-- hold the first 16 characters of the key (64 bits of an HMAC) instead of
-- all of it; queries compare the whole key on the row. A search by citizen
-- or request visits every bucket in the range it asks for, one index seek
-- each (see keyedSearch in auditsearch.go).
DROP INDEX audit_log_citizen;
CREATE INDEX audit_log_citizen ON audit_log ((seq >> 14), substr(citizen_key, 1, 16), seq) WHERE citizen_key <> '';
DROP INDEX audit_log_request;
CREATE INDEX audit_log_request ON audit_log ((seq >> 14), substr(request_id, 1, 16), seq) WHERE request_id <> '';
