"""The Postgres journal's topics and source offsets (`base.TopicStore`), mixed into
`PostgresJournal`.  Each operation is one transaction on a pooled connection: a publish
is one statement (its ``NOTIFY`` of the topic delivered at commit); a batch of runs is
created, with its consumer's new position compare-and-set, in one transaction
pipelined in one round trip."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from durable.journal import base, records
from durable.journal.postgres import connection

__all__ = ["PostgresTopics"]


class PostgresTopics:
    """`base.TopicStore` on the journal's pool (see the module docstring)."""

    _pool: connection.Pool
    _q: dict[str, str]
    channel: str
    work_channel: str

    async def publish(self, topic: str, values: Sequence[bytes], keys: Sequence[str | None]) -> int:
        if len(values) != len(keys):
            raise ValueError("publish: as many keys as values (None where a record has none)")
        params = {
            "topic": topic,
            "values": list(values),
            "keys": list(keys),
            "at": time.time(),
            "channel": self.channel,
            "wake": base.topic_wakeup(topic),
        }
        rows = await self._pool.read("publish to a topic", "topic_publish", params)
        return int(rows[0][0])

    async def read_topic(self, topic: str, after: int, limit: int) -> list[base.TopicRecord]:
        params = {"topic": topic, "after": after, "limit": limit}
        rows = await self._pool.read("read a topic", "topic_read", params)
        return [
            base.TopicRecord(position=int(position), key=key, value=bytes(value))
            for position, key, value in rows
        ]

    async def get_offset(self, consumer: str, source: str) -> str | None:
        params = {"consumer": consumer, "source": source}
        rows = await self._pool.read("read a source's position", "offset_get", params)
        return str(rows[0][0]) if rows else None

    async def start_from_source(self, start: base.SourceStart) -> list[bool] | None:
        q = self._q

        async def fn(conn: psycopg.AsyncConnection[Any]) -> list[bool] | None:
            async with conn.transaction():
                if start.offset is not None and not await _move(conn, q, start.offset):
                    return None
                created = []
                for run in start.runs:
                    params = records.named(records.NEW_RUN_COLUMNS, records.new_run_values(run))
                    params["work_channel"] = self.work_channel
                    cur = await conn.execute(q["create_run"], params)
                    row = await cur.fetchone()
                    new = bool(row is not None and row[-1])
                    if new and run.id in start.failed:
                        failed = {"id": run.id, "error": start.failed[run.id], "at": time.time()}
                        await conn.execute(q["fail_new_run"], failed)
                    created.append(new)
                return created

        # a retry after a lost reply finds the offset moved (None) or the runs there:
        # either way no record gets a second run
        result: list[bool] | None = await self._pool.run("start runs from a source", fn)
        return result


async def _move(
    conn: psycopg.AsyncConnection[Any], q: dict[str, str], move: base.OffsetMove
) -> bool:
    params = {
        "consumer": move.consumer,
        "source": move.source,
        "position": move.position,
        "expected": move.expected,
        "at": time.time(),
    }
    name = "offset_insert" if move.expected is None else "offset_update"
    cur = await conn.execute(q[name], params)
    return cur.rowcount == 1
