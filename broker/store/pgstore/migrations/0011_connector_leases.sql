-- 0011: which bus instance runs each connector. A lease is held until
-- expires_ms (Unix milliseconds) and renewed by its owner; another instance
-- takes an expired lease and bumps epoch, which fences the old owner off:
-- a position is saved only together with a check that its writer still
-- holds the lease at the epoch it started with.
CREATE TABLE connector_leases (
    name       text   NOT NULL PRIMARY KEY,
    owner      text   NOT NULL,
    epoch      bigint NOT NULL,
    expires_ms bigint NOT NULL
);
