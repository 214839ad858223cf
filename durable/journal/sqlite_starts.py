"""The SQLite journal's start options, mixed into `SqliteJournal`: runs created with a
deduplication key (looked up and inserted under the one write lock), and the earliest
delayed start not yet due."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from durable.journal import base, queries, records, sqlite_writer

__all__ = ["SqliteStarts"]

_Q = queries.load_queries("sqlite")


class SqliteStarts:
    """Start options on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]

    async def create_keyed_run(self, run: base.NewRun) -> tuple[base.RunRecord, bool]:
        """`create_run` for a run with a `dedup_key`: in one write transaction, the run
        with that id, else the unfinished run holding the key, else the new run."""

        def op(conn: sqlite3.Connection) -> str | None:
            if conn.execute(_Q["run_exists"], (run.id,)).fetchone() is not None:
                return run.id
            holder = conn.execute(_Q["run_by_dedup_key"], (run.dedup_key,)).fetchone()
            if holder is not None:
                return str(holder[0])
            conn.execute(_Q["insert_run"], records.new_run_values(run))
            return None

        existing = await self._writer.write(op, run=run.id)
        if existing is None:
            self._announce(run.id, work=run.owner is None)
            return records.created_run(run), True
        found = self._read(_Q["select_run"], (existing,))
        return records.run_from_row(found[0]), False

    async def next_start(self, names: Sequence[str]) -> float | None:
        if not names:
            return None
        rows = self._read(_Q["next_start"], (time.time(), json.dumps(list(names))))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def dedup_holder(self, dedup_key: str) -> str | None:
        """The id of the unfinished run holding `dedup_key`, or None."""
        rows = self._read(_Q["run_by_dedup_key"], (dedup_key,))
        return str(rows[0][0]) if rows else None
