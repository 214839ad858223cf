"""The SQLite journal's topics and source offsets (`base.TopicStore`), mixed into
`SqliteJournal`: every write goes through its group writer, so a publish, or a batch of
runs with its consumer's new position, commits in one transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from durable.journal import base, queries, records, sqlite_writer

__all__ = ["SqliteTopics"]

_Q = queries.load_queries("sqlite")


class SqliteTopics:
    """`base.TopicStore` on the journal's connection and writer (see the module docstring)."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]

    async def publish(self, topic: str, values: Sequence[bytes], keys: Sequence[str | None]) -> int:
        def op(conn: sqlite3.Connection) -> int:
            fresh: list[tuple[str | None, bytes]] = []
            seen: set[str] = set()
            for value, key in zip(values, keys, strict=True):
                if key is not None:
                    if key in seen or conn.execute(_Q["topic_key_exists"], (topic, key)).fetchone():
                        continue
                    seen.add(key)
                fresh.append((key, value))
            if not fresh:
                return 0
            last = conn.execute(_Q["topic_bump"], (topic, len(fresh))).fetchone()[0]
            now = time.time()
            first = int(last) - len(fresh) + 1
            for offset, (key, value) in enumerate(fresh):
                conn.execute(_Q["topic_insert"], (topic, first + offset, key, value, now))
            return len(fresh)

        appended = int(await self._writer.write(op))
        if appended:
            self._announce(base.topic_wakeup(topic))
        return appended

    async def read_topic(self, topic: str, after: int, limit: int) -> list[base.TopicRecord]:
        rows = self._read(_Q["topic_read"], (topic, after, limit))
        return [
            base.TopicRecord(position=int(position), key=key, value=bytes(value))
            for position, key, value in rows
        ]

    async def get_offset(self, consumer: str, source: str) -> str | None:
        rows = self._read(_Q["offset_get"], (consumer, source))
        return str(rows[0][0]) if rows else None

    async def start_from_source(self, start: base.SourceStart) -> list[bool] | None:
        def op(conn: sqlite3.Connection) -> list[bool] | None:
            # the offset first: a consumer that lost the race writes nothing
            if start.offset is not None and not _move(conn, start.offset):
                return None
            created = []
            now = time.time()
            for run in start.runs:
                new = conn.execute(_Q["insert_run"], records.new_run_values(run)).rowcount == 1
                if new and run.id in start.failed:
                    conn.execute(_Q["fail_new_run"], (run.id, start.failed[run.id], now))
                created.append(new)
            return created

        result: list[bool] | None = await self._writer.write(op)
        if result and any(
            new and run.owner is None for run, new in zip(start.runs, result, strict=True)
        ):
            self._announce(None, work=True)  # runs nobody holds: work for every worker
        return result


def _move(conn: sqlite3.Connection, move: base.OffsetMove) -> bool:
    now = time.time()
    if move.expected is None:
        params: tuple[Any, ...] = (move.consumer, move.source, move.position, now)
        return bool(conn.execute(_Q["offset_insert"], params).rowcount == 1)
    params = (move.consumer, move.source, move.position, now, move.expected)
    return bool(conn.execute(_Q["offset_update"], params).rowcount == 1)
