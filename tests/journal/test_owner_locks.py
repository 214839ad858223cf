"""Postgres knows at once that an engine on another machine died: its advisory lock."""

from __future__ import annotations

import asyncio
import time

import durable
from durable.journal import base, open_journal

FOREIGN = "elsewhere/boot0000/4242/99/abcdef"  # an engine on another host


@durable.workflow(name="tests.locks.quick")
async def quick() -> str:
    return "done"


async def _orphan(url: str, run_id: str, owner: str) -> None:
    journal = open_journal(url)
    await journal.open()
    try:
        await journal.create_run(
            base.NewRun(
                id=run_id,
                name="tests.locks.quick",
                input=b"M\x93\x90\x90\x90",
                root_id=run_id,
                metadata=b"M\x80",
                created_at=time.time(),
                owner=owner,
                lease_expires_at=time.time() + 3600,
                status=base.Status.RUNNING,
            )
        )
    finally:
        await journal.close()


async def test_dead_foreign_engine_is_taken_over_at_once(postgres_url: str) -> None:
    await _orphan(postgres_url, "orphan", FOREIGN)  # lease valid for an hour, no lock held
    async with durable.Engine(postgres_url, poll_interval=0) as engine:
        assert await engine.get("orphan").result(timeout=10) == "done"


async def test_live_foreign_engine_keeps_its_run(postgres_url: str) -> None:
    holder = open_journal(postgres_url)
    await holder.open()
    await holder.register_owner(FOREIGN)  # type: ignore[attr-defined]
    try:
        await _orphan(postgres_url, "held", FOREIGN)
        async with durable.Engine(postgres_url, poll_interval=0) as engine:
            await asyncio.sleep(0.2)
            info = await engine.get("held").info()
            assert info.owner == FOREIGN and info.status is durable.Status.RUNNING
            assert await engine.journal.owner_alive(FOREIGN)  # type: ignore[attr-defined]
        await holder.close()  # the holder's session ends: its lock goes with it
        async with durable.Engine(postgres_url, poll_interval=0) as engine:
            assert await engine.get("held").result(timeout=10) == "done"
    finally:
        await holder.close()
