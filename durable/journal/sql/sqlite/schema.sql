-- The fresh schema at the current version; migrations/ must build exactly this.
CREATE TABLE durable_schema (
    version INTEGER NOT NULL
);

CREATE TABLE durable_runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input BLOB NOT NULL,
    output BLOB,
    error BLOB,
    parent_id TEXT,
    parent_seq INTEGER,
    root_id TEXT NOT NULL,
    queue TEXT,
    metadata BLOB NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_expires_at REAL,
    wake_at REAL,
    priority INTEGER NOT NULL DEFAULT 0,
    code_version TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);

CREATE INDEX durable_runs_status ON durable_runs (status, created_at);
CREATE INDEX durable_runs_parent ON durable_runs (parent_id);
CREATE INDEX durable_runs_root ON durable_runs (root_id);
CREATE INDEX durable_runs_created ON durable_runs (created_at);

CREATE TABLE durable_entries (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    output BLOB,
    error BLOB,
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    child_id TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE durable_attempts (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    error BLOB NOT NULL,
    failed_at REAL NOT NULL,
    retry_at REAL NOT NULL,
    PRIMARY KEY (run_id, seq, attempt)
) WITHOUT ROWID;

CREATE TABLE durable_timers (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    wake_at REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE durable_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    value BLOB NOT NULL,
    sent_at REAL NOT NULL,
    send_key TEXT UNIQUE,
    consumed_seq INTEGER,
    consumed_at REAL
);

CREATE INDEX durable_messages_inbox ON durable_messages (run_id, topic, id);

CREATE TABLE durable_events (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    set_at REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE durable_topics (
    topic TEXT PRIMARY KEY,
    last_position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE durable_topic_records (
    topic TEXT NOT NULL,
    position INTEGER NOT NULL,
    key TEXT,
    value BLOB NOT NULL,
    published_at REAL NOT NULL,
    PRIMARY KEY (topic, position)
) WITHOUT ROWID;

CREATE UNIQUE INDEX durable_topic_records_key ON durable_topic_records (topic, key);

CREATE TABLE durable_source_offsets (
    consumer TEXT NOT NULL,
    source TEXT NOT NULL,
    position TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (consumer, source)
) WITHOUT ROWID;

-- generations and step heartbeats (migration 0003)
CREATE TABLE durable_generations (
    run_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    input BLOB NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    entries INTEGER NOT NULL,
    PRIMARY KEY (run_id, generation)
) WITHOUT ROWID;

CREATE TABLE durable_generation_entries (
    run_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    output BLOB,
    error BLOB,
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    child_id TEXT,
    PRIMARY KEY (run_id, generation, seq)
) WITHOUT ROWID;

-- the last details a running step passed to `durable.heartbeat` (throttled writes),
-- handed to its next attempt
CREATE TABLE durable_heartbeats (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    details BLOB,
    beat_at REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
-- start options and detached children (migration 0004)
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
-- A schedule's cursor moves, compare-and-set on version, in the transaction that
-- creates the tick's run: a tick never fires twice.
CREATE TABLE durable_schedules (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    spec TEXT NOT NULL,
    args BLOB NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    cursor REAL NOT NULL,
    next_at REAL NOT NULL,
    buffered REAL,
    last_run TEXT,
    version INTEGER NOT NULL,
    origin TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;

CREATE INDEX durable_schedules_next_at ON durable_schedules (next_at);

CREATE TABLE durable_schedule_skips (
    schedule_id TEXT NOT NULL,
    tick REAL NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (schedule_id, tick)
) WITHOUT ROWID;
CREATE TABLE durable_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    request_key TEXT NOT NULL,
    value BLOB NOT NULL,
    sent_at REAL NOT NULL,
    state TEXT NOT NULL,
    taken_seq INTEGER,
    taken_at REAL,
    answer BLOB,
    answered_at REAL,
    UNIQUE (run_id, request_key)
);

CREATE INDEX durable_requests_queue ON durable_requests (run_id, name, state, id);
-- 0003: durable streams (`durable.write_stream`, `Engine.read_stream`): a stream per
-- run and key, its next position and whether it was closed, and its chunks.  A chunk's
-- writer is unique per stream: a replayed workflow's write finds its chunk and adds
-- none; a retried step's chunks are new, marked with their attempt.
CREATE TABLE durable_streams (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    next_position INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE durable_stream_chunks (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    writer TEXT NOT NULL,
    step INTEGER,
    attempt INTEGER NOT NULL,
    run_attempt INTEGER NOT NULL,
    value BLOB NOT NULL,
    written_at REAL NOT NULL,
    PRIMARY KEY (run_id, key, position)
) WITHOUT ROWID;

CREATE UNIQUE INDEX durable_stream_chunks_writer ON durable_stream_chunks (run_id, key, writer);

-- 0008: the catalog of workflows executing engines imported, with their queues.
CREATE TABLE durable_workflows (
    name TEXT PRIMARY KEY,
    queue TEXT,
    seen_at REAL NOT NULL,
    seen_by TEXT NOT NULL
) WITHOUT ROWID;
