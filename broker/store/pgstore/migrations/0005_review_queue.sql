-- Candidate links of the probabilistic identity linkage that a clerk must
-- accept or reject. seq orders the queue and is the stable list cursor; a
-- record (source, record_id) is queued once.
CREATE TABLE review_queue (
    seq         bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text             NOT NULL,
    record_id   text             NOT NULL,
    personal_id text             NOT NULL,
    score       double precision NOT NULL,
    probability double precision NOT NULL,
    explanation bytea,
    reason      text             NOT NULL,
    status      text             NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    created     timestamptz      NOT NULL,
    decided     timestamptz,
    decided_by  text             NOT NULL DEFAULT '',
    note        text             NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX review_queue_record ON review_queue (source, record_id) WHERE record_id <> '';
CREATE INDEX review_queue_status ON review_queue (status, seq);
