-- The fresh schema at the current version; migrations/ must build exactly this.
-- {schema} is replaced by the quoted schema name (default "durable").
CREATE TABLE {schema}.schema_version (
    version integer NOT NULL
);

CREATE TABLE {schema}.runs (
    id text PRIMARY KEY,
    name text NOT NULL,
    status text NOT NULL,
    input bytea NOT NULL,
    output bytea,
    error bytea,
    parent_id text,
    parent_seq bigint,
    root_id text NOT NULL,
    queue text,
    metadata bytea NOT NULL,
    attempt integer NOT NULL DEFAULT 0,
    owner text,
    lease_expires_at double precision,
    wake_at double precision,
    priority integer NOT NULL DEFAULT 0,
    code_version text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision
);

CREATE INDEX runs_status ON {schema}.runs (status, created_at);
CREATE INDEX runs_parent ON {schema}.runs (parent_id);
CREATE INDEX runs_root ON {schema}.runs (root_id);
CREATE INDEX runs_created ON {schema}.runs (created_at);

CREATE TABLE {schema}.entries (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    ord bigint NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    fingerprint text NOT NULL,
    output bytea,
    error bytea,
    attempts integer NOT NULL DEFAULT 1,
    started_at double precision NOT NULL,
    finished_at double precision NOT NULL,
    child_id text,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE {schema}.attempts (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    attempt integer NOT NULL,
    error bytea NOT NULL,
    failed_at double precision NOT NULL,
    retry_at double precision NOT NULL,
    PRIMARY KEY (run_id, seq, attempt)
);

CREATE TABLE {schema}.timers (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    wake_at double precision NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE {schema}.messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id text NOT NULL,
    topic text NOT NULL,
    value bytea NOT NULL,
    sent_at double precision NOT NULL,
    send_key text UNIQUE,
    consumed_seq bigint,
    consumed_at double precision
);

CREATE INDEX messages_inbox ON {schema}.messages (run_id, topic, id);

CREATE TABLE {schema}.events (
    run_id text NOT NULL,
    key text NOT NULL,
    value bytea NOT NULL,
    set_at double precision NOT NULL,
    PRIMARY KEY (run_id, key)
);

-- A topic's row is locked by each publish until it commits, so positions commit in
-- the order they are given and a consumer reading past a position misses none.
CREATE TABLE {schema}.topics (
    topic text PRIMARY KEY,
    last_position bigint NOT NULL
);

CREATE TABLE {schema}.topic_records (
    topic text NOT NULL,
    position bigint NOT NULL,
    key text,
    value bytea NOT NULL,
    published_at double precision NOT NULL,
    PRIMARY KEY (topic, position)
);

CREATE UNIQUE INDEX topic_records_key ON {schema}.topic_records (topic, key);

CREATE TABLE {schema}.source_offsets (
    consumer text NOT NULL,
    source text NOT NULL,
    position text NOT NULL,
    updated_at double precision NOT NULL,
    PRIMARY KEY (consumer, source)
);

-- generations and step heartbeats (migration 0003)
CREATE TABLE {schema}.generations (
    run_id text NOT NULL,
    generation integer NOT NULL,
    input bytea NOT NULL,
    started_at double precision NOT NULL,
    ended_at double precision NOT NULL,
    entries integer NOT NULL,
    PRIMARY KEY (run_id, generation)
);

CREATE TABLE {schema}.generation_entries (
    run_id text NOT NULL,
    generation integer NOT NULL,
    seq bigint NOT NULL,
    ord bigint NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    fingerprint text NOT NULL,
    output bytea,
    error bytea,
    attempts integer NOT NULL DEFAULT 1,
    started_at double precision NOT NULL,
    finished_at double precision NOT NULL,
    child_id text,
    PRIMARY KEY (run_id, generation, seq)
);

-- the last details a running step passed to `durable.heartbeat` (throttled writes),
-- handed to its next attempt
CREATE TABLE {schema}.heartbeats (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    attempt integer NOT NULL,
    details bytea,
    beat_at double precision NOT NULL,
    PRIMARY KEY (run_id, seq)
);
-- start options and detached children (migration 0004)
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
-- A schedule's cursor moves, compare-and-set on version, in the transaction that
-- creates the tick's run: a tick never fires twice.
CREATE TABLE {schema}.schedules (
    id text PRIMARY KEY,
    workflow text NOT NULL,
    spec text NOT NULL,
    args bytea NOT NULL,
    paused bigint NOT NULL DEFAULT 0,
    note text,
    cursor double precision NOT NULL,
    next_at double precision NOT NULL,
    buffered double precision,
    last_run text,
    version bigint NOT NULL,
    origin text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);

CREATE INDEX schedules_next_at ON {schema}.schedules (next_at);

CREATE TABLE {schema}.schedule_skips (
    schedule_id text NOT NULL,
    tick double precision NOT NULL,
    reason text NOT NULL,
    detail text,
    recorded_at double precision NOT NULL,
    PRIMARY KEY (schedule_id, tick)
);
CREATE TABLE {schema}.requests (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    name text NOT NULL,
    request_key text NOT NULL,
    value bytea NOT NULL,
    sent_at double precision NOT NULL,
    state text NOT NULL,
    taken_seq bigint,
    taken_at double precision,
    answer bytea,
    answered_at double precision,
    UNIQUE (run_id, request_key)
);

CREATE INDEX requests_queue ON {schema}.requests (run_id, name, state, id);
-- 0003: durable streams (`durable.write_stream`, `Engine.read_stream`): a stream per
-- run and key, its next position and whether it was closed, and its chunks.  A chunk's
-- writer is unique per stream: a replayed workflow's write finds its chunk and adds
-- none; a retried step's chunks are new, marked with their attempt.  A write locks
-- its stream's row until commit, so positions commit in order and a reader waiting
-- past position N misses none.
CREATE TABLE {schema}.streams (
    run_id text NOT NULL,
    key text NOT NULL,
    next_position bigint NOT NULL,
    closed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE {schema}.stream_chunks (
    run_id text NOT NULL,
    key text NOT NULL,
    position bigint NOT NULL,
    writer text NOT NULL,
    step bigint,
    attempt integer NOT NULL,
    run_attempt integer NOT NULL,
    value bytea NOT NULL,
    written_at double precision NOT NULL,
    PRIMARY KEY (run_id, key, position)
);

CREATE UNIQUE INDEX stream_chunks_writer ON {schema}.stream_chunks (run_id, key, writer);

-- 0008: the catalog of workflows executing engines imported, with their queues.
CREATE TABLE {schema}.workflows (
    name text PRIMARY KEY,
    queue text,
    seen_at double precision NOT NULL,
    seen_by text NOT NULL
);
