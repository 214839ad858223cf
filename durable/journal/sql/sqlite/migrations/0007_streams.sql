-- 0007: durable streams (`durable.write_stream`, `Engine.read_stream`): a stream per
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
