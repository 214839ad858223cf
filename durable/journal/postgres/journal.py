"""`PostgresJournal`: the operations, each one statement (or a few in one round trip).

See the package docstring (`durable.journal.postgres`) for the write path, faults,
schema and wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg import sql as pg_sql

from durable import errors
from durable.journal import base, features, queries, records
from durable.journal.postgres import (
    blobs,
    catalog,
    connection,
    generations,
    holdings,
    listener,
    messages,
    owners,
    requests,
    schedules,
    schema,
    starts,
    streams,
    topics,
    transactions,
    writer,
)

__all__ = ["PostgresJournal"]

logger = logging.getLogger(__name__)


class PostgresJournal(
    blobs.PostgresBlobs,
    catalog.PostgresCatalog,
    generations.PostgresGenerations,
    topics.PostgresTopics,
    messages.PostgresMessages,
    starts.PostgresStarts,
    schedules.PostgresSchedules,
    requests.PostgresRequests,
    streams.PostgresStreams,
    features.Features,
):
    """A journal in a Postgres database (see the package docstring for the write path).

    Parameters
    ----------
    url:
        ``postgresql://user:password@host:port/dbname``; ``?schema=NAME`` picks the
        schema holding durable's tables (default ``durable``).
    durability:
        ``"process"``: a commit survives the client process and the server crashing
        (``synchronous_commit`` is raised to ``on`` where the server has it ``off``);
        ``"full"``: also raised from ``local``, so it reaches the disk before it counts.
    schema:
        The schema name (overrides ``?schema=``).
    pool_size:
        Most connections held for reads and `@durable.transaction` steps.
    """

    dialect = "postgres"
    _pool: connection.Pool
    _clock_offset: float

    @property
    def announces_work(self) -> bool:
        return True  # NOTIFY on the work channel

    @property
    def notifies_changes(self) -> bool:
        return True  # NOTIFY on the changed channel

    def now(self) -> float:
        """The server's clock, as last measured (`sync_clock`): leases are written and
        judged by it, so an engine whose clock is off takes no run that is not free."""
        return time.time() + self._clock_offset

    async def sync_clock(self) -> None:
        async def fn(conn: Any) -> float:
            sent = time.time()
            cur = await conn.execute("SELECT extract(epoch FROM clock_timestamp())")
            row = await cur.fetchone()
            received = time.time()
            return float(row[0]) - (sent + received) / 2  # the round trip's midpoint

        with contextlib.suppress(errors.JournalError):
            self._clock_offset = float(await self._pool.run("read the server's clock", fn))

    def __init__(
        self,
        url: str,
        *,
        durability: str = "process",
        schema: str | None = None,
        pool_size: int = 10,
    ) -> None:
        if durability not in ("process", "full"):
            raise ValueError("durability must be 'process' or 'full'")
        self.url = url
        self.conninfo, self.schema = connection.split_url(url, schema)
        self.durability = durability
        self.channel = f"{self.schema}.changed"
        self.work_channel = f"{self.schema}.work"
        quoted = pg_sql.Identifier(self.schema).as_string()
        self._q = {
            name: text.replace("{schema}", quoted)
            for name, text in queries.load_queries("postgres").items()
        }
        self._where = f"Postgres journal {connection.redact(url)!r}"
        self._clock_offset = 0.0  # the server's clock minus this machine's (`sync_clock`)
        self._budget = connection.Budget()  # how long retrying may go on (see `closing`)
        self._pool = connection.Pool(
            self.conninfo,
            self._where,
            self._q,
            size=pool_size,
            name=f"durable-{self.schema}",
            budget=self._budget,
        )
        self._holdings = holdings.Holdings(self._where, self._pool)
        self._transactions = transactions.TransactionSteps(
            self._q, self._pool, self._holdings, self.channel
        )
        self._writer = writer.GroupWriter(
            self._q, self._reconnect, self._where, self.channel, self._budget
        )
        self._changes = listener.ChangeListener(self.conninfo, self.channel, self.work_channel)
        self._closing: asyncio.Future[None] | None = None
        self._owners = owners.OwnerLocks(self._connect)

    # -- connection ---------------------------------------------------------------

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        await self._configure(conn)
        return conn

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._holdings.saw(await connection.configure(conn, self.durability))

    async def _reconnect(self) -> psycopg.AsyncConnection[Any]:
        """The writer's connection again, after a failure: the server may be another one
        now (a failover), whatever it says about itself."""
        changes = self._holdings.changes
        conn = await self._connect()
        if self._holdings.changes == changes:
            self._holdings.changed("the journal's connection was lost and is established again")
        return conn

    async def open(self) -> None:
        """Connect, then create or migrate the schema (under an advisory lock)."""
        try:
            conn = await self._connect()
        except psycopg.Error as exc:
            raise errors.JournalError(
                f"cannot connect to the Postgres journal {connection.redact(self.url)!r}: "
                f"{str(exc).strip()}; {connection.connect_hint(exc)}"
            ) from exc
        try:
            await schema.create_or_migrate(conn, self._q, self.schema, self._where)
        except BaseException:
            await conn.close()
            raise
        await self._pool.open(self._configure)
        self._writer.start(conn)
        self._changes.listen_if_watched()
        await self.sync_clock()

    async def register_owner(self, owner: str) -> None:
        """Hold `owner`'s advisory lock while this journal is open (see `owners`)."""
        try:
            await self._owners.hold(owner)
        except psycopg.Error as exc:
            raise self._pool.error("take the engine's advisory lock", exc, None) from exc

    async def owner_alive(self, owner: str) -> bool:
        """Whether the engine `owner` still has a session (its advisory lock is held)."""

        async def fn(conn: psycopg.AsyncConnection[Any]) -> bool:
            return await self._owners.alive(owner, conn)

        alive: bool = await self._pool.run("check an engine's advisory lock", fn)
        return alive

    def closing(self, grace: float) -> None:
        self._budget.closing(grace)

    async def close(self) -> None:
        """Commit what is queued, then disconnect."""
        await self._owners.release()
        await self._writer.close()
        await self._changes.close()
        await self._pool.close()

    def abandon(self) -> None:
        """Drop queued writes and connections without committing, as a killed process would."""
        held = self._owners.drop()
        self._locks_closing = asyncio.gather(*(lock_conn.close() for lock_conn in held))
        task, conn = self._writer.abandon()
        tasks = [t for t in (task, self._changes.abandon()) if t is not None]
        pool = self._pool.abandon()
        self._closing = asyncio.ensure_future(_shut(tasks, conn, pool))

    # -- runs ---------------------------------------------------------------------------

    async def create_run(self, run: base.NewRun) -> tuple[base.RunRecord, bool]:
        params = records.named(records.NEW_RUN_COLUMNS, records.new_run_values(run))
        params["work_channel"] = self.work_channel
        if run.owner is not None:
            self._holdings.claiming += 1
        try:
            if run.dedup_key is not None:
                record, created = await self.create_keyed_run(run)
            else:
                record, created = await self._create(run, params)
        finally:
            if run.owner is not None:
                self._holdings.claiming -= 1
        if run.owner is not None and record.owner == run.owner:
            self._holdings.hold(run.owner, run.id)
        return record, created

    async def _create(
        self, run: base.NewRun, params: dict[str, Any]
    ) -> tuple[base.RunRecord, bool]:
        def finish(rows: list[Any], rowcount: int, retried: bool) -> Any:
            return (rows[0] if rows else None), retried

        row, retried = await self._writer.write("create_run", params, finish)
        if row is None:  # the conflicting row committed after this statement's snapshot
            record = await self.get_run(run.id)
            assert record is not None
            return record, False
        record = records.run_from_row(row)
        created = bool(row[-1])
        if not created and retried:
            # the first attempt may have committed (its reply was lost with the connection)
            created = (record.created_at, record.owner, record.input) == (
                run.created_at,
                run.owner,
                run.input,
            )
        return record, created

    async def get_run(self, run_id: str) -> base.RunRecord | None:
        rows = await self._pool.read("read a run", "select_run", {"id": run_id}, run_id)
        return records.run_from_row(rows[0]) if rows else None

    async def list_runs(
        self,
        *,
        status: Sequence[base.Status] | None = None,
        name: str | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        limit: int = 100,
        before: tuple[float, str] | None = None,
    ) -> list[base.RunRecord]:
        params = {
            "statuses": [str(s) for s in status] if status else None,
            "name": name,
            "parent_id": parent_id,
            "root_id": root_id,
            "limit": limit,
            "before_at": None if before is None else before[0],
            "before_id": None if before is None else before[1],
        }
        rows = await self._pool.read("list runs", "list_runs", params)
        return [records.run_from_row(row) for row in rows]

    async def load(self, run_id: str) -> base.RunLoad | None:
        q, params = self._q, {"id": run_id}

        async def fn(conn: psycopg.AsyncConnection[Any]) -> list[list[Any]]:
            async with conn.pipeline():
                await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursors = [
                    await conn.execute(q[name], params)
                    for name in (
                        "select_run",
                        "select_entries",
                        "select_attempts",
                        "select_timers",
                        "current_generation",
                    )
                ]
                await conn.execute("COMMIT")
            return [await cur.fetchall() for cur in cursors]

        found, entries, attempts, timers, generation = await self._pool.run(
            "load the journal", fn, run_id
        )
        if not found:
            return None
        load = records.run_load(found[0], entries, attempts, timers)
        load.generation = generation[0][0]
        owner = load.run.owner
        if load.entries and owner is not None and self._holdings.holds(owner, run_id):
            # the latest entry read is known committed: the fence of the run's next write
            last = max(load.entries, key=lambda entry: (entry.ord, entry.seq))
            self._holdings.committed(owner, run_id, last.seq)
        return load

    # -- writes by the owner ------------------------------------------------------------

    async def append_entries(self, owner: str, entries: Sequence[base.EntryRecord]) -> None:
        if not entries:
            return
        last = {entry.run_id: entry.seq for entry in entries}
        expect: dict[str, int] = {}
        for run_id in last:
            seq = self._holdings.expect(owner, run_id)
            if seq is not None:
                expect[run_id] = seq
        try:
            await self._writer.submit(writer.Append(owner, list(entries), expect))
        except base.LeaseLost:
            for run_id in last:
                await self._holdings.diagnose(owner, run_id, expect.get(run_id))
            raise
        for run_id, seq in last.items():
            self._holdings.committed(owner, run_id, seq)

    async def _owner_write(
        self, name: str, params: dict[str, Any], owner: str, run_id: str
    ) -> None:
        """A write of `run_id` by its owner `owner`, fenced (see `holdings`)."""
        expect = params["expect"] = self._holdings.expect(owner, run_id)
        try:
            await self._writer.write(name, params, self._held(run_id))
        except base.LeaseLost:
            await self._holdings.diagnose(owner, run_id, expect)
            raise

    @staticmethod
    def _held(run_id: str) -> writer.Finish:
        def finish(rows: list[Any], rowcount: int, retried: bool) -> None:
            if not rows or not rows[0][0]:
                raise base.LeaseLost(run_id)

        return finish

    async def record_attempt(self, owner: str, attempt: base.AttemptRecord) -> None:
        params = records.named(records.ATTEMPT_COLUMNS, records.attempt_values(attempt))
        params["owner"] = owner
        await self._owner_write("insert_attempt", params, owner, attempt.run_id)

    async def set_timer(self, owner: str, timer: base.TimerRecord) -> None:
        params = records.named(records.TIMER_COLUMNS, records.timer_values(timer))
        params["owner"] = owner
        await self._owner_write("insert_timer", params, owner, timer.run_id)

    async def update_run(self, owner: str, update: base.RunUpdate) -> None:
        params = {
            "status": update.status.value,
            "output": update.output,
            "error": update.error,
            "wake_at": update.wake_at,
            "at": update.at,
            "finished": update.status in base.TERMINAL,
            "run_id": update.run_id,
            "owner": owner,
            "channel": self.channel,
        }
        await self._owner_write("update_run", params, owner, update.run_id)
        if update.status in base.TERMINAL:
            self._holdings.drop(update.run_id)

    def transaction(
        self, owner: str, run_id: str
    ) -> contextlib.AbstractAsyncContextManager[base.Transaction]:
        return self._transactions.run(owner, run_id)

    # -- ownership ----------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        run_id: str,
        *,
        expected_owner: str | None,
        lease_expires_at: float,
        limits: base.QueueLimits | None = None,
    ) -> base.RunRecord | None:
        params = {
            "owner": owner,
            "lease_expires_at": lease_expires_at,
            "now": time.time(),
            "id": run_id,
            "expected": expected_owner,
            "retried": False,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> base.RunRecord | None:
            return records.run_from_row(rows[0]) if rows else None

        self._holdings.claiming += 1
        try:
            if limits is not None:
                result = await self._claim_limited(params, limits)
            else:
                result = await self._writer.write("claim_run", params, finish)
        finally:
            self._holdings.claiming -= 1
        if result is not None:
            self._holdings.hold(owner, run_id)
        return result

    async def _claim_limited(
        self, params: dict[str, Any], limits: base.QueueLimits
    ) -> base.RunRecord | None:
        """A claim that respects its queue's limits: its own transaction, serialised per
        queue by an advisory lock, so no two processes both see room for one run."""
        load = {"queue": limits.queue, "id": params["id"], "since": time.time() - limits.period}

        async def fn(conn: psycopg.AsyncConnection[Any]) -> base.RunRecord | None:
            async with conn.transaction():
                await conn.execute(self._q["queue_lock"], load)
                cur = await conn.execute(self._q["queue_load"], load)
                row = await cur.fetchone()
                held, started, partition_held = row if row is not None else (0, 0, 0)
                if not limits.admits(held, started, partition_held):
                    return None
                cur = await conn.execute(self._q["claim_run"], params)
                rows = await cur.fetchall()
            return records.run_from_row(rows[0]) if rows else None

        result: base.RunRecord | None = await self._pool.run("claim a run", fn, params["id"])
        return result

    async def claimable(self, names: Sequence[str], *, limit: int = 1000) -> list[base.RunRecord]:
        rows = await self._pool.read(
            "list claimable runs",
            "claimable",
            {"names": list(names), "limit": limit, "now": time.time()},
        )
        return [records.run_from_row(row) for row in rows]

    async def claim_batch(
        self,
        owner: str,
        names: Sequence[str],
        *,
        limit: int,
        lease_expires_at: float,
        queues: Sequence[str] | None = None,
        skip_queues: Sequence[str] = (),
    ) -> list[base.RunRecord]:
        if limit <= 0 or not names:
            return []
        params = {
            "owner": owner,
            "names": list(names),
            "limit": limit,
            "lease_expires_at": lease_expires_at,
            "now": time.time(),
            "queues": None if queues is None else list(queues),
            "skip_queues": list(skip_queues),
            "retried": False,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> list[base.RunRecord]:
            return [records.run_from_row(row) for row in rows]

        self._holdings.claiming += 1
        try:
            claimed: list[base.RunRecord] = await self._writer.write("claim_batch", params, finish)
        finally:
            self._holdings.claiming -= 1
        for record in claimed:
            self._holdings.hold(owner, record.id)
        return base.by_priority(claimed)

    async def heartbeat(self, owner: str, lease_expires_at: float) -> int:
        await self._holdings.sweep(owner, self.release)
        params = {"owner": owner, "lease_expires_at": lease_expires_at}
        return int(
            await self._writer.write("heartbeat", params, lambda rows, count, retried: count)
        )

    async def release(self, owner: str, run_ids: Sequence[str] | None = None) -> None:
        if run_ids is None:
            params: dict[str, Any] = {"owner": owner, "work_channel": self.work_channel}
            await self._writer.write("release_all", params, _nothing)
            self._holdings.drop_owner(owner)
        elif run_ids:
            params = {"owner": owner, "ids": list(run_ids), "work_channel": self.work_channel}
            await self._writer.write("release_some", params, _nothing)
            for run_id in run_ids:
                self._holdings.drop(run_id)

    async def cancel_requested(self, owner: str) -> list[str]:
        rows = await self._pool.read("read cancellations", "cancel_requested", {"owner": owner})
        return [row[0] for row in rows]

    async def request_cancel(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            await self._writer.write("request_cancel", {"ids": list(run_ids)}, _nothing)

    async def reopen(self, run_id: str) -> int:
        params = {
            "id": run_id,
            "now": time.time(),
            "channel": self.channel,
            "work_channel": self.work_channel,
        }
        return int(
            await self._writer.write("reopen", params, lambda rows, count, retried: rows[0][0])
        )

    async def copy_entries(self, source_id: str, target_id: str, before_seq: int) -> int:
        params = {"source": source_id, "target": target_id, "before": before_seq}
        return int(
            await self._writer.write("copy_entries", params, lambda rows, count, retried: count)
        )

    # -- wake-ups -----------------------------------------------------------------------

    async def wait_changed(self, run_id: str, timeout: float | None = None) -> bool:
        """Wait until `run_id`'s status may have changed (True) or `timeout` passed (False).

        Woken by ``NOTIFY`` from `update_run` and `reopen`, also when the listening
        connection had to reconnect (changes may have been missed).  Callers re-read
        the run after it returns; a change between their read and this call is only
        seen at the timeout, so keep one.
        """
        return await self._changes.wait_changed(run_id, timeout)

    def watch(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(run_id)`` for every change notified from now on, and
        ``callback(None)`` whenever changes may have been missed (listening, which the
        first `wait_changed` starts, began or reconnected)."""
        self._changes.subscribe(callback)

    def watch_work(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` for every notification on the work channel (a run nobody
        holds was created, runs were released or reopened), and at each (re)connection;
        starts listening now."""
        self._changes.subscribe_work(callback)

    # -- export and prune ---------------------------------------------------------------

    async def list_finished(
        self, *, after: float, after_id: str = "", before: float | None = None, limit: int = 1000
    ) -> list[base.RunRecord]:
        params = {"after": after, "after_id": after_id, "before": before, "limit": limit}
        rows = await self._pool.read("list finished runs", "list_finished", params)
        return [records.run_from_row(row) for row in rows]

    async def delete_runs(self, runs: Sequence[tuple[str, float]]) -> int:
        if not runs:
            return 0
        params = {"ids": [r[0] for r in runs], "finished": [r[1] for r in runs]}
        return int(
            await self._writer.write("delete_runs", params, lambda rows, count, retried: rows[0][0])
        )


async def _shut(
    tasks: list[asyncio.Task[None]],
    conn: psycopg.AsyncConnection[Any] | None,
    pool: psycopg_pool.AsyncConnectionPool[Any] | None,
) -> None:
    """Close an abandoned journal's connections once its tasks have stopped using them."""
    await asyncio.gather(*tasks, return_exceptions=True)
    if conn is not None:
        await conn.close()
    if pool is not None:
        await pool.close()


def _nothing(rows: list[Any], rowcount: int, retried: bool) -> None:
    return None
