-- 0012: documents every bus instance sharing this store reads and writes
-- whole, with compare-and-swap on version (the Kafka credentials of
-- kafka.auth, so that a credential issued through one instance holds on all).
CREATE TABLE shared_docs (
    name    text NOT NULL PRIMARY KEY,
    doc     text NOT NULL,
    version bigint NOT NULL
);
