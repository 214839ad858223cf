-- 0003: generations (`durable.continue_as_new`) and step heartbeats.
-- A run that continues as new moves its journal here, as generation N, in the
-- transaction that gives the run its next generation's input: durable_entries keeps
-- only the current generation, so a replay reads that and nothing older.
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
