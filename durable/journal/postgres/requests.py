"""The Postgres journal's requests and multi-topic receives, mixed into
`PostgresJournal` (the contract is `durable.journal.requests.RequestStore`): each one
statement through the writer; a request's taking or answering commits with its entry,
fenced like any owner's write (`holdings`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from durable import errors
from durable.journal import base, records
from durable.journal.postgres import connection, holdings, writer
from durable.journal.requests import RequestRecord, RequestState

__all__ = ["PostgresRequests"]


class PostgresRequests:
    """Requests and multi-topic receives on the journal's writer and pool."""

    _pool: connection.Pool
    _writer: writer.GroupWriter
    _holdings: holdings.Holdings
    channel: str
    work_channel: str
    _owner_write: Callable[[str, dict[str, Any], str, str], Awaitable[None]]

    async def send_request(self, run_id: str, name: str, value: bytes, key: str) -> RequestState:
        params = {
            "run_id": run_id,
            "name": name,
            "key": key,
            "value": value,
            "at": time.time(),
            "channel": self.channel,
            "work_channel": self.work_channel,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> RequestState:
            status, prior_state, prior_answer, inserted = rows[0][:4]
            if status is None:
                raise errors.WorkflowNotFound(workflow_id=run_id)
            if prior_state is not None:  # sent before: idempotent
                answer = None if prior_answer is None else bytes(prior_answer)
                return RequestState(run_status=status, state=prior_state, answer=answer)
            if not inserted and base.Status(status) in base.TERMINAL:
                raise errors.RunFinished(
                    workflow_id=run_id, status=status, what=f"request {name!r}"
                )
            return RequestState(run_status=status, state="queued")

        result: RequestState = await self._writer.write("send_request", params, finish)
        return result

    async def request_state(self, run_id: str, key: str) -> RequestState:
        rows = await self._pool.read(
            "read a request", "request_state", {"run_id": run_id, "key": key}
        )
        if not rows:
            raise errors.WorkflowNotFound(workflow_id=run_id)
        status, state, answer = rows[0]
        return RequestState(
            run_status=status, state=state, answer=None if answer is None else bytes(answer)
        )

    async def withdraw_request(self, run_id: str, key: str) -> bool:
        def finish(rows: list[Any], rowcount: int, retried: bool) -> bool:
            return rowcount == 1

        params = {"run_id": run_id, "key": key}
        return bool(await self._writer.write("withdraw_request", params, finish))

    async def list_requests(self, run_id: str, limit: int = 1000) -> list[RequestRecord]:
        params = {"run_id": run_id, "limit": limit}
        rows = await self._pool.read("read the requests", "list_requests", params, run_id)
        return [RequestRecord.from_row(row) for row in rows]

    async def take_request(
        self, owner: str, run_id: str, name: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        return await self._take("take_request", owner, run_id, entry, {}, None)

    async def receive_any(
        self, owner: str, run_id: str, topics: Sequence[str], entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        wanted = list(topics)
        return await self._take("receive_any", owner, run_id, entry, {"topics": wanted}, wanted)

    async def _take(
        self,
        query: str,
        owner: str,
        run_id: str,
        entry: base.EntryRecord,
        extra: dict[str, Any],
        topics: list[str] | None,
    ) -> base.EntryRecord | None:
        expect = self._holdings.expect(owner, run_id)
        params = {**records.entry_params(entry), **extra, "owner": owner, "expect": expect}

        def finish(rows: list[Any], rowcount: int, retried: bool) -> base.EntryRecord | None:
            holder, *found = rows[0]
            if holder != owner:
                raise base.LeaseLost(run_id)
            if found[-1] is None:
                return None
            if topics is not None:  # which topic's message it took
                entry.attempts = topics.index(found[0]) + 1
            entry.output = bytes(found[-1])
            return entry

        try:
            result: base.EntryRecord | None = await self._writer.write(query, params, finish)
        except base.LeaseLost:
            await self._holdings.diagnose(owner, run_id, expect)
            raise
        if result is not None:
            self._holdings.committed(owner, run_id, entry.seq)
        return result

    async def answer_request(
        self,
        owner: str,
        taken: tuple[int, float],
        state: str,
        answer: bytes,
        entry: base.EntryRecord,
    ) -> None:
        params = {
            **records.entry_params(entry),
            "owner": owner,
            "taken_seq": taken[0],
            "taken_at": taken[1],
            "state": state,
            "answer": answer,
            "at": time.time(),
            "channel": self.channel,
        }
        await self._owner_write("answer_request", params, owner, entry.run_id)
        self._holdings.committed(owner, entry.run_id, entry.seq)
