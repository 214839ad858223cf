-- Named queries of the SQLite journal.  Each block starts with `-- name: NAME`.

-- name: schema_exists
SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'durable_schema';

-- name: foreign_tables
SELECT count(*) FROM sqlite_master WHERE name LIKE 'durable\_%' ESCAPE '\';

-- name: schema_version
SELECT max(version) FROM durable_schema;

-- name: set_schema_version
INSERT INTO durable_schema (version) VALUES (?);

-- name: insert_run
INSERT INTO durable_runs (
    id, name, status, input, parent_id, parent_seq, root_id, queue, metadata,
    owner, lease_expires_at, priority, created_at, updated_at, attempt, started_at
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13,
          -- a run created by the engine that executes it is taken up at once: attempt 1
          CASE WHEN ?10 IS NULL THEN 0 ELSE 1 END,
          CASE WHEN ?10 IS NULL THEN NULL ELSE ?13 END)
ON CONFLICT (id) DO NOTHING;

-- name: select_run
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested
FROM durable_runs WHERE id = ?;

-- name: list_runs
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested
FROM durable_runs
WHERE (?1 IS NULL OR status IN (SELECT value FROM json_each(?1)))
  AND (?2 IS NULL OR name = ?2)
  AND (?3 IS NULL OR parent_id = ?3)
  AND (?5 IS NULL OR root_id = ?5)
  AND (?6 IS NULL OR created_at < ?6 OR (created_at = ?6 AND id < ?7))
ORDER BY created_at DESC, id DESC
LIMIT ?4;

-- name: select_entries
SELECT run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM durable_entries WHERE run_id = ? ORDER BY seq;

-- name: select_attempts
SELECT run_id, seq, attempt, error, failed_at, retry_at
FROM durable_attempts WHERE run_id = ? ORDER BY seq, attempt;

-- name: select_timers
SELECT run_id, seq, wake_at FROM durable_timers WHERE run_id = ? ORDER BY seq;

-- name: owns_run
SELECT owner FROM durable_runs WHERE id = ?;

-- name: insert_entry
INSERT INTO durable_entries (
    run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
    started_at, finished_at, child_id
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, seq) DO NOTHING;

-- name: insert_attempt
INSERT INTO durable_attempts (run_id, seq, attempt, error, failed_at, retry_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, seq, attempt) DO NOTHING;

-- name: insert_timer
INSERT INTO durable_timers (run_id, seq, wake_at) VALUES (?, ?, ?)
ON CONFLICT (run_id, seq) DO NOTHING;

-- name: update_run
UPDATE durable_runs
SET status = ?, output = coalesce(?, output), error = ?, wake_at = ?, updated_at = ?,
    started_at = coalesce(started_at, ?),
    finished_at = CASE WHEN ? THEN ? ELSE NULL END
WHERE id = ? AND owner IS ?;

-- name: claim_run
UPDATE durable_runs
SET owner = ?1, lease_expires_at = ?2, attempt = attempt + 1, updated_at = ?3,
    started_at = coalesce(started_at, ?3)
WHERE id = ?4 AND owner IS ?5 AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
RETURNING id;

-- name: queue_load
SELECT
  (SELECT count(*) FROM durable_runs
   WHERE queue = ?1 AND owner IS NOT NULL AND id <> ?3
     AND status IN ('PENDING', 'RUNNING', 'SLEEPING')),
  (SELECT count(*) FROM durable_runs WHERE queue = ?1 AND started_at >= ?2 AND id <> ?3);

-- name: claimable
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested
FROM durable_runs
WHERE status IN ('PENDING', 'RUNNING', 'SLEEPING')
  AND name IN (SELECT value FROM json_each(?1))
-- priority, plus one point per minute waited: low priority work is never starved
ORDER BY priority + (?3 - created_at) / 60.0 DESC, created_at, id
LIMIT ?2;

-- name: run_queue
SELECT queue FROM durable_runs WHERE id = ?;

-- name: claim_batch
-- Up to ?7 runnable runs nobody holds, highest priority (plus one point per minute
-- waited) first, then oldest; runs of the queues in ?6 (limited ones) are left to the
-- one-at-a-time claim that checks their limits.  The write lock makes it atomic.
-- A PENDING run becomes RUNNING here: its executor need not write that itself.
UPDATE durable_runs
SET owner = ?1, lease_expires_at = ?2, attempt = attempt + 1, updated_at = ?3,
    started_at = coalesce(started_at, ?3),
    status = CASE WHEN status = 'PENDING' THEN 'RUNNING' ELSE status END
WHERE id IN (
    SELECT id FROM durable_runs
    WHERE owner IS NULL AND status IN ('PENDING', 'RUNNING', 'SLEEPING')
      AND (status <> 'SLEEPING' OR coalesce(wake_at, 0) <= ?3)
      AND name IN (SELECT value FROM json_each(?4))
      AND (?5 IS NULL OR coalesce(queue, 'default') IN (SELECT value FROM json_each(?5)))
      AND coalesce(queue, '') NOT IN (SELECT value FROM json_each(?6))
    ORDER BY priority + (?3 - created_at) / 60.0 DESC, created_at, id
    LIMIT ?7)
RETURNING id;

-- name: heartbeat
UPDATE durable_runs SET lease_expires_at = ?
WHERE owner = ? AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: release_all
UPDATE durable_runs SET owner = NULL, lease_expires_at = NULL
WHERE owner = ? AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: release_one
UPDATE durable_runs SET owner = NULL, lease_expires_at = NULL
WHERE owner = ? AND id = ?;

-- name: request_cancel
UPDATE durable_runs SET cancel_requested = 1
WHERE id = ? AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: trailing_errors
SELECT seq, attempts, error, finished_at FROM durable_entries
WHERE run_id = ?1 AND status = 'error'
  AND ord > (SELECT coalesce(max(ord), -1) FROM durable_entries
             WHERE run_id = ?1 AND status = 'ok');

-- name: delete_entry
DELETE FROM durable_entries WHERE run_id = ? AND seq = ?;

-- name: reopen_run
UPDATE durable_runs
SET status = 'PENDING', error = NULL, output = NULL, finished_at = NULL,
    cancel_requested = 0, owner = NULL, lease_expires_at = NULL, updated_at = ?
WHERE id = ? AND status IN ('FAILED', 'CANCELLED');

-- name: copy_entries
INSERT INTO durable_entries (
    run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
    started_at, finished_at, child_id
)
SELECT ?1, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM durable_entries
WHERE run_id = ?2 AND seq < ?3
  AND ord < (SELECT coalesce(min(ord), 9223372036854775807) FROM durable_entries
             WHERE run_id = ?2 AND seq >= ?3)
ON CONFLICT (run_id, seq) DO NOTHING;

-- name: run_exists
SELECT 1 FROM durable_runs WHERE id = ?;

-- name: insert_message
INSERT INTO durable_messages (run_id, topic, value, sent_at, send_key)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (send_key) DO NOTHING;

-- name: take_message
UPDATE durable_messages SET consumed_seq = ?3
WHERE id = (SELECT id FROM durable_messages
            WHERE run_id = ?1 AND topic = ?2 AND consumed_seq IS NULL
            ORDER BY id LIMIT 1)
RETURNING value;

-- name: upsert_event
INSERT INTO durable_events (run_id, key, value, set_at) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at;

-- name: select_event
SELECT value FROM durable_events WHERE run_id = ? AND key = ?;

-- name: cancel_requested
SELECT id FROM durable_runs
WHERE owner = ? AND cancel_requested = 1 AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: list_finished
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested
FROM durable_runs
WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND finished_at IS NOT NULL
  AND (finished_at > ?1 OR (finished_at = ?1 AND id > ?2))
  AND (?3 IS NULL OR finished_at < ?3)
ORDER BY finished_at, id
LIMIT ?4;

-- name: delete_finished_run
DELETE FROM durable_runs
WHERE id = ? AND finished_at = ? AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

-- name: delete_run_entries
DELETE FROM durable_entries WHERE run_id = ?;

-- name: delete_run_attempts
DELETE FROM durable_attempts WHERE run_id = ?;

-- name: delete_run_timers
DELETE FROM durable_timers WHERE run_id = ?;

-- name: delete_run_messages
DELETE FROM durable_messages WHERE run_id = ?;

-- name: delete_run_events
DELETE FROM durable_events WHERE run_id = ?;

-- Topics and source offsets (durable/journal/sqlite_topics.py) -------------------------

-- name: topic_key_exists
SELECT 1 FROM durable_topic_records WHERE topic = ?1 AND key = ?2;

-- name: topic_bump
INSERT INTO durable_topics (topic, last_position) VALUES (?1, ?2)
ON CONFLICT (topic) DO UPDATE SET last_position = last_position + excluded.last_position
RETURNING last_position;

-- name: topic_insert
INSERT INTO durable_topic_records (topic, position, key, value, published_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT DO NOTHING;

-- name: topic_read
SELECT position, key, value FROM durable_topic_records
WHERE topic = ?1 AND position > ?2
ORDER BY position
LIMIT ?3;

-- name: offset_get
SELECT position FROM durable_source_offsets WHERE consumer = ?1 AND source = ?2;

-- name: offset_insert
INSERT INTO durable_source_offsets (consumer, source, position, updated_at)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT DO NOTHING;

-- name: offset_update
UPDATE durable_source_offsets SET position = ?3, updated_at = ?4
WHERE consumer = ?1 AND source = ?2 AND position = ?5;

-- name: fail_new_run
UPDATE durable_runs SET status = 'FAILED', error = ?2, finished_at = ?3, updated_at = ?3
WHERE id = ?1 AND status = 'PENDING' AND owner IS NULL;

-- Blob references (durable/journal/sqlite_blobs.py): rows whose payload names a blob key
-- ("sha256/"), for prune and sweep to know which blobs are still referenced --------

-- name: blob_payloads
SELECT id, input FROM durable_runs WHERE instr(input, X'7368613235362f') > 0
UNION ALL SELECT id, output FROM durable_runs WHERE instr(output, X'7368613235362f') > 0
UNION ALL SELECT id, metadata FROM durable_runs WHERE instr(metadata, X'7368613235362f') > 0
UNION ALL SELECT run_id, output FROM durable_entries WHERE instr(output, X'7368613235362f') > 0
UNION ALL SELECT run_id, value FROM durable_messages WHERE instr(value, X'7368613235362f') > 0
UNION ALL SELECT run_id, value FROM durable_events WHERE instr(value, X'7368613235362f') > 0
UNION ALL SELECT '', value FROM durable_topic_records WHERE instr(value, X'7368613235362f') > 0;
