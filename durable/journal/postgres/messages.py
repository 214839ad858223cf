"""The Postgres journal's messages and events, mixed into `PostgresJournal`: each one
statement through the writer; a message's taking and its receiving entry commit together,
fenced like any owner's write (`holdings`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from durable import errors
from durable.journal import base, records
from durable.journal.postgres import connection, holdings, writer

__all__ = ["PostgresMessages"]


class PostgresMessages:
    """Messages and events on the journal's writer and pool."""

    _pool: connection.Pool
    _writer: writer.GroupWriter
    _holdings: holdings.Holdings
    channel: str
    work_channel: str
    _owner_write: Callable[[str, dict[str, Any], str, str], Awaitable[None]]

    async def send_message(self, run_id: str, topic: str, value: bytes, key: str | None) -> bool:
        params = {
            "run_id": run_id,
            "topic": topic,
            "value": value,
            "at": time.time(),
            "key": key if key is not None else f"auto:{uuid.uuid4().hex}",
            "channel": self.channel,
            "work_channel": self.work_channel,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> bool:
            status, inserted, prior = rows[0][0], rows[0][1], rows[0][2]
            if status is None:
                raise errors.WorkflowNotFound(workflow_id=run_id)
            if prior:  # sent before (a retried send): even if the run finished since
                return retried
            if base.Status(status) in base.TERMINAL:
                raise errors.RunFinished(
                    workflow_id=run_id, status=status, what=f"a message on {topic!r}"
                )
            return bool(inserted) or retried

        return bool(await self._writer.write("send_message", params, finish))

    async def receive_message(
        self, owner: str, run_id: str, topic: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        expect = self._holdings.expect(owner, run_id)
        params = {**records.entry_params(entry), "owner": owner, "topic": topic, "expect": expect}

        def finish(rows: list[Any], rowcount: int, retried: bool) -> base.EntryRecord | None:
            holder, value = rows[0]
            if holder != owner:
                raise base.LeaseLost(run_id)
            if value is None:
                return None
            entry.output = value
            return entry

        try:
            result: base.EntryRecord | None = await self._writer.write(
                "receive_message", params, finish
            )
        except base.LeaseLost:
            await self._holdings.diagnose(owner, run_id, expect)
            raise
        if result is not None:
            self._holdings.committed(owner, run_id, entry.seq)
        return result

    async def set_event(
        self, owner: str, run_id: str, key: str, value: bytes, entry: base.EntryRecord
    ) -> None:
        params = {
            **records.entry_params(entry),
            "run_id": run_id,
            "owner": owner,
            "key": key,
            "value": value,
            "at": time.time(),
            "channel": self.channel,
        }
        await self._owner_write("set_event", params, owner, run_id)
        self._holdings.committed(owner, run_id, entry.seq)

    async def get_event(self, run_id: str, key: str) -> bytes | None:
        rows = await self._pool.read(
            "read an event", "select_event", {"run_id": run_id, "key": key}
        )
        return bytes(rows[0][0]) if rows else None
