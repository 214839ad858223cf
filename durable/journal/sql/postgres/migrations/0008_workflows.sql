-- 0008: the catalog of workflows executing engines imported, with their queues
-- (durable/journal/catalog.py): starters that never imported a workflow read it.
CREATE TABLE {schema}.workflows (
    name text PRIMARY KEY,
    queue text,
    seen_at double precision NOT NULL,
    seen_by text NOT NULL
);
