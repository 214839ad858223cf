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
    consumed_seq bigint
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
