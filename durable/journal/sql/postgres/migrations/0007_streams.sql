-- 0007: durable streams (`durable.write_stream`, `Engine.read_stream`): a stream per
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
