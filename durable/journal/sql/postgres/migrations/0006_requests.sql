-- 0006: requests into running runs (`engine.request`, `durable.recv_request`).  A
-- request is queued in send order per (run, name); the receiving entry takes it
-- (`taken_seq`, `taken_at`: that entry's seq and start time, which a later journal
-- generation's entry at the same seq cannot share) and the answering entry writes its
-- reply or rejection, each in the transaction that journals the entry.
CREATE TABLE {schema}.requests (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    name text NOT NULL,
    request_key text NOT NULL,
    value bytea NOT NULL,
    sent_at double precision NOT NULL,
    state text NOT NULL,
    taken_seq bigint,
    taken_at double precision,
    answer bytea,
    answered_at double precision,
    UNIQUE (run_id, request_key)
);

CREATE INDEX requests_queue ON {schema}.requests (run_id, name, state, id);

-- A consumed message also keeps its receiving entry's start time: with its seq, the key
-- of the entry that took it, which a later journal generation's entry at the same seq
-- cannot share.
ALTER TABLE {schema}.messages ADD COLUMN consumed_at double precision;
