"""The Postgres journal's schedules (`schedule_store.ScheduleStore`), mixed into
`PostgresJournal`.  Each write is one transaction on a pooled connection; the
schedules' ``NOTIFY`` (and the work channel's, for new runs) is delivered at commit."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from durable.journal import records
from durable.journal import schedule_store as store
from durable.journal.postgres import connection

__all__ = ["PostgresSchedules"]


class PostgresSchedules:
    """`ScheduleStore` on the journal's pool."""

    _pool: connection.Pool
    _q: dict[str, str]
    channel: str
    work_channel: str

    async def _notify(self, conn: psycopg.AsyncConnection[Any]) -> None:
        params = {
            "channel": self.channel,
            "wake": store.SCHEDULES_WAKEUP,
            "work_channel": self.work_channel,
        }
        await conn.execute(self._q["schedule_notify"], params)

    async def put_schedule(
        self, record: store.ScheduleRecord, expected_version: int | None
    ) -> bool:
        params = dict(zip(store.SCHEDULE_COLUMNS, record.values(), strict=True))
        params["expected"] = expected_version
        name = "schedule_insert" if expected_version is None else "schedule_replace"

        async def fn(conn: psycopg.AsyncConnection[Any]) -> bool:
            async with conn.transaction():
                written = (await conn.execute(self._q[name], params)).rowcount == 1
                if written:
                    await self._notify(conn)
                return written

        return bool(await self._pool.run("write a schedule", fn))

    async def get_schedule(self, schedule_id: str) -> store.ScheduleRecord | None:
        rows = await self._pool.read("read a schedule", "schedule_get", {"id": schedule_id})
        return store.ScheduleRecord.from_row(rows[0]) if rows else None

    async def list_schedules(self) -> list[store.ScheduleRecord]:
        rows = await self._pool.read("list schedules", "schedule_list", {})
        return [store.ScheduleRecord.from_row(row) for row in rows]

    async def due_schedules(self, now: float, limit: int) -> list[store.ScheduleRecord]:
        params = {"now": now, "limit": limit}
        rows = await self._pool.read("read due schedules", "schedule_due", params)
        return [store.ScheduleRecord.from_row(row) for row in rows]

    async def next_schedule_at(self) -> float | None:
        rows = await self._pool.read("read the next schedule", "schedule_next", {})
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def advance_schedules(self, advances: Sequence[store.Advance]) -> list[bool]:
        q = self._q

        async def fn(conn: psycopg.AsyncConnection[Any]) -> list[bool]:
            now = time.time()
            done = []
            async with conn.transaction():
                for adv in advances:
                    params = {
                        "id": adv.id,
                        "cursor": adv.cursor,
                        "next_at": adv.next_at,
                        "buffered": adv.buffered,
                        "last_run": adv.last_run,
                        "paused": int(adv.paused),
                        "note": adv.note,
                        "at": now,
                        "expected": adv.expected_version,
                    }
                    moved = (await conn.execute(q["schedule_advance"], params)).rowcount == 1
                    done.append(moved)
                    if not moved:  # another engine advanced it first: nothing of this one
                        continue
                    for run in adv.runs:
                        values = records.named(records.NEW_RUN_COLUMNS, records.new_run_values(run))
                        values["work_channel"] = self.work_channel
                        await conn.execute(q["create_run"], values)
                    for skip in adv.skips:
                        skipped = {"id": adv.id, "tick": skip.tick, "reason": skip.reason}
                        skipped.update(detail=skip.detail, at=now)
                        await conn.execute(q["schedule_skip"], skipped)
                if any(done):
                    await self._notify(conn)
            return done

        # a retry after a lost reply finds the version moved: False, and the runs there
        result: list[bool] = await self._pool.run("advance schedules", fn)
        return result

    async def delete_schedule(self, schedule_id: str) -> bool:
        async def fn(conn: psycopg.AsyncConnection[Any]) -> bool:
            async with conn.transaction():
                cur = await conn.execute(self._q["schedule_delete"], {"id": schedule_id})
                if cur.rowcount == 1:
                    await self._notify(conn)
                return cur.rowcount == 1

        return bool(await self._pool.run("delete a schedule", fn))

    async def schedule_skips(self, schedule_id: str, limit: int) -> list[store.Skip]:
        params = {"id": schedule_id, "limit": limit}
        rows = await self._pool.read("read a schedule's skips", "schedule_skips", params)
        return [
            store.Skip(tick=float(t), reason=r, detail=d, recorded_at=float(at))
            for t, r, d, at in rows
        ]
