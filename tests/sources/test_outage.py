"""A journal that cannot be written for a while (here: another program holds the SQLite
file's write lock past the writer's busy limit) while records arrive: the consumer keeps
the records it read and retries their commit, so the broker does not hand them out again
(their delivery counts would grow into dead letters); once the journal can be written,
each gets its run, read once."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

import pytest

import durable
from durable.journal import sqlite_writer
from durable.sources import RedisStream
from durable.sources import registry as sources_registry
from tests.waiting import wait_until


async def _n(fields: dict[str, str]) -> int:
    return int(fields["n"])


async def test_records_read_while_the_journal_fails_get_their_runs_after(
    tmp_path: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis.asyncio as redis_asyncio

    monkeypatch.setattr(sqlite_writer, "BUSY_LIMIT", 0.2)  # a locked file fails writes at once
    path = tmp_path / "journal.db"
    stream = f"durable-outage-{uuid.uuid4().hex[:8]}"
    name = f"outage.{uuid.uuid4().hex[:8]}"
    durable.workflow(name=name, on=RedisStream(redis_url, stream, consumer="c"))(_n)
    client = redis_asyncio.from_url(redis_url, decode_responses=True)
    try:
        async with durable.Engine(f"sqlite:///{path}", poll_interval=0.2) as engine:
            blocker = sqlite3.connect(path, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # the write lock, held by someone else
            try:
                pipe = client.pipeline(transaction=True)  # all 3 at once: one read takes them
                for n in range(3):
                    pipe.xadd(stream, {"n": str(n)})
                await pipe.execute()

                async def read() -> bool:  # handed out to the consumer, not acknowledged
                    return (await client.xpending(stream, "durable"))["pending"] == 3

                await wait_until(read, what="the 3 entries read", timeout=10)
                await asyncio.sleep(3.0)  # the commit fails again and again meanwhile
                assert await engine.list(name=name) == []
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()

            async def done() -> bool:
                runs = await engine.list(name=name)
                return len(runs) == 3 and all(r.status is durable.Status.SUCCEEDED for r in runs)

            await wait_until(done, what="3 runs once the journal can be written", timeout=30)
            for run in await engine.list(name=name):
                record = await engine.journal.get_run(run.id)
                assert record is not None
                metadata = engine.codec.decode(record.metadata)
                assert metadata["deliveries"] == 1, metadata  # read once, never again
            assert (await client.xpending(stream, "durable"))["pending"] == 0
    finally:
        sources_registry.unregister(name)
        await client.delete(stream)
        await client.aclose()
