-- 0007: the register keeps the citizen's registered permanent residence,
-- one address line as the population stream carries it ('' when unknown),
-- so identity linkage against the bus's own register can compare addresses.
-- A constant default: PostgreSQL 11+ adds the column without rewriting the
-- table.
ALTER TABLE citizens ADD COLUMN residence text NOT NULL DEFAULT '';
