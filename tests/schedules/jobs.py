"""Workflows that schedules in the tests start (imported by the tests and by the
``durable worker`` processes they spawn).

`record_tick` writes the tick into the journal database's ``fired`` table inside the
transaction of its step's entry, so the table holds exactly one row per run that
executed, crash or not: a tick fired twice would show as two rows.
"""

from __future__ import annotations

import asyncio
import datetime
import os

import durable

DIALECT = os.environ.get("DURABLE_TEST_DIALECT", "sqlite")
HOLD = float(os.environ.get("DURABLE_TEST_HOLD", "0"))


@durable.transaction(name="sched.record")
async def record(conn, tick: str) -> int:
    mark = "?" if DIALECT == "sqlite" else "%s"
    params = (tick, os.getpid())  # the pid inside the body: replay passes the same arguments
    cur = await conn.execute(f"insert into fired (tick, pid) values ({mark}, {mark})", params)
    return cur.rowcount


@durable.workflow(name="sched.record_tick")
async def record_tick(tick: datetime.datetime) -> str:
    await record(tick.isoformat())
    if HOLD:
        await asyncio.sleep(HOLD)
    return tick.isoformat()


@durable.workflow(name="sched.echo")
async def echo(tick: datetime.datetime, label: str) -> list[str]:
    return [tick.isoformat(), label]


@durable.workflow(name="sched.plain")
async def plain(label: str) -> str:
    return label


@durable.step(name="sched.wait")
async def wait(seconds: float) -> None:
    await asyncio.sleep(seconds)


@durable.workflow(name="sched.slow")
async def slow(tick: datetime.datetime, seconds: float) -> str:
    await wait(seconds)
    return tick.isoformat()


@durable.workflow(name="sched.declared", schedule=durable.Every(3600))
async def declared(tick: datetime.datetime) -> str:
    return tick.isoformat()
