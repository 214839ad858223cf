-- 0005: schedules (`engine.schedules`, `@workflow(schedule=...)`).  A schedule's
-- cursor (the last tick it handled) moves, compare-and-set on `version`, in the
-- transaction that creates the tick's run (id `<schedule>@<tick>`): a tick never
-- fires twice.  Ticks not run are kept in schedule_skips with their reason.
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
