"""The Postgres journal's start options, mixed into `PostgresJournal`: runs created with
a deduplication key, and the earliest delayed start not yet due."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from durable import errors
from durable.journal import base, records
from durable.journal.postgres import connection

__all__ = ["PostgresStarts"]

_TRIES = 10  # a key's holder may finish between the insert and the read: look again


class PostgresStarts:
    """Start options on the journal's pool."""

    _pool: connection.Pool
    _q: dict[str, str]
    work_channel: str

    async def create_keyed_run(self, run: base.NewRun) -> tuple[base.RunRecord, bool]:
        """`create_run` for a run with a `dedup_key`: one transaction inserts it unless
        its id exists or an unfinished run holds its key (the unique index decides, so of
        concurrent starts with one key exactly one creates a run), else reads that run."""
        params = records.named(records.NEW_RUN_COLUMNS, records.new_run_values(run))
        params["work_channel"] = self.work_channel
        q = self._q

        async def fn(conn: psycopg.AsyncConnection[Any]) -> tuple[Any, bool]:
            async with conn.transaction():
                cur = await conn.execute(q["create_keyed_run"], params)
                created = await cur.fetchone() is not None
                cur = await conn.execute(q["select_run"], {"id": run.id})
                row = await cur.fetchone()
                if row is None and not created:
                    cur = await conn.execute(q["run_by_dedup_key"], params)
                    holder = await cur.fetchone()
                    if holder is not None:
                        cur = await conn.execute(q["select_run"], {"id": holder[0]})
                        row = await cur.fetchone()
            return row, created

        for _ in range(_TRIES):
            row, created = await self._pool.run("create a run", fn, run.id)
            if row is not None:
                return records.run_from_row(row), created
        raise errors.JournalError(
            f"starting run {run.id!r} with dedup_key {run.dedup_key!r}: the run holding the "
            f"key kept finishing while it was read, {_TRIES} times; start it again",
            workflow_id=run.id,
        )

    async def next_start(self, names: Sequence[str]) -> float | None:
        if not names:
            return None
        params = {"now": time.time(), "names": list(names)}
        rows = await self._pool.read("read the next delayed start", "next_start", params)
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def dedup_holder(self, dedup_key: str) -> str | None:
        """The id of the unfinished run holding `dedup_key`, or None."""
        params = {"dedup_key": dedup_key}
        rows = await self._pool.read("read a dedup key's run", "run_by_dedup_key", params)
        return str(rows[0][0]) if rows else None
