-- 0006: audit indexes that appends touch in one small region. The citizen
-- key (an HMAC) and the request id (a UUID) are random, so with the index
-- keyed by them every appended entry landed on a random leaf page of each
-- index: at millions of entries most of those pages are outside shared
-- buffers, and each is written again as a full-page image after every
-- checkpoint. Both indexes now start with the entry's bucket, seq >> 14
-- (16,384 consecutive entries), so appends stay in the newest bucket's
-- few hundred pages. They hold the 64-bit hash of the key
-- (hashtextextended, which hash partitioning relies on, so it is stable
-- across releases) instead of its text: a third of the size. Queries
-- compare the whole key on the row. A search by citizen or request visits
-- every bucket in the range it asks for, one index descent each (see
-- keyedSearch in auditsearch.go).
DROP INDEX audit_log_citizen;
CREATE INDEX audit_log_citizen ON audit_log ((seq >> 14), hashtextextended(citizen_key, 0), seq) WHERE citizen_key <> '';
DROP INDEX audit_log_request;
CREATE INDEX audit_log_request ON audit_log ((seq >> 14), hashtextextended(request_id, 0), seq) WHERE request_id <> '';
