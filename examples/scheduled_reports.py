"""Schedules: a report every second (declared on the workflow) and a nightly cleanup
(created at run time), paused, backfilled over a daylight-saving change, resumed.

    pip install -e '.[schedules]'
    python examples/scheduled_reports.py

Runs on SQLite (``scheduled_reports.db`` here), no network.  Each tick's run has the id
``<schedule>@<tick>``: running the script again (or a second copy at the same time) never
runs a tick twice.  Inspect it afterwards with ``durable --db
sqlite:///scheduled_reports.db schedule list`` and ``schedule show nightly-cleanup``.
"""

from __future__ import annotations

import asyncio
import datetime

import durable

UTC = datetime.UTC


@durable.step
async def count_orders(tick: datetime.datetime) -> int:
    return tick.second % 7  # stands for a query over the second before the tick


@durable.workflow(name="examples.report", schedule=durable.Every(1))
async def report(tick: datetime.datetime) -> str:
    return f"report for {tick:%H:%M:%S} UTC: {await count_orders(tick)} orders"


@durable.workflow(name="examples.cleanup")
async def cleanup(tick: datetime.datetime, keep_days: int) -> str:
    return f"cleanup of {tick:%Y-%m-%d %H:%M} UTC, keeping {keep_days} days"


async def main() -> None:
    async with durable.Engine("sqlite:///scheduled_reports.db") as engine:
        # 02:30 in Paris: on 29 March 2026 it does not exist (clocks go from 02:00 to
        # 03:00), so that day's run fires at the next valid instant, 03:00 CEST (01:00Z)
        await engine.schedules.create(
            "nightly-cleanup", cleanup, cron="30 2 * * *", tz="Europe/Paris", args=[30]
        )
        await engine.schedules.pause("nightly-cleanup", note="until the migration is done")
        runs = await engine.schedules.backfill(
            "nightly-cleanup",
            datetime.datetime(2026, 3, 28, tzinfo=UTC),
            datetime.datetime(2026, 3, 31, tzinfo=UTC),
        )
        for run in runs:
            print(f"backfilled {run.id}: {await run.result()}")
        await engine.schedules.resume("nightly-cleanup")

        seen: set[str] = set()
        while len(seen) < 3:  # the report fires every second while the engine is up
            for info in await engine.list(name="examples.report", limit=10):
                if info.id not in seen and info.status is durable.Status.SUCCEEDED:
                    seen.add(info.id)
                    print(f"{info.id}: {await engine.get(info.id).result()}")
            await asyncio.sleep(0.2)
        for schedule in await engine.schedules.list():
            when = schedule.cron or f"every {schedule.every:g} s"
            print(
                f"schedule {schedule.id}: {when}, next tick {schedule.next_tick:%Y-%m-%d %H:%M:%S}"
            )


if __name__ == "__main__":
    asyncio.run(main())
