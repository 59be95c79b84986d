-- 0010: fingerprints of the secrets every bus instance sharing this store
-- must hold alike (the audit HMAC key, the checkpoint signing key, the
-- citizen token key, the operator token). The first instance to start
-- records them; an instance whose key differs refuses to start. Only a
-- keyed digest is kept, never the key.
CREATE TABLE cluster_keys (
    name        text NOT NULL PRIMARY KEY,
    fingerprint text NOT NULL,
    instance    text NOT NULL
);
