-- Named queries of the Postgres journal.  Each block starts with `-- name: NAME`.
-- {schema} is replaced by the quoted schema name; everything else is a parameter.
-- Owner checks lock the run row (FOR SHARE) in the same statement as the write, so a
-- concurrent claim waits for the write to commit and then sees it.

-- name: schema_state
SELECT
    EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s),
    to_regclass(%(version_table)s) IS NOT NULL,
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = %(schema)s);

-- name: migration_lock
SELECT pg_advisory_xact_lock(hashtextextended('durable schema ' || %(schema)s, 0));

-- name: create_schema
CREATE SCHEMA {schema};

-- name: schema_version
SELECT max(version) FROM {schema}.schema_version;

-- name: set_schema_version
INSERT INTO {schema}.schema_version (version) VALUES (%(version)s);

-- name: create_run
WITH ins AS (
    INSERT INTO {schema}.runs (
        id, name, status, input, parent_id, parent_seq, root_id, queue, metadata,
        owner, lease_expires_at, priority, created_at, updated_at, attempt, started_at,
        start_at, partition_key, dedup_key, detached
    ) VALUES (
        %(id)s, %(name)s, %(status)s, %(input)s, %(parent_id)s, %(parent_seq)s, %(root_id)s,
        %(queue)s, %(metadata)s, %(owner)s, %(lease_expires_at)s, %(priority)s,
        %(created_at)s, %(created_at)s,
        -- a run created by the engine that executes it is taken up at once: attempt 1
        CASE WHEN %(owner)s::text IS NULL THEN 0 ELSE 1 END,
        CASE WHEN %(owner)s::text IS NULL THEN NULL ELSE %(created_at)s END,
        %(start_at)s, %(partition_key)s, %(dedup_key)s, %(detached)s
    )
    ON CONFLICT (id) DO NOTHING
    RETURNING id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
              metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
              updated_at, started_at, finished_at, cancel_requested, start_at,
              partition_key, dedup_key, detached
)
-- a run nobody holds is work for the workers: tell them (delivered at commit)
, announced AS (SELECT pg_notify(%(work_channel)s, '') FROM ins WHERE ins.owner IS NULL)
SELECT ins.*, true FROM ins LEFT JOIN announced ON true
UNION ALL
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached, false
FROM {schema}.runs WHERE id = %(id)s AND NOT EXISTS (SELECT 1 FROM ins);

-- name: select_run
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
FROM {schema}.runs WHERE id = %(id)s;

-- name: list_runs
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
FROM {schema}.runs
WHERE (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s::text[]))
  AND (%(name)s::text IS NULL OR name = %(name)s::text)
  AND (%(parent_id)s::text IS NULL OR parent_id = %(parent_id)s::text)
  AND (%(root_id)s::text IS NULL OR root_id = %(root_id)s::text)
  AND (%(before_at)s::double precision IS NULL
       OR (created_at, id) < (%(before_at)s::double precision, %(before_id)s::text))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: select_entries
SELECT run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM {schema}.entries WHERE run_id = %(id)s ORDER BY seq;

-- name: select_attempts
SELECT run_id, seq, attempt, error, failed_at, retry_at
FROM {schema}.attempts WHERE run_id = %(id)s ORDER BY seq, attempt;

-- name: select_timers
SELECT run_id, seq, wake_at FROM {schema}.timers WHERE run_id = %(id)s ORDER BY seq;

-- name: entry_exists
SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(seq)s AND ord = %(ord)s;

-- name: append_entries
-- The entries of several append_entries calls in one statement, as one JSON parameter
-- ([{"owner": ..., "expect": [{"run_id": ..., "seq": ...}, ...], "entries": [entry, ...]},
-- ...], bytes in base64): a call whose runs are not all held by its owner, or that
-- expects an entry the journal lacks (one its owner knows committed: the fence against
-- holes, see durable.journal.postgres.holdings), writes nothing, and its index (from 0)
-- is returned.
-- jsonb, not json: a json value is parsed again by every operator applied to it, which
-- made this statement quadratic in the number of entries
WITH c AS MATERIALIZED (
    SELECT c.k - 1 AS k, c.v ->> 'owner' AS owner, c.v -> 'entries' AS entries,
           c.v -> 'expect' AS expect
    FROM jsonb_array_elements(%(calls)s::jsonb) WITH ORDINALITY AS c (v, k)
),
e AS MATERIALIZED (
    SELECT c.k, c.owner, r.*
    FROM c, jsonb_to_recordset(c.entries) AS r (
        run_id text, seq bigint, ord bigint, kind text, name text, status text,
        fingerprint text, output text, error text, attempts integer,
        started_at double precision, finished_at double precision, child_id text
    )
),
held AS (
    SELECT r.id, r.owner FROM {schema}.runs r
    WHERE r.id IN (SELECT run_id FROM e)
    ORDER BY r.id
    FOR SHARE
),
lost AS (
    SELECT DISTINCT e.k FROM e LEFT JOIN held h ON h.id = e.run_id
    WHERE h.owner IS DISTINCT FROM e.owner
    UNION
    -- a scalar subquery, not NOT EXISTS: the planner, expecting 100 rows from the JSON,
    -- would make that an anti-join over every entry; this is one index probe per call
    SELECT c.k FROM c, jsonb_to_recordset(c.expect) AS x (run_id text, seq bigint)
    WHERE (SELECT p.seq FROM {schema}.entries p WHERE p.run_id = x.run_id AND p.seq = x.seq)
          IS NULL
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT run_id, seq, ord, kind, name, status, fingerprint, decode(output, 'base64'),
           decode(error, 'base64'), attempts, started_at, finished_at, child_id
    FROM e WHERE e.k NOT IN (SELECT k FROM lost)
    ON CONFLICT (run_id, seq) DO NOTHING
    RETURNING run_id
),
-- each run with a new entry is notified once (the HTTP stream of its entries listens)
-- (one row whatever is lost, so it is always evaluated: k is NULL when nothing was lost)
notified AS (
    SELECT count(pg_notify(%(channel)s, run_id)) AS n FROM (SELECT DISTINCT run_id FROM ins) r
)
SELECT lost.k FROM notified LEFT JOIN lost ON true;

-- name: tx_append_entry
-- The entry of a `@durable.transaction` step, written only while the owner holds the run
-- and the entry `expect` (one the owner knows committed; NULL: none) is in the journal;
-- returns the run's owner, NULL when that entry is missing (no row: the run is gone).
WITH held AS (
    SELECT CASE WHEN %(expect)s::bigint IS NULL OR EXISTS (
               SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint
           ) THEN owner END AS owner
    FROM {schema}.runs WHERE id = %(run_id)s FOR SHARE
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT %(run_id)s, %(seq)s, %(ord)s, %(kind)s, %(name)s, %(status)s, %(fingerprint)s,
           %(output)s, %(error)s, %(attempts)s, %(started_at)s, %(finished_at)s, %(child_id)s
    WHERE %(write)s AND EXISTS (SELECT 1 FROM held WHERE owner = %(owner)s)
    ON CONFLICT (run_id, seq) DO NOTHING
)
-- the new entry is news for the run's watchers (undone with the rest on a rollback)
SELECT owner, pg_notify(%(channel)s, %(run_id)s) FROM held;

-- name: insert_attempt
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s
      AND (%(expect)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint))
    FOR SHARE
),
ins AS (
    INSERT INTO {schema}.attempts (run_id, seq, attempt, error, failed_at, retry_at)
    SELECT %(run_id)s, %(seq)s, %(attempt)s, %(error)s, %(failed_at)s, %(retry_at)s
    WHERE EXISTS (SELECT 1 FROM held)
    ON CONFLICT (run_id, seq, attempt) DO NOTHING
)
SELECT count(*) FROM held;

-- name: insert_timer
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s
      AND (%(expect)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint))
    FOR SHARE
),
ins AS (
    INSERT INTO {schema}.timers (run_id, seq, wake_at)
    SELECT %(run_id)s, %(seq)s, %(wake_at)s
    WHERE EXISTS (SELECT 1 FROM held)
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT count(*) FROM held;

-- name: update_run
WITH updated AS (
    UPDATE {schema}.runs
    SET status = %(status)s, output = coalesce(%(output)s, output), error = %(error)s,
        wake_at = %(wake_at)s, updated_at = %(at)s, started_at = coalesce(started_at, %(at)s),
        finished_at = CASE WHEN %(finished)s THEN %(at)s::float8 ELSE NULL END
    WHERE id = %(run_id)s AND owner = %(owner)s
      AND (%(expect)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint))
    RETURNING id, queue
)
-- a run of a queue that ends frees room in its queue: workers may claim (the work
-- channel is the changed channel's sibling, "<schema>.work")
SELECT id, pg_notify(%(channel)s, id),
       (SELECT pg_notify(left(%(channel)s, -length('changed')) || 'work', '')
        WHERE %(finished)s AND queue IS NOT NULL)
FROM updated;

-- name: claim_run
-- `retried`: the previous attempt of this very claim may have committed (its outcome
-- was lost with the connection); then the run is already ours and must not count twice.
UPDATE {schema}.runs
SET owner = %(owner)s, lease_expires_at = %(lease_expires_at)s, updated_at = %(now)s,
    started_at = coalesce(started_at, %(now)s),
    attempt = attempt + CASE
        WHEN %(retried)s AND owner IS NOT DISTINCT FROM %(owner)s
             AND owner IS DISTINCT FROM %(expected)s THEN 0 ELSE 1 END
WHERE id = %(id)s
  AND (owner IS NOT DISTINCT FROM %(expected)s::text
       OR (%(retried)s AND owner IS NOT DISTINCT FROM %(owner)s))
  AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
  AND coalesce(start_at, 0) <= %(now)s  -- a delayed start is not taken before it is due
RETURNING id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
          metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
          updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
          dedup_key, detached;

-- name: claimable
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
FROM {schema}.runs
WHERE status IN ('PENDING', 'RUNNING', 'SLEEPING')
  AND name = ANY (%(names)s::text[])
-- priority, plus one point per minute waited: low priority work is never starved
ORDER BY priority + (%(now)s - created_at) / 60.0 DESC, created_at, id
LIMIT %(limit)s;

-- name: heartbeat
UPDATE {schema}.runs SET lease_expires_at = %(lease_expires_at)s
WHERE owner = %(owner)s AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: release_all
WITH released AS (
    UPDATE {schema}.runs SET owner = NULL, lease_expires_at = NULL
    WHERE owner = %(owner)s AND status IN ('PENDING', 'RUNNING', 'SLEEPING')
    RETURNING id
)
SELECT pg_notify(%(work_channel)s, '') WHERE EXISTS (SELECT 1 FROM released);

-- name: release_some
WITH released AS (
    UPDATE {schema}.runs SET owner = NULL, lease_expires_at = NULL
    WHERE owner = %(owner)s AND id = ANY (%(ids)s::text[])
      AND status IN ('PENDING', 'RUNNING', 'SLEEPING')
    RETURNING id
)
SELECT pg_notify(%(work_channel)s, '') WHERE EXISTS (SELECT 1 FROM released);

-- name: claim_batch
-- Runnable runs nobody holds, highest priority (plus one point per minute waited)
-- first; rows another claimer has locked are skipped, so concurrent claimers never
-- wait for each other or take the same run.  Runs of limited queues are left to
-- claim_limited.  `retried`: the previous attempt may have committed with its reply
-- lost; the runs it took are ours already and are taken again.
WITH picked AS (
    SELECT id FROM {schema}.runs
    WHERE (owner IS NULL OR (%(retried)s AND owner = %(owner)s))
      AND status IN ('PENDING', 'RUNNING', 'SLEEPING')
      AND (status <> 'SLEEPING' OR coalesce(wake_at, 0) <= %(now)s)
      AND coalesce(start_at, 0) <= %(now)s
      AND name = ANY (%(names)s::text[])
      AND (%(queues)s::text[] IS NULL OR coalesce(queue, 'default') = ANY (%(queues)s::text[]))
      AND NOT (coalesce(queue, '') = ANY (%(skip_queues)s::text[]))
    ORDER BY priority + (%(now)s - created_at) / 60.0 DESC, created_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.runs AS r
SET owner = %(owner)s, lease_expires_at = %(lease_expires_at)s, updated_at = %(now)s,
    started_at = coalesce(r.started_at, %(now)s), attempt = r.attempt + 1,
    -- a PENDING run becomes RUNNING here: its executor need not write that itself
    status = CASE WHEN r.status = 'PENDING' THEN 'RUNNING' ELSE r.status END
FROM picked WHERE r.id = picked.id
RETURNING r.id, r.name, r.status, r.input, r.output, r.error, r.parent_id, r.parent_seq,
          r.root_id, r.queue, r.metadata, r.attempt, r.owner, r.lease_expires_at, r.wake_at,
          r.priority, r.created_at, r.updated_at, r.started_at, r.finished_at,
          r.cancel_requested, r.start_at, r.partition_key, r.dedup_key, r.detached;

-- name: request_cancel
UPDATE {schema}.runs SET cancel_requested = true
WHERE id = ANY (%(ids)s::text[]) AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: reopen
-- Error entries completed after the last successful one move to the attempts table.
WITH moved AS (
    DELETE FROM {schema}.entries
    WHERE run_id = %(id)s AND status = 'error'
      AND ord > (SELECT coalesce(max(ord), -1) FROM {schema}.entries
                 WHERE run_id = %(id)s AND status = 'ok')
    RETURNING seq, attempts, error, finished_at
),
kept AS (
    INSERT INTO {schema}.attempts (run_id, seq, attempt, error, failed_at, retry_at)
    SELECT %(id)s, seq, attempts, error, finished_at, finished_at FROM moved
    ON CONFLICT (run_id, seq, attempt) DO NOTHING
),
reopened AS (
    UPDATE {schema}.runs
    SET status = 'PENDING', error = NULL, output = NULL, finished_at = NULL,
        cancel_requested = false, owner = NULL, lease_expires_at = NULL, updated_at = %(now)s
    WHERE id = %(id)s AND status IN ('FAILED', 'CANCELLED')
    RETURNING id
)
SELECT (SELECT count(*) FROM moved), (SELECT pg_notify(%(channel)s, id) FROM reopened),
       (SELECT pg_notify(%(work_channel)s, '') FROM reopened);

-- name: copy_entries
INSERT INTO {schema}.entries (
    run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
    started_at, finished_at, child_id
)
SELECT %(target)s, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM {schema}.entries
WHERE run_id = %(source)s AND seq < %(before)s
  AND ord < (SELECT coalesce(min(ord), 9223372036854775807) FROM {schema}.entries
             WHERE run_id = %(source)s AND seq >= %(before)s)
ON CONFLICT (run_id, seq) DO NOTHING;


-- name: run_fence
-- Why a write of the run's owner was refused: the run's owner and whether the entry
-- `expect` is in the journal (no row: the run is gone).
SELECT owner, %(expect)s::bigint IS NULL OR EXISTS (
    SELECT 1 FROM {schema}.entries WHERE run_id = %(id)s AND seq = %(expect)s::bigint)
FROM {schema}.runs WHERE id = %(id)s;

-- name: held_runs
SELECT id FROM {schema}.runs
WHERE owner = %(owner)s AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: cancel_requested
SELECT id FROM {schema}.runs
WHERE owner = %(owner)s AND cancel_requested AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: send_message
-- Returns (the run's status, NULL when there is none; whether the message is new;
-- whether its key was sent before).  A send without a key gets a random one, so that a
-- retried send lands once.  A finished run takes none; a run parked in a wait
-- (SLEEPING) is made due at once: the message may be what it waits for.
WITH target AS (
    SELECT id, status FROM {schema}.runs WHERE id = %(run_id)s
),
prior AS (
    SELECT 1 FROM {schema}.messages WHERE send_key = %(key)s
),
ins AS (
    INSERT INTO {schema}.messages (run_id, topic, value, sent_at, send_key)
    SELECT id, %(topic)s, %(value)s, %(at)s, %(key)s FROM target
    WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (send_key) DO NOTHING
    RETURNING id
),
woken AS (
    UPDATE {schema}.runs SET wake_at = NULL
    WHERE id = %(run_id)s AND status = 'SLEEPING' AND EXISTS (SELECT 1 FROM ins)
    RETURNING id
)
SELECT (SELECT status FROM target), (SELECT count(*) FROM ins), (SELECT count(*) FROM prior),
       pg_notify(%(channel)s, %(run_id)s), (SELECT pg_notify(%(work_channel)s, '') FROM woken);

-- name: receive_message
-- Takes the oldest unconsumed message and journals the entry with it, while the owner
-- holds the run (and the entry `expect` it knows committed is there: NULL owner
-- returned otherwise).  A message this very entry consumed before (a retried write; the
-- entry's seq and start time, which no later generation's entry shares) is returned
-- again instead of taking the next one.
WITH held AS (
    SELECT CASE WHEN %(expect)s::bigint IS NULL OR EXISTS (
               SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint
           ) THEN owner END AS owner
    FROM {schema}.runs WHERE id = %(run_id)s FOR SHARE
),
prior AS (
    SELECT value FROM {schema}.messages
    WHERE run_id = %(run_id)s AND topic = %(topic)s AND consumed_seq = %(seq)s
      AND consumed_at = %(started_at)s
),
taken AS (
    UPDATE {schema}.messages SET consumed_seq = %(seq)s, consumed_at = %(started_at)s
    WHERE id = (SELECT id FROM {schema}.messages
                WHERE run_id = %(run_id)s AND topic = %(topic)s AND consumed_seq IS NULL
                ORDER BY id LIMIT 1)
      AND EXISTS (SELECT 1 FROM held WHERE owner = %(owner)s)
      AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING value
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT %(run_id)s, %(seq)s, %(ord)s, %(kind)s, %(name)s, %(status)s, %(fingerprint)s,
           value, %(error)s, %(attempts)s, %(started_at)s, %(finished_at)s, %(child_id)s
    FROM taken
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT (SELECT owner FROM held), coalesce((SELECT value FROM prior), (SELECT value FROM taken));

-- name: set_event
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s
      AND (%(expect)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint))
    FOR SHARE
),
event AS (
    INSERT INTO {schema}.events (run_id, key, value, set_at)
    SELECT id, %(key)s, %(value)s, %(at)s FROM held
    ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT id, %(seq)s, %(ord)s, %(kind)s, %(name)s, %(status)s, %(fingerprint)s,
           %(output)s, %(error)s, %(attempts)s, %(started_at)s, %(finished_at)s, %(child_id)s
    FROM held
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT (SELECT count(*) FROM held), pg_notify(%(channel)s, %(run_id)s);

-- name: select_event
SELECT value FROM {schema}.events WHERE run_id = %(run_id)s AND key = %(key)s;

-- name: list_finished
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
FROM {schema}.runs
WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND finished_at IS NOT NULL
  AND (finished_at > %(after)s OR (finished_at = %(after)s AND id > %(after_id)s))
  AND (%(before)s::float8 IS NULL OR finished_at < %(before)s::float8)
ORDER BY finished_at, id
LIMIT %(limit)s;

-- name: delete_runs
WITH wanted AS (
    SELECT * FROM unnest(%(ids)s::text[], %(finished)s::float8[]) AS w (id, finished_at)
),
gone AS (
    DELETE FROM {schema}.runs r USING wanted w
    WHERE r.id = w.id AND r.finished_at = w.finished_at
      AND r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
    RETURNING r.id
),
entries AS (DELETE FROM {schema}.entries WHERE run_id IN (SELECT id FROM gone)),
attempts AS (DELETE FROM {schema}.attempts WHERE run_id IN (SELECT id FROM gone)),
timers AS (DELETE FROM {schema}.timers WHERE run_id IN (SELECT id FROM gone)),
messages AS (DELETE FROM {schema}.messages WHERE run_id IN (SELECT id FROM gone)),
events AS (DELETE FROM {schema}.events WHERE run_id IN (SELECT id FROM gone)),
generations AS (DELETE FROM {schema}.generations WHERE run_id IN (SELECT id FROM gone)),
generation_entries AS (
    DELETE FROM {schema}.generation_entries WHERE run_id IN (SELECT id FROM gone)
),
heartbeats AS (DELETE FROM {schema}.heartbeats WHERE run_id IN (SELECT id FROM gone)),
requests AS (DELETE FROM {schema}.requests WHERE run_id IN (SELECT id FROM gone)),
streams AS (DELETE FROM {schema}.streams WHERE run_id IN (SELECT id FROM gone)),
chunks AS (DELETE FROM {schema}.stream_chunks WHERE run_id IN (SELECT id FROM gone))
SELECT count(*) FROM gone;

-- name: queue_lock
-- serialises the limited claims of one queue until the transaction ends
SELECT pg_advisory_xact_lock(1685418593, hashtext(%(queue)s));

-- name: queue_load
SELECT
  (SELECT count(*) FROM {schema}.runs
   WHERE queue = %(queue)s AND owner IS NOT NULL AND id <> %(id)s
     AND status IN ('PENDING', 'RUNNING', 'SLEEPING')),
  (SELECT count(*) FROM {schema}.runs
   WHERE queue = %(queue)s AND started_at >= %(since)s AND id <> %(id)s),
  -- the held runs of the claimed run's partition (0 for a run without a partition key)
  (SELECT count(*) FROM {schema}.runs AS p
   WHERE p.queue = %(queue)s AND p.owner IS NOT NULL AND p.id <> %(id)s
     AND p.status IN ('PENDING', 'RUNNING', 'SLEEPING')
     AND p.partition_key = (SELECT partition_key FROM {schema}.runs WHERE id = %(id)s));

-- Start options (durable/journal/postgres/starts.py) ------------------------------------

-- name: create_keyed_run
-- A run with a deduplication key: left out (no error) when its id exists or an
-- unfinished run has its key (the partial unique index `runs_dedup` decides, atomically).
WITH ins AS (
    INSERT INTO {schema}.runs (
        id, name, status, input, parent_id, parent_seq, root_id, queue, metadata,
        owner, lease_expires_at, priority, created_at, updated_at, attempt, started_at,
        start_at, partition_key, dedup_key, detached
    ) VALUES (
        %(id)s, %(name)s, %(status)s, %(input)s, %(parent_id)s, %(parent_seq)s, %(root_id)s,
        %(queue)s, %(metadata)s, %(owner)s, %(lease_expires_at)s, %(priority)s,
        %(created_at)s, %(created_at)s,
        CASE WHEN %(owner)s::text IS NULL THEN 0 ELSE 1 END,
        CASE WHEN %(owner)s::text IS NULL THEN NULL ELSE %(created_at)s END,
        %(start_at)s, %(partition_key)s, %(dedup_key)s, %(detached)s
    )
    ON CONFLICT DO NOTHING
    RETURNING id, owner
)
, announced AS (SELECT pg_notify(%(work_channel)s, '') FROM ins WHERE ins.owner IS NULL)
SELECT ins.id FROM ins LEFT JOIN announced ON true;

-- name: run_by_dedup_key
SELECT id FROM {schema}.runs
WHERE dedup_key = %(dedup_key)s AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: next_start
SELECT min(start_at) FROM {schema}.runs
WHERE status = 'PENDING' AND start_at IS NOT NULL AND start_at > %(now)s AND owner IS NULL
  AND name = ANY (%(names)s::text[]);

-- Topics and source offsets (durable/journal/postgres/topics.py) -----------------------

-- name: topic_publish
-- Keys already in the topic, or repeated in the call, are left out; the topic's row is
-- locked until commit, so positions commit in order (a reader past N misses none).
WITH incoming AS (
    SELECT v.value, v.key, v.ord
    FROM unnest(%(values)s::bytea[], %(keys)s::text[]) WITH ORDINALITY AS v(value, key, ord)
), fresh AS (
    SELECT DISTINCT ON (coalesce(i.key, 'ord:' || i.ord::text)) i.value, i.key, i.ord
    FROM incoming i
    WHERE i.key IS NULL OR NOT EXISTS (
        SELECT 1 FROM {schema}.topic_records r WHERE r.topic = %(topic)s AND r.key = i.key)
    ORDER BY coalesce(i.key, 'ord:' || i.ord::text), i.ord
), bumped AS (
    INSERT INTO {schema}.topics AS t (topic, last_position)
    VALUES (%(topic)s, (SELECT count(*) FROM fresh))
    ON CONFLICT (topic) DO UPDATE SET last_position = t.last_position + excluded.last_position
    RETURNING last_position
), inserted AS (
    INSERT INTO {schema}.topic_records (topic, position, key, value, published_at)
    SELECT %(topic)s,
           (SELECT last_position FROM bumped) - (SELECT count(*) FROM fresh)
               + row_number() OVER (ORDER BY f.ord),
           f.key, f.value, %(at)s
    FROM fresh f
    ON CONFLICT DO NOTHING
    RETURNING position
), announced AS (
    SELECT pg_notify(%(channel)s, %(wake)s) FROM (SELECT 1 FROM inserted LIMIT 1) AS any_new
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM announced);

-- name: topic_read
SELECT position, key, value FROM {schema}.topic_records
WHERE topic = %(topic)s AND position > %(after)s
ORDER BY position
LIMIT %(limit)s;

-- name: offset_get
SELECT position FROM {schema}.source_offsets
WHERE consumer = %(consumer)s AND source = %(source)s;

-- name: offset_insert
INSERT INTO {schema}.source_offsets (consumer, source, position, updated_at)
VALUES (%(consumer)s, %(source)s, %(position)s, %(at)s)
ON CONFLICT DO NOTHING;

-- name: offset_update
UPDATE {schema}.source_offsets SET position = %(position)s, updated_at = %(at)s
WHERE consumer = %(consumer)s AND source = %(source)s AND position = %(expected)s;

-- name: fail_new_run
UPDATE {schema}.runs SET status = 'FAILED', error = %(error)s, finished_at = %(at)s,
       updated_at = %(at)s
WHERE id = %(id)s AND status = 'PENDING' AND owner IS NULL;

-- Generations and step heartbeats (durable/journal/postgres/generations.py) -------------

-- name: current_generation
SELECT coalesce(max(generation), 0) + 1 FROM {schema}.generations WHERE run_id = %(id)s;

-- name: continue_as_new
-- One statement: the run's entries (and the entries given, as JSON, bytes in base64)
-- become generation %(generation)s with the run's input, its attempts, timers and
-- heartbeats go, the messages it consumed are marked consumed by no current call, and
-- the run takes the next generation's input; only while the owner holds the run (and
-- the entry `expect` it knows committed is there), and only once per generation.
-- Returns (whether the owner holds the run, whether this statement switched).
WITH held AS (
    SELECT id, input, coalesce(
               (SELECT max(g.ended_at) FROM {schema}.generations g WHERE g.run_id = r.id),
               started_at, created_at) AS started_at
    FROM {schema}.runs r WHERE id = %(run_id)s AND owner = %(owner)s
      AND (%(expect)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint))
    FOR UPDATE
),
fresh AS (
    SELECT * FROM held WHERE NOT EXISTS (
        SELECT 1 FROM {schema}.generations
        WHERE run_id = %(run_id)s AND generation >= %(generation)s)
),
moved AS (
    DELETE FROM {schema}.entries WHERE run_id IN (SELECT id FROM fresh) RETURNING *
),
given AS (
    SELECT r.* FROM fresh, jsonb_to_recordset(%(entries)s::jsonb) AS r (
        run_id text, seq bigint, ord bigint, kind text, name text, status text,
        fingerprint text, output text, error text, attempts integer,
        started_at double precision, finished_at double precision, child_id text
    )
),
archived AS (
    INSERT INTO {schema}.generation_entries (
        run_id, generation, seq, ord, kind, name, status, fingerprint, output, error,
        attempts, started_at, finished_at, child_id
    )
    SELECT run_id, %(generation)s, seq, ord, kind, name, status, fingerprint, output, error,
           attempts, started_at, finished_at, child_id FROM moved
    UNION ALL
    SELECT run_id, %(generation)s, seq, ord, kind, name, status, fingerprint,
           decode(output, 'base64'), decode(error, 'base64'), attempts, started_at,
           finished_at, child_id FROM given
    ON CONFLICT (run_id, generation, seq) DO NOTHING
    RETURNING seq
),
generation_row AS (
    INSERT INTO {schema}.generations (run_id, generation, input, started_at, ended_at, entries)
    SELECT id, %(generation)s, input, started_at, %(at)s,
           (SELECT count(*) FROM moved) + (SELECT count(*) FROM given)
    FROM fresh
),
attempts AS (DELETE FROM {schema}.attempts WHERE run_id IN (SELECT id FROM fresh)),
timers AS (DELETE FROM {schema}.timers WHERE run_id IN (SELECT id FROM fresh)),
heartbeats AS (DELETE FROM {schema}.heartbeats WHERE run_id IN (SELECT id FROM fresh)),
consumed AS (
    UPDATE {schema}.messages SET consumed_seq = -1
    WHERE run_id IN (SELECT id FROM fresh) AND consumed_seq >= 0
),
switched AS (
    UPDATE {schema}.runs SET input = %(input)s, wake_at = NULL, updated_at = %(at)s
    WHERE id IN (SELECT id FROM fresh)
    RETURNING id
)
SELECT (SELECT count(*) FROM held), (SELECT count(*) FROM switched),
       pg_notify(%(channel)s, %(run_id)s);

-- name: select_generations
SELECT generation, started_at, ended_at, entries FROM {schema}.generations
WHERE run_id = %(id)s ORDER BY generation;

-- name: select_generation_input
SELECT input FROM {schema}.generations WHERE run_id = %(id)s AND generation = %(generation)s;

-- name: select_generation_entries
SELECT run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM {schema}.generation_entries
WHERE run_id = %(id)s AND generation = %(generation)s ORDER BY seq;

-- name: save_step_heartbeat
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s FOR SHARE
),
saved AS (
    INSERT INTO {schema}.heartbeats (run_id, seq, attempt, details, beat_at)
    SELECT id, %(seq)s, %(attempt)s, %(details)s, %(at)s FROM held
    ON CONFLICT (run_id, seq) DO UPDATE
    SET attempt = excluded.attempt, details = excluded.details, beat_at = excluded.beat_at
)
SELECT count(*) FROM held;

-- name: select_step_heartbeats
SELECT seq, attempt, details FROM {schema}.heartbeats WHERE run_id = %(id)s;
-- name: schedule_insert
INSERT INTO {schema}.schedules (
    id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
    origin, created_at, updated_at
) VALUES (
    %(id)s, %(workflow)s, %(spec)s, %(args)s, %(paused)s, %(note)s, %(cursor)s, %(next_at)s,
    %(buffered)s, %(last_run)s, %(version)s, %(origin)s, %(created_at)s, %(updated_at)s
)
ON CONFLICT (id) DO NOTHING;

-- name: schedule_replace
UPDATE {schema}.schedules SET workflow = %(workflow)s, spec = %(spec)s, args = %(args)s,
       paused = %(paused)s, note = %(note)s, cursor = %(cursor)s, next_at = %(next_at)s,
       buffered = %(buffered)s, last_run = %(last_run)s, version = version + 1,
       origin = %(origin)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND version = %(expected)s;

-- name: schedule_get
SELECT id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
       origin, created_at, updated_at
FROM {schema}.schedules WHERE id = %(id)s;

-- name: schedule_list
SELECT id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
       origin, created_at, updated_at
FROM {schema}.schedules ORDER BY id;

-- name: schedule_due
SELECT id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
       origin, created_at, updated_at
FROM {schema}.schedules WHERE next_at <= %(now)s OR buffered IS NOT NULL
ORDER BY next_at LIMIT %(limit)s;

-- name: schedule_next
SELECT min(next_at) FROM {schema}.schedules;

-- name: schedule_advance
-- A row another transaction holds is being advanced by it: skipped (the compare-and-set
-- would fail once it commits), not waited for, so engines firing together never queue.
UPDATE {schema}.schedules SET cursor = %(cursor)s, next_at = %(next_at)s,
       buffered = %(buffered)s, last_run = %(last_run)s, paused = %(paused)s,
       note = %(note)s, version = version + 1, updated_at = %(at)s
WHERE id = (SELECT id FROM {schema}.schedules WHERE id = %(id)s AND version = %(expected)s
            FOR UPDATE SKIP LOCKED);

-- name: schedule_skip
INSERT INTO {schema}.schedule_skips (schedule_id, tick, reason, detail, recorded_at)
VALUES (%(id)s, %(tick)s, %(reason)s, %(detail)s, %(at)s)
ON CONFLICT (schedule_id, tick) DO NOTHING;

-- name: schedule_delete
WITH skips AS (DELETE FROM {schema}.schedule_skips WHERE schedule_id = %(id)s)
DELETE FROM {schema}.schedules WHERE id = %(id)s;

-- name: schedule_skips
SELECT tick, reason, detail, recorded_at FROM {schema}.schedule_skips
WHERE schedule_id = %(id)s ORDER BY tick DESC LIMIT %(limit)s;

-- name: schedule_notify
SELECT pg_notify(%(channel)s, %(wake)s), pg_notify(%(work_channel)s, '');
-- Requests and waits on several topics (durable/journal/postgres/requests.py) ----------

-- name: send_request
-- Returns (the run's status, NULL when there is none; the key's earlier request's state
-- and answer, if any; whether it was queued now).  Wakes a run parked in a wait.
WITH target AS (
    SELECT id, status FROM {schema}.runs WHERE id = %(run_id)s
),
prior AS (
    SELECT state, answer FROM {schema}.requests
    WHERE run_id = %(run_id)s AND request_key = %(key)s
),
ins AS (
    INSERT INTO {schema}.requests (run_id, name, request_key, value, sent_at, state)
    SELECT id, %(name)s, %(key)s, %(value)s, %(at)s, 'queued' FROM target
    WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (run_id, request_key) DO NOTHING
    RETURNING id
),
woken AS (
    UPDATE {schema}.runs SET wake_at = NULL
    WHERE id = %(run_id)s AND status = 'SLEEPING' AND EXISTS (SELECT 1 FROM ins)
    RETURNING id
)
SELECT (SELECT status FROM target), (SELECT state FROM prior), (SELECT answer FROM prior),
       (SELECT count(*) FROM ins), pg_notify(%(channel)s, %(run_id)s),
       (SELECT pg_notify(%(work_channel)s, '') FROM woken);

-- name: request_state
SELECT r.status, q.state, q.answer
FROM {schema}.runs r
LEFT JOIN {schema}.requests q ON q.run_id = r.id AND q.request_key = %(key)s
WHERE r.id = %(run_id)s;

-- name: withdraw_request
UPDATE {schema}.requests SET state = 'withdrawn'
WHERE run_id = %(run_id)s AND request_key = %(key)s AND state = 'queued';

-- name: list_requests
SELECT name, request_key, state, value, sent_at, taken_seq, taken_at, answer, answered_at
FROM {schema}.requests WHERE run_id = %(run_id)s ORDER BY id LIMIT %(limit)s;

-- name: take_request
-- Takes the oldest queued request of the entry's name and journals the entry with its
-- value, while the owner holds the run (NULL owner returned otherwise).  The request
-- this very entry took before (a retried write) is returned again.
WITH held AS (
    SELECT CASE WHEN %(expect)s::bigint IS NULL OR EXISTS (
               SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint
           ) THEN owner END AS owner
    FROM {schema}.runs WHERE id = %(run_id)s FOR SHARE
),
prior AS (
    SELECT value FROM {schema}.requests
    WHERE run_id = %(run_id)s AND taken_seq = %(seq)s AND taken_at = %(started_at)s
),
taken AS (
    UPDATE {schema}.requests SET state = 'taken', taken_seq = %(seq)s, taken_at = %(started_at)s
    WHERE id = (SELECT id FROM {schema}.requests
                WHERE run_id = %(run_id)s AND name = %(name)s AND state = 'queued'
                ORDER BY id LIMIT 1)
      AND state = 'queued'
      AND EXISTS (SELECT 1 FROM held WHERE owner = %(owner)s)
      AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING value
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT %(run_id)s, %(seq)s, %(ord)s, %(kind)s, %(name)s, %(status)s, %(fingerprint)s,
           value, %(error)s, %(attempts)s, %(started_at)s, %(finished_at)s, %(child_id)s
    FROM taken
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT (SELECT owner FROM held), coalesce((SELECT value FROM prior), (SELECT value FROM taken));

-- name: answer_request
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s
      AND (%(expect)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint))
    FOR SHARE
),
answered AS (
    UPDATE {schema}.requests SET state = %(state)s, answer = %(answer)s, answered_at = %(at)s
    WHERE run_id = %(run_id)s AND taken_seq = %(taken_seq)s AND taken_at = %(taken_at)s
      AND state = 'taken' AND EXISTS (SELECT 1 FROM held)
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT id, %(seq)s, %(ord)s, %(kind)s, %(name)s, %(status)s, %(fingerprint)s,
           %(output)s, %(error)s, %(attempts)s, %(started_at)s, %(finished_at)s, %(child_id)s
    FROM held
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT (SELECT count(*) FROM held), pg_notify(%(channel)s, %(run_id)s);

-- name: receive_any
-- `receive_message` over several topics: the entry's attempts is the taken message's
-- topic's position in %(topics)s, from 1.
WITH held AS (
    SELECT CASE WHEN %(expect)s::bigint IS NULL OR EXISTS (
               SELECT 1 FROM {schema}.entries WHERE run_id = %(run_id)s AND seq = %(expect)s::bigint
           ) THEN owner END AS owner
    FROM {schema}.runs WHERE id = %(run_id)s FOR SHARE
),
prior AS (
    SELECT topic, value FROM {schema}.messages
    WHERE run_id = %(run_id)s AND topic = ANY(%(topics)s::text[]) AND consumed_seq = %(seq)s
      AND consumed_at = %(started_at)s
),
taken AS (
    UPDATE {schema}.messages SET consumed_seq = %(seq)s, consumed_at = %(started_at)s
    WHERE id = (SELECT id FROM {schema}.messages
                WHERE run_id = %(run_id)s AND topic = ANY(%(topics)s::text[])
                  AND consumed_seq IS NULL
                ORDER BY id LIMIT 1)
      AND consumed_seq IS NULL
      AND EXISTS (SELECT 1 FROM held WHERE owner = %(owner)s)
      AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING topic, value
),
ins AS (
    INSERT INTO {schema}.entries (
        run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
        started_at, finished_at, child_id
    )
    SELECT %(run_id)s, %(seq)s, %(ord)s, %(kind)s, %(name)s, %(status)s, %(fingerprint)s,
           value, %(error)s, array_position(%(topics)s::text[], topic), %(started_at)s, %(finished_at)s, %(child_id)s
    FROM taken
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT (SELECT owner FROM held), coalesce((SELECT topic FROM prior), (SELECT topic FROM taken)),
       coalesce((SELECT value FROM prior), (SELECT value FROM taken));
-- Durable streams (durable/journal/postgres/streams.py) --------------------------------

-- name: stream_append
-- Nothing when the writer's chunk is there already (a replayed workflow's write); the
-- stream's row is locked until commit, so positions commit in order.
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s FOR SHARE
), fresh AS (
    SELECT id FROM held WHERE NOT EXISTS (
        SELECT 1 FROM {schema}.stream_chunks
        WHERE run_id = %(run_id)s AND key = %(key)s AND writer = %(writer)s)
), bumped AS (
    INSERT INTO {schema}.streams AS s (run_id, key, next_position)
    SELECT id, %(key)s, 1 FROM fresh
    ON CONFLICT (run_id, key) DO UPDATE SET next_position = s.next_position + 1
    RETURNING next_position - 1 AS position
), inserted AS (
    INSERT INTO {schema}.stream_chunks (
        run_id, key, position, writer, step, attempt, run_attempt, value, written_at)
    SELECT %(run_id)s, %(key)s, position, %(writer)s, %(step)s, %(attempt)s,
           %(run_attempt)s, %(value)s, %(at)s
    FROM bumped
    ON CONFLICT DO NOTHING
    RETURNING position
)
SELECT (SELECT count(*) FROM held), (SELECT position FROM inserted),
       pg_notify(%(channel)s, %(run_id)s);

-- name: stream_close
WITH held AS (
    SELECT id FROM {schema}.runs WHERE id = %(run_id)s AND owner = %(owner)s FOR SHARE
), closed AS (
    INSERT INTO {schema}.streams AS s (run_id, key, next_position, closed)
    SELECT id, %(key)s, 0, true FROM held
    ON CONFLICT (run_id, key) DO UPDATE SET closed = true
)
SELECT (SELECT count(*) FROM held), pg_notify(%(channel)s, %(run_id)s);

-- name: stream_read
SELECT position, step, attempt, run_attempt, value, written_at
FROM {schema}.stream_chunks
WHERE run_id = %(run_id)s AND key = %(key)s AND position >= %(offset)s
ORDER BY position
LIMIT %(limit)s;

-- name: stream_closed
SELECT closed FROM {schema}.streams WHERE run_id = %(run_id)s AND key = %(key)s;
-- Blob references (durable/journal/postgres/blobs.py): rows whose payload names a blob
-- key ("sha256/"), for prune and sweep to know which blobs are still referenced ------

-- name: blob_payloads
SELECT id, input FROM {schema}.runs WHERE position('\x7368613235362f'::bytea IN input) > 0
UNION ALL SELECT id, output FROM {schema}.runs WHERE position('\x7368613235362f'::bytea IN output) > 0
UNION ALL SELECT id, metadata FROM {schema}.runs WHERE position('\x7368613235362f'::bytea IN metadata) > 0
UNION ALL SELECT run_id, output FROM {schema}.entries WHERE position('\x7368613235362f'::bytea IN output) > 0
UNION ALL SELECT run_id, value FROM {schema}.messages WHERE position('\x7368613235362f'::bytea IN value) > 0
UNION ALL SELECT run_id, value FROM {schema}.events WHERE position('\x7368613235362f'::bytea IN value) > 0
UNION ALL SELECT '', value FROM {schema}.topic_records WHERE position('\x7368613235362f'::bytea IN value) > 0
UNION ALL SELECT run_id, input FROM {schema}.generations WHERE position('\x7368613235362f'::bytea IN input) > 0
UNION ALL SELECT run_id, output FROM {schema}.generation_entries WHERE position('\x7368613235362f'::bytea IN output) > 0
UNION ALL SELECT run_id, value FROM {schema}.requests WHERE position('\x7368613235362f'::bytea IN value) > 0
UNION ALL SELECT run_id, answer FROM {schema}.requests WHERE position('\x7368613235362f'::bytea IN answer) > 0
UNION ALL SELECT run_id, value FROM {schema}.stream_chunks WHERE position('\x7368613235362f'::bytea IN value) > 0;

-- The catalog of workflows (durable/journal/postgres/catalog.py) ------------------------

-- name: record_workflows
INSERT INTO {schema}.workflows (name, queue, seen_at, seen_by)
SELECT name, queue, %(at)s, %(seen_by)s
FROM unnest(%(names)s::text[], %(queues)s::text[]) AS w(name, queue)
ON CONFLICT (name) DO UPDATE SET
    queue = excluded.queue, seen_at = excluded.seen_at, seen_by = excluded.seen_by;

-- name: workflow_catalog
SELECT name, queue, seen_at, seen_by FROM {schema}.workflows
WHERE %(name)s::text IS NULL OR name = %(name)s ORDER BY name;
