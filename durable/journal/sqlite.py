"""The SQLite journal: one file, WAL, writes committed in groups from the event loop's thread
(`durable.journal.sqlite_writer`, which says why).

`@durable.transaction` steps get their own aiosqlite connection, because their
transaction stays open while the user's code awaits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import aiosqlite

from durable import errors
from durable.journal import (
    backoff,
    base,
    features,
    local_bus,
    migration,
    queries,
    records,
    sqlite_access,
    sqlite_blobs,
    sqlite_catalog,
    sqlite_generations,
    sqlite_messages,
    sqlite_requests,
    sqlite_schedules,
    sqlite_schema,
    sqlite_starts,
    sqlite_streams,
    sqlite_topics,
    sqlite_writer,
)

__all__ = ["SqliteJournal", "path_from_url"]

logger = logging.getLogger(__name__)

_Q = queries.load_queries("sqlite")
_T = TypeVar("_T")
# the tables holding a run's rows besides durable_runs (deleted with it by `prune`)
_RUN_TABLES = (
    "entries",
    "attempts",
    "timers",
    "messages",
    "events",
    "requests",
    "streams",
    "stream_chunks",
    *sqlite_generations.RUN_TABLES,
)


def path_from_url(url: str) -> str:
    """``sqlite:///rel.db`` → ``rel.db``; ``sqlite:////abs.db`` → ``/abs.db``; memory → URI."""
    rest = url.split("://", 1)[1] if "://" in url else url
    if rest in (":memory:", "/:memory:", ""):
        return f"file:durable-{uuid.uuid4().hex}?mode=memory&cache=shared"
    if rest.startswith("/"):
        rest = rest[1:]
    return rest


@contextlib.contextmanager
def _mapped(action: str, url: str, workflow_id: str | None = None) -> Iterator[None]:
    """Translate sqlite3 errors into `JournalError`, chained."""
    try:
        yield
    except sqlite3.Error as exc:
        raise errors.JournalError(
            f"SQLite journal {url!r} failed to {action}: {exc}; check that the file and its "
            "folder exist, are writable and are not held by another program",
            workflow_id=workflow_id,
        ) from exc


class SqliteJournal(
    sqlite_blobs.SqliteBlobs,
    sqlite_catalog.SqliteCatalog,
    sqlite_generations.SqliteGenerations,
    sqlite_topics.SqliteTopics,
    sqlite_messages.SqliteMessages,
    sqlite_starts.SqliteStarts,
    sqlite_schedules.SqliteSchedules,
    sqlite_requests.SqliteRequests,
    sqlite_streams.SqliteStreams,
    features.Features,
):
    """A journal in one SQLite file (see the module docstring for the write path)."""

    dialect = "sqlite"

    @property
    def announces_work(self) -> bool:
        return self._bus is not None

    @property
    def notifies_changes(self) -> bool:
        return self._bus is not None

    def __init__(self, url: str, *, durability: str = "process") -> None:
        if durability not in ("process", "full"):
            raise ValueError("durability must be 'process' or 'full'")
        self.url = url
        self.path = path_from_url(url)
        self.durability = durability
        self._conn: sqlite3.Connection | None = None
        self._writer = sqlite_writer.GroupWriter(url, lambda: self._conn)
        # wake-ups for the other processes on this machine (none for a memory database)
        memory = self.path.startswith("file:") and "mode=memory" in self.path
        self._bus = None if memory else local_bus.LocalBus(self.path)
        self._watchers: list[Callable[[str | None], None]] = []
        self._work_watchers: list[Callable[[], None]] = []
        self._inspect = False
        self._read_only = False

    # -- connection -------------------------------------------------------------

    async def _connect(self) -> sqlite3.Connection:
        return sqlite_access.connect(
            self.path, durability=self.durability, read_only=self.read_only, url=self.url
        )

    async def _when_free(self, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """`attempt()`, retried for up to `BUSY_LIMIT` seconds while the file is locked:
        switching a new file to WAL while another process does the same fails at once
        with "database is locked", without calling the busy handler (which the migration's
        write transaction does not wait on either, see `sqlite_writer`)."""
        wait = backoff.Backoff(0.005, 0.1, limit=sqlite_writer.BUSY_LIMIT)
        while True:
            try:
                return await attempt()
            except sqlite3.OperationalError as exc:
                if not sqlite_writer.is_locked(exc) or wait.expired:
                    raise
            await wait.wait()

    @property
    def read_only(self) -> bool:
        return self._read_only

    def allow_read_only(self) -> None:
        """Open a journal that cannot be written read-only, instead of refusing it."""
        self._inspect = True

    async def open(self) -> None:
        """Connect, then create or migrate the schema; start hearing other processes.

        A journal that cannot be written (`sqlite_access`) is refused, or opened
        read-only after `allow_read_only`.
        """
        reason = sqlite_access.read_only_reason(self.path)
        if reason and not self._inspect:
            raise errors.JournalError(
                f"SQLite journal {self.url!r} is read-only{reason}: an engine that starts or "
                "executes runs must write to it. Make it writable (remount the file system "
                "read-write, fix its permissions), or inspect it as it is "
                "with `durable list`, `show`, `history` or `replay`, which open it read-only"
            )
        self._read_only = bool(reason)
        self._writer.read_only = reason or None
        if self._read_only and self._bus is not None:
            self._bus = None  # nobody to wake: this engine writes nothing
        try:
            self._conn = await self._when_free(self._connect)
            if self._read_only:
                sqlite_access.check_schema(self._conn, self.url)
            else:
                await self._when_free(self._migrate)
            if self._bus is not None:
                for callback in self._watchers:
                    self._bus.on_change(callback)
                for work in self._work_watchers:
                    self._bus.on_work(work)
        except (sqlite3.Error, errors.JournalError) as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._bus is not None:
                self._bus.close()
            if isinstance(exc, errors.JournalError) and exc.__cause__ is None:
                raise
            raise errors.JournalError(
                f"cannot open SQLite journal {self.url!r}: {exc.__cause__ or exc}"
                f"{sqlite_access.read_only_reason(self.path)}; the journal needs a writable "
                "file in a writable folder (WAL mode creates -wal and -shm files beside it)"
            ) from exc

    async def _migrate(self) -> None:
        """Create or migrate the schema in one write transaction (see `migration`)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            await migration.migrate(sqlite_schema.Schema(conn, self), "sqlite")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        """Flush what is pending, then close."""
        await self._writer.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._bus is not None:
            self._bus.close()

    def watch(self, callback: Callable[[str | None], None]) -> None:
        """Hear of runs changed by other processes on this machine (`local_bus`)."""
        self._watchers.append(callback)
        if self._bus is not None and self._conn is not None:
            self._bus.on_change(callback)

    def watch_work(self, callback: Callable[[], None]) -> None:
        """Hear of runnable work announced by other processes on this machine."""
        self._work_watchers.append(callback)
        if self._bus is not None and self._conn is not None:
            self._bus.on_work(callback)

    def _announce(self, run_id: str | None, *, work: bool = False) -> None:
        if run_id is not None:  # heard here too, as LISTEN hears its own session's NOTIFY
            for callback in self._watchers:
                callback(run_id)
        if self._bus is not None:
            if run_id is not None:
                self._bus.announce_change(run_id)
            if work:
                self._bus.announce_work()

    def abandon(self) -> None:
        """Drop pending writes and the connection, as a killed process would."""
        if self._bus is not None:
            self._bus.close(unlink=False)
        self._writer.abandon()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise errors.JournalError(f"SQLite journal {self.url!r} is not open (or was closed)")
        return self._conn

    # -- reads and owner checks --------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with _mapped("read", self.url):
            return self.conn.execute(sql, params).fetchall()

    def _check_owner(self, conn: sqlite3.Connection, owner: str, run_id: str) -> None:
        row = conn.execute(_Q["owns_run"], (run_id,)).fetchone()
        if row is None or row[0] != owner:
            raise base.LeaseLost(run_id)

    # -- runs -------------------------------------------------------------------

    async def create_run(self, run: base.NewRun) -> tuple[base.RunRecord, bool]:
        if run.dedup_key is not None:
            return await self.create_keyed_run(run)

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(_Q["insert_run"], records.new_run_values(run)).rowcount == 1

        if await self._writer.write(op, run=run.id):
            self._announce(run.id, work=run.owner is None)
            return records.created_run(run), True
        record = await self.get_run(run.id)
        assert record is not None
        return record, False

    async def get_run(self, run_id: str) -> base.RunRecord | None:
        found = self._read(_Q["select_run"], (run_id,))
        return records.run_from_row(found[0]) if found else None

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
        statuses = json.dumps([str(s) for s in status]) if status else None
        at, last = before if before is not None else (None, None)
        found = self._read(_Q["list_runs"], (statuses, name, parent_id, limit, root_id, at, last))
        return [records.run_from_row(row) for row in found]

    async def load(self, run_id: str) -> base.RunLoad | None:
        with _mapped("load the journal", self.url, run_id):
            conn = self.conn
            conn.execute("BEGIN")
            try:
                run = conn.execute(_Q["select_run"], (run_id,)).fetchone()
                if run is None:
                    return None
                load = records.run_load(
                    run,
                    conn.execute(_Q["select_entries"], (run_id,)),
                    conn.execute(_Q["select_attempts"], (run_id,)),
                    conn.execute(_Q["select_timers"], (run_id,)),
                )
                load.generation = conn.execute(_Q["current_generation"], (run_id,)).fetchone()[0]
                return load
            finally:
                conn.execute("COMMIT")

    # -- writes by the owner ----------------------------------------------------

    async def append_entries(self, owner: str, entries: Sequence[base.EntryRecord]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            checked: set[str] = set()
            for entry in entries:
                if entry.run_id not in checked:
                    self._check_owner(conn, owner, entry.run_id)
                    checked.add(entry.run_id)
                conn.execute(_Q["insert_entry"], records.entry_values(entry))

        await self._writer.write(op, entries[0].run_id if entries else None)
        for run_id in dict.fromkeys(entry.run_id for entry in entries):
            self._announce(run_id)  # a new entry is news for its watchers (the HTTP stream)

    async def record_attempt(self, owner: str, attempt: base.AttemptRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, attempt.run_id)
            conn.execute(_Q["insert_attempt"], records.attempt_values(attempt))

        await self._writer.write(op, run=attempt.run_id)

    async def set_timer(self, owner: str, timer: base.TimerRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, timer.run_id)
            conn.execute(_Q["insert_timer"], records.timer_values(timer))

        await self._writer.write(op, run=timer.run_id)

    async def update_run(self, owner: str, update: base.RunUpdate) -> None:
        finished = update.status in base.TERMINAL

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                _Q["update_run"],
                (
                    update.status.value,
                    update.output,
                    update.error,
                    update.wake_at,
                    update.at,
                    update.at,
                    finished,
                    update.at,
                    update.run_id,
                    owner,
                ),
            )
            if cur.rowcount != 1:
                raise base.LeaseLost(update.run_id)
            if finished:  # a run of a queue that ends frees room in it: workers may claim
                row = conn.execute(_Q["run_queue"], (update.run_id,)).fetchone()
                return row is not None and row[0] is not None
            return False

        frees_room = await self._writer.write(op, run=update.run_id)
        self._announce(update.run_id, work=bool(frees_room))

    @contextlib.asynccontextmanager
    async def transaction(self, owner: str, run_id: str) -> AsyncIterator[base.Transaction]:
        try:
            db = await aiosqlite.connect(
                self.path, isolation_level=None, uri=self.path.startswith("file:")
            )
        except sqlite3.Error as exc:
            raise errors.JournalError(
                f"cannot open a transaction on {self.url!r}: {exc}", workflow_id=run_id
            ) from exc
        try:
            with _mapped("begin a transaction", self.url, run_id):
                await db.execute(f"PRAGMA busy_timeout={int(sqlite_writer.BUSY_LIMIT * 1000)}")
                await db.execute("BEGIN IMMEDIATE")
            tx = base.Transaction(sqlite_schema.TxConnection(db))
            try:
                yield tx  # the user's statements: their errors reach the step unchanged
                with _mapped("commit a transaction step", self.url, run_id):
                    cursor = await db.execute(_Q["owns_run"], (run_id,))
                    row = await cursor.fetchone()
                    if row is None or row[0] != owner:
                        raise base.LeaseLost(run_id)
                    if tx.entry is not None:
                        await db.execute(_Q["insert_entry"], records.entry_values(tx.entry))
                    await db.execute("COMMIT")
                self._announce(run_id)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise
        finally:
            await db.close()

    # -- ownership ----------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        run_id: str,
        *,
        expected_owner: str | None,
        lease_expires_at: float,
        limits: base.QueueLimits | None = None,
    ) -> base.RunRecord | None:
        def op(conn: sqlite3.Connection) -> bool:
            # the write transaction holds SQLite's one write lock: count and claim atomically
            if limits is not None and not _within(conn, limits, run_id):
                return False
            row = conn.execute(
                _Q["claim_run"], (owner, lease_expires_at, time.time(), run_id, expected_owner)
            ).fetchone()
            return row is not None

        if not await self._writer.write(op, run=run_id):
            return None
        return await self.get_run(run_id)

    async def claimable(self, names: Sequence[str], *, limit: int = 1000) -> list[base.RunRecord]:
        found = self._read(_Q["claimable"], (json.dumps(list(names)), limit, time.time()))
        return [records.run_from_row(row) for row in found]

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
        def op(conn: sqlite3.Connection) -> list[base.RunRecord]:
            params = (
                owner,
                lease_expires_at,
                time.time(),
                json.dumps(list(names)),
                None if queues is None else json.dumps(list(queues)),
                json.dumps(list(skip_queues)),
                limit,
            )
            ids = [row[0] for row in conn.execute(_Q["claim_batch"], params).fetchall()]
            return [
                records.run_from_row(conn.execute(_Q["select_run"], (i,)).fetchone()) for i in ids
            ]

        if limit <= 0 or not names:
            return []
        claimed: list[base.RunRecord] = await self._writer.write(op)
        return base.by_priority(claimed)

    async def heartbeat(self, owner: str, lease_expires_at: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(_Q["heartbeat"], (lease_expires_at, owner)).rowcount

        return int(await self._writer.write(op))

    async def release(self, owner: str, run_ids: Sequence[str] | None = None) -> None:
        def op(conn: sqlite3.Connection) -> None:
            if run_ids is None:
                conn.execute(_Q["release_all"], (owner,))
            else:
                for run_id in run_ids:
                    conn.execute(_Q["release_one"], (owner, run_id))

        await self._writer.write(op)
        self._announce(None, work=True)

    async def cancel_requested(self, owner: str) -> list[str]:
        return [row[0] for row in self._read(_Q["cancel_requested"], (owner,))]

    async def request_cancel(self, run_ids: Sequence[str]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            for run_id in run_ids:
                conn.execute(_Q["request_cancel"], (run_id,))

        await self._writer.write(op)
        for run_id in run_ids:
            self._announce(run_id)

    async def reopen(self, run_id: str) -> int:
        def op(conn: sqlite3.Connection) -> int:
            moved = conn.execute(_Q["trailing_errors"], (run_id,)).fetchall()
            for seq, attempts, error, finished_at in moved:
                conn.execute(
                    _Q["insert_attempt"], (run_id, seq, attempts, error, finished_at, finished_at)
                )
                conn.execute(_Q["delete_entry"], (run_id, seq))
            conn.execute(_Q["reopen_run"], (time.time(), run_id))
            return len(moved)

        moved = int(await self._writer.write(op, run=run_id))
        self._announce(run_id, work=True)
        return moved

    async def copy_entries(self, source_id: str, target_id: str, before_seq: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(_Q["copy_entries"], (target_id, source_id, before_seq)).rowcount

        return int(await self._writer.write(op, run=target_id))

    async def list_finished(
        self, *, after: float, after_id: str = "", before: float | None = None, limit: int = 1000
    ) -> list[base.RunRecord]:
        found = self._read(_Q["list_finished"], (after, after_id, before, limit))
        return [records.run_from_row(row) for row in found]

    async def delete_runs(self, runs: Sequence[tuple[str, float]]) -> int:
        def op(conn: sqlite3.Connection) -> int:
            deleted = 0
            for run_id, finished_at in runs:
                if conn.execute(_Q["delete_finished_run"], (run_id, finished_at)).rowcount:
                    deleted += 1
                    for table in _RUN_TABLES:
                        conn.execute(_Q[f"delete_run_{table}"], (run_id,))
            return deleted

        return int(await self._writer.write(op))


def _within(conn: sqlite3.Connection, limits: base.QueueLimits, run_id: str) -> bool:
    held, started, partition_held = conn.execute(
        _Q["queue_load"], (limits.queue, time.time() - limits.period, run_id)
    ).fetchone()
    return limits.admits(held, started, partition_held)
