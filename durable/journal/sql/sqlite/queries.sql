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
    owner, lease_expires_at, priority, created_at, updated_at, attempt, started_at,
    start_at, partition_key, dedup_key, detached
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13,
          -- a run created by the engine that executes it is taken up at once: attempt 1
          CASE WHEN ?10 IS NULL THEN 0 ELSE 1 END,
          CASE WHEN ?10 IS NULL THEN NULL ELSE ?13 END,
          ?14, ?15, ?16, ?17)
ON CONFLICT (id) DO NOTHING;

-- name: select_run
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
FROM durable_runs WHERE id = ?;

-- name: list_runs
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
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
  AND coalesce(start_at, 0) <= ?3  -- a delayed start is not taken before it is due
RETURNING id;

-- name: queue_load
SELECT
  (SELECT count(*) FROM durable_runs
   WHERE queue = ?1 AND owner IS NOT NULL AND id <> ?3
     AND status IN ('PENDING', 'RUNNING', 'SLEEPING')),
  (SELECT count(*) FROM durable_runs WHERE queue = ?1 AND started_at >= ?2 AND id <> ?3),
  -- the held runs of the claimed run's partition (0 for a run without a partition key)
  (SELECT count(*) FROM durable_runs AS p
   WHERE p.queue = ?1 AND p.owner IS NOT NULL AND p.id <> ?3
     AND p.status IN ('PENDING', 'RUNNING', 'SLEEPING')
     AND p.partition_key = (SELECT partition_key FROM durable_runs WHERE id = ?3));

-- name: claimable
SELECT id, name, status, input, output, error, parent_id, parent_seq, root_id, queue,
       metadata, attempt, owner, lease_expires_at, wake_at, priority, created_at,
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
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
      AND coalesce(start_at, 0) <= ?3
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
UPDATE durable_messages SET consumed_seq = ?3, consumed_at = ?4
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
       updated_at, started_at, finished_at, cancel_requested, start_at, partition_key,
       dedup_key, detached
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

-- Start options (durable/journal/sqlite_starts.py) -------------------------------------

-- name: run_by_dedup_key
SELECT id FROM durable_runs
WHERE dedup_key = ?1 AND status IN ('PENDING', 'RUNNING', 'SLEEPING');

-- name: next_start
SELECT min(start_at) FROM durable_runs
WHERE status = 'PENDING' AND start_at IS NOT NULL AND start_at > ?1 AND owner IS NULL
  AND name IN (SELECT value FROM json_each(?2));
-- name: delete_run_streams
DELETE FROM durable_streams WHERE run_id = ?;

-- name: delete_run_stream_chunks
DELETE FROM durable_stream_chunks WHERE run_id = ?;

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

-- Generations and step heartbeats (durable/journal/sqlite_generations.py) ----------------

-- name: current_generation
SELECT coalesce(max(generation), 0) + 1 FROM durable_generations WHERE run_id = ?;

-- name: archive_entries
INSERT OR IGNORE INTO durable_generation_entries (
    run_id, generation, seq, ord, kind, name, status, fingerprint, output, error, attempts,
    started_at, finished_at, child_id
)
SELECT run_id, ?2, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM durable_entries WHERE run_id = ?1;

-- name: archive_entry
INSERT OR IGNORE INTO durable_generation_entries (
    run_id, generation, seq, ord, kind, name, status, fingerprint, output, error, attempts,
    started_at, finished_at, child_id
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14);

-- name: insert_generation
-- a generation starts where the one before it ended (the first: when the run started)
INSERT INTO durable_generations (run_id, generation, input, started_at, ended_at, entries)
SELECT id, ?2, input,
       coalesce((SELECT max(ended_at) FROM durable_generations WHERE run_id = ?1),
                started_at, created_at),
       ?3,
       (SELECT count(*) FROM durable_generation_entries WHERE run_id = ?1 AND generation = ?2)
FROM durable_runs WHERE id = ?1;

-- name: clear_generation_entries
DELETE FROM durable_entries WHERE run_id = ?;

-- name: clear_generation_attempts
DELETE FROM durable_attempts WHERE run_id = ?;

-- name: clear_generation_timers
DELETE FROM durable_timers WHERE run_id = ?;

-- name: clear_generation_heartbeats
DELETE FROM durable_heartbeats WHERE run_id = ?;

-- name: retire_consumed_messages
-- a consumed message keeps its mark, but no longer one a new generation's seq can match
UPDATE durable_messages SET consumed_seq = -1 WHERE run_id = ? AND consumed_seq >= 0;

-- name: next_generation_input
UPDATE durable_runs SET input = ?1, wake_at = NULL, updated_at = ?2
WHERE id = ?3 AND owner = ?4;

-- name: select_generations
SELECT generation, started_at, ended_at, entries FROM durable_generations
WHERE run_id = ? ORDER BY generation;

-- name: select_generation_input
SELECT input FROM durable_generations WHERE run_id = ? AND generation = ?;

-- name: select_generation_entries
SELECT run_id, seq, ord, kind, name, status, fingerprint, output, error, attempts,
       started_at, finished_at, child_id
FROM durable_generation_entries WHERE run_id = ? AND generation = ? ORDER BY seq;

-- name: save_step_heartbeat
INSERT INTO durable_heartbeats (run_id, seq, attempt, details, beat_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, seq) DO UPDATE
SET attempt = excluded.attempt, details = excluded.details, beat_at = excluded.beat_at;

-- name: select_step_heartbeats
SELECT seq, attempt, details FROM durable_heartbeats WHERE run_id = ?;

-- name: delete_run_generations
DELETE FROM durable_generations WHERE run_id = ?;

-- name: delete_run_generation_entries
DELETE FROM durable_generation_entries WHERE run_id = ?;

-- name: delete_run_heartbeats
DELETE FROM durable_heartbeats WHERE run_id = ?;
-- name: schedule_insert
INSERT INTO durable_schedules (
    id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
    origin, created_at, updated_at
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (id) DO NOTHING;

-- name: schedule_replace
UPDATE durable_schedules SET workflow = ?2, spec = ?3, args = ?4, paused = ?5, note = ?6,
       cursor = ?7, next_at = ?8, buffered = ?9, last_run = ?10, version = version + 1,
       origin = ?12, updated_at = ?14
WHERE id = ?1 AND version = ?15;

-- name: schedule_get
SELECT id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
       origin, created_at, updated_at
FROM durable_schedules WHERE id = ?;

-- name: schedule_list
SELECT id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
       origin, created_at, updated_at
FROM durable_schedules ORDER BY id;

-- name: schedule_due
SELECT id, workflow, spec, args, paused, note, cursor, next_at, buffered, last_run, version,
       origin, created_at, updated_at
FROM durable_schedules WHERE next_at <= ?1 OR buffered IS NOT NULL
ORDER BY next_at LIMIT ?2;

-- name: schedule_next
SELECT min(next_at) FROM durable_schedules;

-- name: schedule_advance
UPDATE durable_schedules SET cursor = ?2, next_at = ?3, buffered = ?4, last_run = ?5,
       paused = ?6, note = ?7, version = version + 1, updated_at = ?8
WHERE id = ?1 AND version = ?9;

-- name: schedule_skip
INSERT INTO durable_schedule_skips (schedule_id, tick, reason, detail, recorded_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (schedule_id, tick) DO NOTHING;

-- name: schedule_delete
DELETE FROM durable_schedules WHERE id = ?;

-- name: schedule_delete_skips
DELETE FROM durable_schedule_skips WHERE schedule_id = ?;

-- name: schedule_skips
SELECT tick, reason, detail, recorded_at FROM durable_schedule_skips
WHERE schedule_id = ?1 ORDER BY tick DESC LIMIT ?2;
-- Requests and waits on several topics (durable/journal/sqlite_requests.py) -------------

-- name: run_status
SELECT status FROM durable_runs WHERE id = ?;

-- name: message_key_exists
SELECT 1 FROM durable_messages WHERE send_key = ?;

-- name: wake_waiting
-- A run parked in a wait (SLEEPING) is due at once: the news may be what it waits for.
UPDATE durable_runs SET wake_at = NULL WHERE id = ? AND status = 'SLEEPING';

-- name: request_state
SELECT r.status, q.state, q.answer
FROM durable_runs r LEFT JOIN durable_requests q ON q.run_id = r.id AND q.request_key = ?2
WHERE r.id = ?1;

-- name: insert_request
INSERT INTO durable_requests (run_id, name, request_key, value, sent_at, state)
VALUES (?, ?, ?, ?, ?, 'queued')
ON CONFLICT (run_id, request_key) DO NOTHING;

-- name: take_request
UPDATE durable_requests SET state = 'taken', taken_seq = ?3, taken_at = ?4
WHERE id = (SELECT id FROM durable_requests
            WHERE run_id = ?1 AND name = ?2 AND state = 'queued'
            ORDER BY id LIMIT 1)
RETURNING value;

-- name: answer_request
UPDATE durable_requests SET state = ?4, answer = ?5, answered_at = ?6
WHERE run_id = ?1 AND taken_seq = ?2 AND taken_at = ?3 AND state = 'taken';

-- name: withdraw_request
UPDATE durable_requests SET state = 'withdrawn'
WHERE run_id = ? AND request_key = ? AND state = 'queued';

-- name: list_requests
SELECT name, request_key, state, value, sent_at, taken_seq, taken_at, answer, answered_at
FROM durable_requests WHERE run_id = ? ORDER BY id LIMIT ?;

-- name: take_any_message
UPDATE durable_messages SET consumed_seq = ?3, consumed_at = ?4
WHERE id = (SELECT id FROM durable_messages
            WHERE run_id = ?1 AND topic IN (SELECT value FROM json_each(?2))
              AND consumed_seq IS NULL
            ORDER BY id LIMIT 1)
RETURNING topic, value;

-- name: delete_run_requests
DELETE FROM durable_requests WHERE run_id = ?;
-- Durable streams (durable/journal/sqlite_streams.py) ----------------------------------

-- name: stream_writer_exists
SELECT position FROM durable_stream_chunks WHERE run_id = ?1 AND key = ?2 AND writer = ?3;

-- name: stream_bump
INSERT INTO durable_streams (run_id, key, next_position) VALUES (?1, ?2, 1)
ON CONFLICT (run_id, key) DO UPDATE SET next_position = next_position + 1
RETURNING next_position - 1;

-- name: stream_insert
INSERT INTO durable_stream_chunks (
    run_id, key, position, writer, step, attempt, run_attempt, value, written_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);

-- name: stream_close
INSERT INTO durable_streams (run_id, key, next_position, closed) VALUES (?1, ?2, 0, 1)
ON CONFLICT (run_id, key) DO UPDATE SET closed = 1;

-- name: stream_read
SELECT position, step, attempt, run_attempt, value, written_at
FROM durable_stream_chunks
WHERE run_id = ?1 AND key = ?2 AND position >= ?3
ORDER BY position
LIMIT ?4;

-- name: stream_closed
SELECT closed FROM durable_streams WHERE run_id = ?1 AND key = ?2;
-- Blob references (durable/journal/sqlite_blobs.py): rows whose payload names a blob key
-- ("sha256/"), for prune and sweep to know which blobs are still referenced --------

-- name: blob_payloads
SELECT id, input FROM durable_runs WHERE instr(input, X'7368613235362f') > 0
UNION ALL SELECT id, output FROM durable_runs WHERE instr(output, X'7368613235362f') > 0
UNION ALL SELECT id, metadata FROM durable_runs WHERE instr(metadata, X'7368613235362f') > 0
UNION ALL SELECT run_id, output FROM durable_entries WHERE instr(output, X'7368613235362f') > 0
UNION ALL SELECT run_id, value FROM durable_messages WHERE instr(value, X'7368613235362f') > 0
UNION ALL SELECT run_id, value FROM durable_events WHERE instr(value, X'7368613235362f') > 0
UNION ALL SELECT '', value FROM durable_topic_records WHERE instr(value, X'7368613235362f') > 0
UNION ALL SELECT run_id, input FROM durable_generations WHERE instr(input, X'7368613235362f') > 0
UNION ALL SELECT run_id, output FROM durable_generation_entries WHERE instr(output, X'7368613235362f') > 0
UNION ALL SELECT run_id, value FROM durable_requests WHERE instr(value, X'7368613235362f') > 0
UNION ALL SELECT run_id, answer FROM durable_requests WHERE instr(answer, X'7368613235362f') > 0
UNION ALL SELECT run_id, value FROM durable_stream_chunks WHERE instr(value, X'7368613235362f') > 0;

-- The catalog of workflows (durable/journal/sqlite_catalog.py) -------------------------

-- name: record_workflow
INSERT INTO durable_workflows (name, queue, seen_at, seen_by) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    queue = excluded.queue, seen_at = excluded.seen_at, seen_by = excluded.seen_by;

-- name: workflow_catalog
SELECT name, queue, seen_at, seen_by FROM durable_workflows
WHERE ?1 IS NULL OR name = ?1 ORDER BY name;
