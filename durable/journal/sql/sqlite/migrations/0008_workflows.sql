-- 0008: the catalog of workflows executing engines imported, with their queues
-- (durable/journal/catalog.py): starters that never imported a workflow read it.
CREATE TABLE durable_workflows (
    name TEXT PRIMARY KEY,
    queue TEXT,
    seen_at REAL NOT NULL,
    seen_by TEXT NOT NULL
) WITHOUT ROWID;
