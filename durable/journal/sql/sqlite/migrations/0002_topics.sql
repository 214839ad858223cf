-- 0002: the journal's own topics (records published with `engine.publish`) and the
-- positions event sources consume from, advanced with the runs they create.
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
