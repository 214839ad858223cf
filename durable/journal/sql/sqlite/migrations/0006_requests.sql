-- 0006: requests into running runs (`engine.request`, `durable.recv_request`).  A
-- request is queued in send order per (run, name); the receiving entry takes it
-- (`taken_seq`, `taken_at`: that entry's seq and start time, which a later journal
-- generation's entry at the same seq cannot share) and the answering entry writes its
-- reply or rejection, each in the transaction that journals the entry.
CREATE TABLE durable_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    request_key TEXT NOT NULL,
    value BLOB NOT NULL,
    sent_at REAL NOT NULL,
    state TEXT NOT NULL,
    taken_seq INTEGER,
    taken_at REAL,
    answer BLOB,
    answered_at REAL,
    UNIQUE (run_id, request_key)
);

CREATE INDEX durable_requests_queue ON durable_requests (run_id, name, state, id);

-- A consumed message also keeps its receiving entry's start time: with its seq, the key
-- of the entry that took it, which a later journal generation's entry at the same seq
-- cannot share.
ALTER TABLE durable_messages ADD COLUMN consumed_at REAL;
