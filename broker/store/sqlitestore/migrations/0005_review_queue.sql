-- Candidate links of the probabilistic identity linkage that a clerk must
-- accept or reject. seq orders the queue and is the stable list cursor; a
-- record (source, record_id) is queued once.
CREATE TABLE review_queue (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    personal_id TEXT    NOT NULL,
    score       REAL    NOT NULL,
    probability REAL    NOT NULL,
    explanation BLOB,
    reason      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_us  INTEGER NOT NULL,
    decided_us  INTEGER NOT NULL DEFAULT 0,
    decided_by  TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE UNIQUE INDEX review_queue_record ON review_queue (source, record_id) WHERE record_id <> '';
CREATE INDEX review_queue_status ON review_queue (status, seq);
