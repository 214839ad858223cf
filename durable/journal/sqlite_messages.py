"""The SQLite journal's messages and events, mixed into `SqliteJournal`: a message is
taken and its receiving entry written in one write of the group writer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from durable.journal import base, queries, records, sqlite_requests, sqlite_writer

__all__ = ["SqliteMessages"]

_Q = queries.load_queries("sqlite")


class SqliteMessages:
    """Messages and events on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]
    _check_owner: Callable[[sqlite3.Connection, str, str], None]
    _announce_sent: Callable[[str, bool], None]

    async def send_message(self, run_id: str, topic: str, value: bytes, key: str | None) -> bool:
        def op(conn: sqlite3.Connection) -> tuple[bool, bool]:
            if key is not None and conn.execute(_Q["message_key_exists"], (key,)).fetchone():
                return False, False  # sent before (a retried send): even if finished since
            sqlite_requests.check_receiver(conn, run_id, f"a message on {topic!r}")
            cur = conn.execute(_Q["insert_message"], (run_id, topic, value, time.time(), key))
            return cur.rowcount == 1, sqlite_requests.wake(conn, run_id)

        sent, woken = await self._writer.write(op, run=run_id)
        self._announce_sent(run_id, woken)
        return bool(sent)

    async def receive_message(
        self, owner: str, run_id: str, topic: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        return await self._take_into(owner, run_id, "take_message", topic, entry)

    async def _take_into(
        self, owner: str, run_id: str, query: str, what: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        """Take the oldest waiting `what` (a topic's message, a request by name) with query
        `query` and journal `entry` with its value, in one write; None when none waits."""

        def op(conn: sqlite3.Connection) -> base.EntryRecord | None:
            self._check_owner(conn, owner, run_id)
            row = conn.execute(_Q[query], (run_id, what, entry.seq, entry.started_at)).fetchone()
            if row is None:
                return None
            entry.output = row[0]
            conn.execute(_Q["insert_entry"], records.entry_values(entry))
            return entry

        result: base.EntryRecord | None = await self._writer.write(op, run_id)
        return result

    async def set_event(
        self, owner: str, run_id: str, key: str, value: bytes, entry: base.EntryRecord
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, run_id)
            conn.execute(_Q["upsert_event"], (run_id, key, value, time.time()))
            conn.execute(_Q["insert_entry"], records.entry_values(entry))

        await self._writer.write(op, run_id)
        self._announce(run_id)

    async def get_event(self, run_id: str, key: str) -> bytes | None:
        found = self._read(_Q["select_event"], (run_id, key))
        return bytes(found[0][0]) if found else None
