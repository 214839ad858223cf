-- 0004: start options (`engine.start(..., start_at=, delay=, partition_key=, dedup_key=)`)
-- and detached children.  A run not due before `start_at` stays PENDING and unclaimed;
-- `dedup_key` is unique among unfinished runs only, so a finished run frees its key;
-- `partition_key` counts against its queue's `partition_concurrency`; a `detached` child
-- keeps its parent as lineage but is left out of the parent's cancellation.
ALTER TABLE durable_runs ADD COLUMN start_at REAL;
ALTER TABLE durable_runs ADD COLUMN partition_key TEXT;
ALTER TABLE durable_runs ADD COLUMN dedup_key TEXT;
ALTER TABLE durable_runs ADD COLUMN detached INTEGER NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX durable_runs_dedup ON durable_runs (dedup_key)
WHERE dedup_key IS NOT NULL AND status IN ('PENDING', 'RUNNING', 'SLEEPING');
CREATE INDEX durable_runs_start_at ON durable_runs (start_at)
WHERE start_at IS NOT NULL AND status = 'PENDING';
CREATE INDEX durable_runs_partition ON durable_runs (queue, partition_key)
WHERE partition_key IS NOT NULL;
