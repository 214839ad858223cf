-- 0003: generations (`durable.continue_as_new`) and step heartbeats.
-- A run that continues as new moves its journal here, as generation N, in the
-- transaction that gives the run its next generation's input: entries keeps only the
-- current generation, so a replay reads that and nothing older.
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
