-- 0002: the journal's own topics (records published with `engine.publish`) and the
-- positions event sources consume from, advanced with the runs they create.
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
