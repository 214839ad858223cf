-- 0005: schedules (`engine.schedules`, `@workflow(schedule=...)`).  A schedule's
-- cursor (the last tick it handled) moves, compare-and-set on `version`, in the
-- transaction that creates the tick's run (id `<schedule>@<tick>`): a tick never
-- fires twice.  Ticks not run are kept in schedule_skips with their reason.
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
