"""The SQLite journal's schedules (`schedule_store.ScheduleStore`), mixed into
`SqliteJournal`: every write goes through its group writer, so an advance (cursor,
runs, skips) commits in one transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from durable.journal import queries, records, sqlite_writer
from durable.journal import schedule_store as store

__all__ = ["SqliteSchedules"]

_Q = queries.load_queries("sqlite")


class SqliteSchedules:
    """`ScheduleStore` on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]

    async def put_schedule(
        self, record: store.ScheduleRecord, expected_version: int | None
    ) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            if expected_version is None:
                return bool(conn.execute(_Q["schedule_insert"], record.values()).rowcount == 1)
            params = (*record.values(), expected_version)
            return bool(conn.execute(_Q["schedule_replace"], params).rowcount == 1)

        written = bool(await self._writer.write(op))
        if written:
            self._announce(store.SCHEDULES_WAKEUP)
        return written

    async def get_schedule(self, schedule_id: str) -> store.ScheduleRecord | None:
        rows = self._read(_Q["schedule_get"], (schedule_id,))
        return store.ScheduleRecord.from_row(rows[0]) if rows else None

    async def list_schedules(self) -> list[store.ScheduleRecord]:
        return [store.ScheduleRecord.from_row(row) for row in self._read(_Q["schedule_list"])]

    async def due_schedules(self, now: float, limit: int) -> list[store.ScheduleRecord]:
        rows = self._read(_Q["schedule_due"], (now, limit))
        return [store.ScheduleRecord.from_row(row) for row in rows]

    async def next_schedule_at(self) -> float | None:
        rows = self._read(_Q["schedule_next"])
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def advance_schedules(self, advances: Sequence[store.Advance]) -> list[bool]:
        def op(conn: sqlite3.Connection) -> list[bool]:
            now = time.time()
            done = []
            for adv in advances:
                params = (
                    adv.id,
                    adv.cursor,
                    adv.next_at,
                    adv.buffered,
                    adv.last_run,
                    int(adv.paused),
                    adv.note,
                    now,
                    adv.expected_version,
                )
                moved = conn.execute(_Q["schedule_advance"], params).rowcount == 1
                done.append(moved)
                if not moved:  # another engine advanced it first: nothing of this one
                    continue
                for run in adv.runs:
                    conn.execute(_Q["insert_run"], records.new_run_values(run))
                for skip in adv.skips:
                    conn.execute(
                        _Q["schedule_skip"], (adv.id, skip.tick, skip.reason, skip.detail, now)
                    )
            return done

        done: list[bool] = await self._writer.write(op)
        if any(done):
            self._announce(store.SCHEDULES_WAKEUP, work=True)
        return done

    async def delete_schedule(self, schedule_id: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            conn.execute(_Q["schedule_delete_skips"], (schedule_id,))
            return bool(conn.execute(_Q["schedule_delete"], (schedule_id,)).rowcount == 1)

        deleted = bool(await self._writer.write(op))
        if deleted:
            self._announce(store.SCHEDULES_WAKEUP)
        return deleted

    async def schedule_skips(self, schedule_id: str, limit: int) -> list[store.Skip]:
        rows = self._read(_Q["schedule_skips"], (schedule_id, limit))
        return [
            store.Skip(tick=float(t), reason=r, detail=d, recorded_at=float(at))
            for t, r, d, at in rows
        ]
