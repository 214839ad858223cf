"""Group commit for the SQLite journal, in the event loop's thread.

Why writes run in the loop's thread: a WAL commit with ``synchronous=NORMAL`` takes
tens of microseconds, less than a hop to a worker thread and back.  Writes submitted
in the same loop iteration share one transaction (group commit), so many runs'
entries cost one commit; a write alone commits at once.  The connection never waits
on SQLite's busy handler (that would block the loop): when another process holds the
write lock, the group is retried with a short asynchronous backoff, for at most
`BUSY_LIMIT` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from durable import errors
from durable.journal import base

__all__ = ["BUSY_LIMIT", "GroupWriter", "Op", "is_locked"]

BUSY_LIMIT = 30.0

Op = Callable[[sqlite3.Connection], Any]
_Pending = tuple[Op, "asyncio.Future[Any]", str | None]


def is_locked(exc: sqlite3.Error) -> bool:
    """Whether `exc` says another connection holds the lock (worth retrying)."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


class GroupWriter:
    """The write path of one `SqliteJournal` (see the module docstring).

    `connection()` is the journal's open connection, or None once it is closed.
    """

    def __init__(self, url: str, connection: Callable[[], sqlite3.Connection | None]) -> None:
        self._url = url
        self._connection = connection
        self._pending: list[_Pending] = []
        self._flush_handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._busy_since: float | None = None
        # Adaptive commit: alone, a write commits at once (no loop hop); when writes
        # arrive together, they are grouped into one commit per loop iteration.
        self._eager = True
        self._eager_marker: asyncio.Handle | None = None
        self._eager_key: str | None = None
        self._single_flushes = 0
        # why the journal was opened read-only (`sqlite_access`), None when it was not
        self.read_only: str | None = None

    def write(
        self, op: Op, key: str | None = None, *, run: str | None = None
    ) -> asyncio.Future[Any]:
        """Run ``op(conn)`` in a write transaction; the future gets its result once
        committed.  `key` (a run id) lets a run's consecutive writes commit eagerly;
        `run` (default `key`) is the run a failed commit's error names."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        run = run or key
        if self._connection() is None:  # closed or abandoned: fail here, not in a callback
            future.set_exception(
                errors.JournalError(
                    f"SQLite journal {self._url!r} is not open (or was closed)", workflow_id=run
                )
            )
            return future
        if self.read_only is not None:
            future.set_exception(
                errors.JournalError(
                    f"SQLite journal {self._url!r} was opened read-only{self.read_only} to "
                    f"be inspected: no write{_of(run)} can be made. Make it writable, then "
                    "open an engine on it again",
                    workflow_id=run,
                )
            )
            return future
        self._pending.append((op, future, run))
        if self._eager and self._flush_handle is None:
            if self._eager_marker is None:
                self._eager_marker = loop.call_soon(self._end_of_iteration)
                self._eager_key = key
            if key is not None and key == self._eager_key:
                self._flush()
                return future
            self._eager = False  # two runs write in one loop iteration: group from now on
        if self._flush_handle is None:
            self._flush_handle = loop.call_soon(self._flush)
        return future

    async def close(self) -> None:
        """Commit everything pending (retrying while the file is locked)."""
        while self._pending or self._flush_handle is not None:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
            self._flush()
            if self._pending:
                await asyncio.sleep(0.005)

    def abandon(self) -> None:
        """Drop pending writes without committing them, as a killed process would."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for _, future, _ in self._pending:
            future.cancel()
        self._pending = []

    def _open_connection(self) -> sqlite3.Connection:
        conn = self._connection()
        if conn is None:
            raise errors.JournalError(f"SQLite journal {self._url!r} is not open (or was closed)")
        return conn

    def _end_of_iteration(self) -> None:
        self._eager_marker = None
        self._eager_key = None

    def _flush(self) -> None:
        self._flush_handle = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        self._single_flushes = self._single_flushes + 1 if len(batch) == 1 else 0
        if self._single_flushes > 8:
            self._eager = True
        conn = self._open_connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if is_locked(exc) and self._retry_later(batch):
                return
            self._fail(batch, exc)
            return
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            for op, future, _ in batch:
                try:
                    results.append((future, op(conn), None))
                except (base.LeaseLost, errors.DurableError) as exc:
                    results.append((future, None, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if is_locked(exc) and self._retry_later(batch):
                return
            self._fail(batch, exc)
            return
        self._busy_since = None
        for future, value, error in results:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def _retry_later(self, batch: list[_Pending]) -> bool:
        # not `backoff.Backoff`: the wait grows with how long the lock has been busy
        # (1 ms, reaching 50 ms after 2.5 s), not by doubling per try, because the lock
        # is mostly held for one commit of another process, a matter of milliseconds
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
        if now - self._busy_since > BUSY_LIMIT:
            return False
        self._pending = batch + self._pending
        if self._flush_handle is None:
            delay = min(0.05, 0.001 * (1 + (now - self._busy_since) * 20))
            self._flush_handle = asyncio.get_running_loop().call_later(delay, self._flush)
        return True

    def _fail(self, batch: list[_Pending], exc: sqlite3.Error) -> None:
        self._busy_since = None
        for _, future, run in batch:
            if not future.done():
                error = errors.JournalError(
                    f"SQLite journal {self._url!r} could not commit a write{_of(run)}: {exc}; "
                    "nothing of this write was kept, the journal holds what it held before. "
                    f"{_advice(exc, run)}",
                    workflow_id=run,
                )
                error.__cause__ = exc
                future.set_exception(error)


def _of(run: str | None) -> str:
    return "" if run is None else f" of run {run!r}"


def _advice(exc: sqlite3.Error, run: str | None) -> str:
    """What to do about a failed commit, by what SQLite said."""
    text = str(exc).lower()
    if "full" in text:
        cause = "Free space on the disk that holds the journal"
    elif "readonly" in text or "read-only" in text:
        cause = (
            "Make the journal writable again (remount the file system read-write, fix "
            "its permissions)"
        )
    elif "locked" in text or "busy" in text:
        cause = (
            f"Another process held the journal's write lock for more than {BUSY_LIMIT:.0f} s: "
            "find what holds it (`fuser` on the file)"
        )
    elif "i/o" in text or "disk" in text:
        cause = "Check the disk that holds the journal (the kernel log says which error it gave)"
    else:
        cause = "Fix the cause"
    if run is None:
        return f"{cause}, then try again."
    return (
        f"{cause}: a run stopped by this is carried on from its journal once storage "
        f"works again, and a start of {run!r} may be repeated (the same id starts it once)."
    )
