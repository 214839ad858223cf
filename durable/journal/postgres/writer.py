"""Group commit for the Postgres journal: one connection, one transaction per group.

`GroupWriter` takes every write queued in the same loop tick, or while its previous
commit was in flight, and commits them together in one round trip: ``BEGIN``, the
statements and ``COMMIT`` go out at once in pipeline mode (a group of one statement
runs alone, in autocommit).  Appends of all runs in a group become one statement fed
by one JSON parameter.  Groups commit in submission order.

When the connection drops or the server restarts, a group's outcome is unknown: the
writer reconnects with backoff and commits the same group again; every statement is
idempotent (``ON CONFLICT DO NOTHING`` keyed by (run_id, seq); create and claim get
``retried`` to recognise their own earlier success).  After `connection.OUTAGE_LIMIT`
seconds without the database, the group fails with `JournalError` naming the write and
its run.  Writes of a run's owner carry their fence (`holdings`): a group retried on a
new primary that lost some of the run's entries writes nothing for that run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import psycopg
from psycopg import pq

from durable import errors
from durable.journal import backoff, base
from durable.journal.postgres import connection

__all__ = ["Append", "Finish", "GroupWriter", "Write", "rollback"]

logger = logging.getLogger(__name__)

# statements that change owners or entries: appends queued before them go out first
_BARRIERS = frozenset(
    {"claim_run", "release_all", "release_some", "reopen", "copy_entries", "continue_as_new"}
)
_json = msgspec.json.Encoder()

Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

Finish = Callable[[list[Any], int, bool], Any]


class Write:
    """One queued statement; `finish(rows, rowcount, retried)` gives its result or raises."""

    __slots__ = ("finish", "future", "name", "params", "retried")

    def __init__(self, name: str, params: dict[str, Any], finish: Finish) -> None:
        self.name = name
        self.params = params
        self.finish = finish
        self.retried = False
        self.future: asyncio.Future[Any] | None = None


class Append:
    """One queued `append_entries` call; merged with its neighbours into one statement.
    `expect` maps runs to an entry the owner knows committed: the call writes nothing
    unless they are all in the journal (`holdings`)."""

    __slots__ = ("entries", "expect", "future", "owner", "retried")

    def __init__(
        self,
        owner: str,
        entries: Sequence[base.EntryRecord],
        expect: dict[str, int] | None = None,
    ) -> None:
        self.owner = owner
        self.entries = entries
        self.expect = expect or {}
        self.retried = False
        self.future: asyncio.Future[Any] | None = None


_Item = Write | Append


class _Step:
    """One statement of a group, and how its rows resolve the items behind it."""

    __slots__ = ("items", "params", "query")

    def __init__(self, query: str, params: dict[str, Any], items: list[_Item]) -> None:
        self.query = query
        self.params = params
        self.items = items

    def resolve(self, rows: list[Any], rowcount: int) -> list[Outcome]:
        outcomes: list[Outcome] = []
        if len(self.items) == 1 and isinstance(self.items[0], Write):
            item = self.items[0]
            assert item.future is not None
            try:
                outcomes.append((item.future, item.finish(rows, rowcount, item.retried), None))
            except (base.LeaseLost, errors.DurableError) as exc:
                outcomes.append((item.future, None, exc))
            return outcomes
        lost = {row[0] for row in rows if row[0] is not None}
        for k, append in enumerate(self.items):
            assert isinstance(append, Append) and append.future is not None
            if k in lost:
                run_ids = sorted({e.run_id for e in append.entries})
                outcomes.append((append.future, None, base.LeaseLost(", ".join(run_ids))))
            else:
                outcomes.append((append.future, None, None))
        return outcomes


def _merge_appends(query: str, appends: list[Append], channel: str) -> _Step:
    calls = [
        {
            "owner": append.owner,
            "expect": [{"run_id": run_id, "seq": seq} for run_id, seq in append.expect.items()],
            "entries": append.entries,
        }
        for append in appends
    ]
    # one JSON parameter: far cheaper to send than fifteen arrays
    params = {"calls": _json.encode(calls).decode(), "channel": channel}
    return _Step(query, params, list(appends))


ConnectFn = Callable[[], Awaitable["psycopg.AsyncConnection[Any]"]]


class GroupWriter:
    """The write path of one `PostgresJournal` (see the module docstring)."""

    def __init__(
        self,
        queries: dict[str, str],
        connect: ConnectFn,
        where: str,
        channel: str,
        budget: connection.Budget | None = None,
    ) -> None:
        self._budget = budget or connection.Budget()
        self._q = queries
        self._channel = channel  # NOTIFYed with the run id of each appended entry
        self._connect = connect
        self._where = where
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[_Item] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._task = asyncio.create_task(self._write_loop(), name="durable-pg-writer")

    async def close(self) -> None:
        """Commit what is queued, then stop and disconnect."""
        while (self._pending or not self._idle.is_set()) and self._task and not self._task.done():
            self._wake.set()
            await self._idle.wait()
            await asyncio.sleep(0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._fail(self._pending, None, "the journal was closed before it committed")
        self._pending = []
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def abandon(self) -> tuple[asyncio.Task[None] | None, psycopg.AsyncConnection[Any] | None]:
        """Stop without committing what is queued; returns the task and connection to reap."""
        task, conn, self._task, self._conn = self._task, self._conn, None, None
        if task is not None:
            task.cancel()
        for item in self._pending:
            if item.future is not None:
                item.future.cancel()
        self._pending = []
        return task, conn

    def submit(self, item: _Item) -> asyncio.Future[Any]:
        if self._task is None or self._task.done():
            raise errors.JournalError(f"{self._where} is not open (or was closed)")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        item.future = future
        self._pending.append(item)
        self._wake.set()
        return future

    def write(self, name: str, params: dict[str, Any], finish: Finish) -> asyncio.Future[Any]:
        return self.submit(Write(name, params, finish))

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            batch, self._pending = self._pending, []
            self._idle.clear()
            try:
                await self._commit(batch)
            except Exception as exc:  # a bug must fail its writes, not stop the writer
                logger.exception(
                    "journal writer failed", extra={"action": "commit", "workflow_id": None}
                )
                self._fail(batch, exc, "nothing of it is known to be kept")
            finally:
                self._idle.set()

    def _plan(self, batch: list[_Item]) -> list[_Step]:
        """Statements in submission order; appends wait for the next barrier (an op that
        changes owners or entries) or the end, and go out merged."""
        steps: list[_Step] = []
        appends: list[Append] = []
        for item in batch:
            if isinstance(item, Append):
                appends.append(item)
                continue
            if item.name in _BARRIERS and appends:
                steps.append(_merge_appends(self._q["append_entries"], appends, self._channel))
                appends = []
            if item.name == "claim_run":
                item.params["retried"] = item.retried
            steps.append(_Step(self._q[item.name], item.params, [item]))
        if appends:
            steps.append(_merge_appends(self._q["append_entries"], appends, self._channel))
        return steps

    async def _execute(self, conn: psycopg.AsyncConnection[Any], batch: list[_Item]) -> list[Any]:
        steps = self._plan(batch)
        if len(steps) == 1:
            cur = await conn.execute(steps[0].query, steps[0].params)
            rows = await cur.fetchall() if cur.description else []
            return steps[0].resolve(rows, cur.rowcount)
        try:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                cursors = [await conn.execute(step.query, step.params) for step in steps]
                await conn.execute("COMMIT")
        except psycopg.Error:
            await rollback(conn)
            raise
        outcomes: list[Outcome] = []
        for step, cur in zip(steps, cursors, strict=True):
            rows = await cur.fetchall() if cur.description else []
            outcomes.extend(step.resolve(rows, cur.rowcount))
        return outcomes

    async def _commit(self, batch: list[_Item]) -> None:
        wait = connection.outage(self._budget)
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                outcomes = await self._execute(self._conn, batch)
            except connection.RETRYABLE as exc:
                # outcome unknown: the same group is committed again, idempotently
                if not await self._back_off(batch, exc, wait):
                    return
                continue
            except psycopg.Error as exc:
                if len(batch) > 1:  # find the culprit: the others must not fail with it
                    for item in batch:
                        await self._commit([item])
                else:
                    self._fail(
                        batch,
                        exc,
                        "nothing of it was kept; the database's log says why (a full disk, "
                        "a read-only server, a missing privilege)",
                    )
                return
            for future, value, error in outcomes:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)
            return

    async def _back_off(
        self, batch: list[_Item], exc: psycopg.Error, wait: backoff.Backoff
    ) -> bool:
        """After a failure that may be temporary: wait and say whether to try again."""
        for item in batch:
            item.retried = True
        if self._conn is not None and self._conn.broken:
            await self._conn.close()
            self._conn = None
        if wait.expired:
            limit = connection.OUTAGE_LIMIT
            said = (
                "the journal was closed while the database was unreachable"
                if self._budget.closed
                else f"the database was unreachable for {limit:.0f}s"
            )
            self._fail(batch, exc, f"{said}; nothing of it is known to be kept")
            return False
        delay = wait.next()
        logger.warning(
            "journal write failed (%s), retrying in %.2fs",
            str(exc).strip(),
            delay,
            extra={"action": "reconnect", "workflow_id": None},
        )
        await asyncio.sleep(delay)
        return True

    def _fail(self, batch: list[_Item], exc: BaseException | None, what: str) -> None:
        for item in batch:
            if item.future is not None and not item.future.done():
                runs = _runs_of(item)
                error = errors.JournalError(
                    f"{self._where} could not commit {_subject(item, runs)}: "
                    f"{str(exc).strip() if exc else 'closed'}; {what}; {_remedy(item)}",
                    workflow_id=runs[0] if len(runs) == 1 else None,
                )
                error.__cause__ = exc
                item.future.set_exception(error)


# what a failed write was, in words, and what its caller can do about it
_SUBJECTS = {
    "create_run": "the start of",
    "update_run": "the status of",
    "insert_attempt": "a failed attempt of",
    "insert_timer": "a durable timer of",
    "receive_message": "a message taken by",
    "set_event": "an event set by",
    "send_message": "a message to",
    "send_request": "a request to",
    "withdraw_request": "the withdrawal of a request to",
    "take_request": "a request taken by",
    "answer_request": "the answer of a request by",
    "receive_any": "a message taken by",
    "claim_run": "the claim of",
    "reopen": "the reopening of",
    "copy_entries": "the fork of",
    "request_cancel": "the cancellation of",
    "release_some": "the release of",
    "delete_runs": "the deletion of",
}
_OWNER_WRITES = frozenset(
    {
        "update_run",
        "insert_attempt",
        "insert_timer",
        "receive_message",
        "set_event",
        "take_request",
        "answer_request",
        "receive_any",
    }
)


def _runs_of(item: _Item) -> list[str]:
    """The ids of the runs a queued write is about (none for engine-wide ones)."""
    if isinstance(item, Append):
        return sorted({entry.run_id for entry in item.entries})
    params = item.params
    if item.name == "copy_entries":
        return [params["source"], params["target"]]
    if item.name == "delete_runs":
        return list(params["ids"])
    found = params.get("run_id", params.get("id", params.get("ids")))
    if isinstance(found, str):
        return [found]
    return [run_id for run_id in found or () if isinstance(run_id, str)]


def _subject(item: _Item, runs: list[str]) -> str:
    named = ", ".join(repr(run_id) for run_id in runs[:5]) + (", ..." if len(runs) > 5 else "")
    plural = "s" if len(runs) > 1 else ""
    if isinstance(item, Append):
        seqs = sorted(entry.seq for entry in item.entries)
        where = f"seq {seqs[0]}" if len(seqs) == 1 else f"seqs {seqs[0]}-{seqs[-1]}"
        return f"the journal entries ({where}) of run{plural} {named}"
    subject = _SUBJECTS.get(item.name)
    if subject is None or not runs:
        return f"a write ({item.name.replace('_', ' ')})"
    return f"{subject} run{plural} {named}"


def _remedy(item: _Item) -> str:
    if isinstance(item, Append) or item.name in _OWNER_WRITES:
        return (
            "the run stops in this process and is carried on from its journal (here or "
            "by another engine) once the database is usable"
        )
    if item.name == "create_run":
        return (
            "start it again with the same workflow_id once the database is usable "
            "(it is started once)"
        )
    return "try again once the database is usable"


async def rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    """Roll back whatever transaction `conn` is in, if it still can."""
    if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK")
