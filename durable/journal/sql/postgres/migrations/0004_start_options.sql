-- 0004: start options (`engine.start(..., start_at=, delay=, partition_key=, dedup_key=)`)
-- and detached children.  A run not due before `start_at` stays PENDING and unclaimed;
-- `dedup_key` is unique among unfinished runs only, so a finished run frees its key;
-- `partition_key` counts against its queue's `partition_concurrency`; a `detached` child
-- keeps its parent as lineage but is left out of the parent's cancellation.
ALTER TABLE {schema}.runs ADD COLUMN start_at double precision;
ALTER TABLE {schema}.runs ADD COLUMN partition_key text;
ALTER TABLE {schema}.runs ADD COLUMN dedup_key text;
ALTER TABLE {schema}.runs ADD COLUMN detached boolean NOT NULL DEFAULT false;

CREATE UNIQUE INDEX runs_dedup ON {schema}.runs (dedup_key)
WHERE dedup_key IS NOT NULL AND status IN ('PENDING', 'RUNNING', 'SLEEPING');
CREATE INDEX runs_start_at ON {schema}.runs (start_at)
WHERE start_at IS NOT NULL AND status = 'PENDING';
CREATE INDEX runs_partition ON {schema}.runs (queue, partition_key)
WHERE partition_key IS NOT NULL;
