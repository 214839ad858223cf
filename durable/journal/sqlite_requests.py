"""The SQLite journal's requests and multi-topic receives, mixed into `SqliteJournal`
(the contract is `durable.journal.requests.RequestStore`): each operation is one write
of the group writer, so a request's taking or answering commits with its entry."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from durable import errors
from durable.journal import base, queries, records, sqlite_writer
from durable.journal.requests import RequestRecord, RequestState

__all__ = ["SqliteRequests", "check_receiver", "wake"]

_Q = queries.load_queries("sqlite")


def check_receiver(conn: sqlite3.Connection, run_id: str, what: str) -> None:
    """`WorkflowNotFound` for an unknown run, `RunFinished` for a finished one."""
    row = conn.execute(_Q["run_status"], (run_id,)).fetchone()
    if row is None:
        raise errors.WorkflowNotFound(workflow_id=run_id)
    if base.Status(row[0]) in base.TERMINAL:
        raise errors.RunFinished(workflow_id=run_id, status=row[0], what=what)


def wake(conn: sqlite3.Connection, run_id: str) -> bool:
    """Make a run parked in a wait due at once; whether it was parked (SLEEPING)."""
    return conn.execute(_Q["wake_waiting"], (run_id,)).rowcount == 1


class SqliteRequests:
    """Requests and multi-topic receives on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]
    _check_owner: Callable[[sqlite3.Connection, str, str], None]
    _work_watchers: list[Callable[[], None]]
    _take_into: Callable[..., Awaitable[base.EntryRecord | None]]

    def _announce_sent(self, run_id: str, woken: bool) -> None:
        """News of `run_id`; and work for every engine, this one's too, when a parked run
        was made due (the bus tells only the other processes)."""
        self._announce(run_id, work=woken)
        if woken:
            for work in self._work_watchers:
                work()

    async def send_request(self, run_id: str, name: str, value: bytes, key: str) -> RequestState:
        def op(conn: sqlite3.Connection) -> tuple[RequestState, bool]:
            state = _state(conn, run_id, key)
            if state.state is not None:
                return state, False  # sent before: idempotent
            check_receiver(conn, run_id, f"request {name!r}")
            conn.execute(_Q["insert_request"], (run_id, name, key, value, time.time()))
            return RequestState(run_status=state.run_status, state="queued"), wake(conn, run_id)

        state, woken = await self._writer.write(op, run=run_id)
        self._announce_sent(run_id, woken)
        result: RequestState = state
        return result

    async def request_state(self, run_id: str, key: str) -> RequestState:
        found = self._read(_Q["request_state"], (run_id, key))
        if not found:
            raise errors.WorkflowNotFound(workflow_id=run_id)
        return _state_of(found[0])

    async def withdraw_request(self, run_id: str, key: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(_Q["withdraw_request"], (run_id, key)).rowcount == 1

        return bool(await self._writer.write(op, run=run_id))

    async def list_requests(self, run_id: str, limit: int = 1000) -> list[RequestRecord]:
        rows = self._read(_Q["list_requests"], (run_id, limit))
        return [RequestRecord.from_row(row) for row in rows]

    async def take_request(
        self, owner: str, run_id: str, name: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        return await self._take_into(owner, run_id, "take_request", name, entry)

    async def answer_request(
        self,
        owner: str,
        taken: tuple[int, float],
        state: str,
        answer: bytes,
        entry: base.EntryRecord,
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, entry.run_id)
            params = (entry.run_id, taken[0], taken[1], state, answer, time.time())
            conn.execute(_Q["answer_request"], params)
            conn.execute(_Q["insert_entry"], records.entry_values(entry))

        await self._writer.write(op, entry.run_id)
        self._announce(entry.run_id)  # the caller waits on news of the run

    async def receive_any(
        self, owner: str, run_id: str, topics: Sequence[str], entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        wanted = list(topics)

        def op(conn: sqlite3.Connection) -> base.EntryRecord | None:
            self._check_owner(conn, owner, run_id)
            row = conn.execute(
                _Q["take_any_message"], (run_id, json.dumps(wanted), entry.seq, entry.started_at)
            ).fetchone()
            if row is None:
                return None
            entry.attempts = wanted.index(row[0]) + 1
            entry.output = row[1]
            conn.execute(_Q["insert_entry"], records.entry_values(entry))
            return entry

        result: base.EntryRecord | None = await self._writer.write(op, run_id)
        return result


def _state(conn: sqlite3.Connection, run_id: str, key: str) -> RequestState:
    row = conn.execute(_Q["request_state"], (run_id, key)).fetchone()
    if row is None:
        raise errors.WorkflowNotFound(workflow_id=run_id)
    return _state_of(row)


def _state_of(row: Any) -> RequestState:
    answer = None if row[2] is None else bytes(row[2])
    return RequestState(run_status=row[0], state=row[1], answer=answer)
