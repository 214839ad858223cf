"""A worker process for the source crash tests: consumes one source until the runs of
`DURABLE_TEST_COUNT` records have succeeded, or SIGKILLs itself at a crash point.

Environment: ``DURABLE_TEST_JOURNAL`` (journal URL), ``DURABLE_TEST_KIND`` (``redis``,
``jetstream`` or ``topic``), ``DURABLE_TEST_BROKER`` (its URL), ``DURABLE_TEST_STREAM``,
``DURABLE_TEST_NAME`` (the workflow's name), ``DURABLE_TEST_COUNT``,
``DURABLE_TEST_KILL`` (``read``: after reading a batch, before its runs' commit;
``ack``: after the commit, before the ack; ``none``), ``DURABLE_TEST_BATCH``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import durable
from durable.sources import JetStream, RedisStream, Topic

KILL = os.environ.get("DURABLE_TEST_KILL", "none")


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _Crashing:
    """Mixed into a source: SIGKILL this process at the crash point, the first time."""

    def offset(self, records: Any) -> Any:
        if KILL == "read":  # read, not committed: called just before the commit
            _die()
        return super().offset(records)  # type: ignore[misc]

    async def ack(self, records: Any) -> None:
        if KILL == "ack" and records:  # committed, not acknowledged
            _die()
        await super().ack(records)  # type: ignore[misc]


class CrashingRedis(_Crashing, RedisStream):
    pass


class CrashingJetStream(_Crashing, JetStream):
    pass


class CrashingTopic(_Crashing, Topic):
    pass


def _source() -> Any:
    kind, broker = os.environ["DURABLE_TEST_KIND"], os.environ.get("DURABLE_TEST_BROKER", "")
    stream = os.environ["DURABLE_TEST_STREAM"]
    batch = int(os.environ.get("DURABLE_TEST_BATCH", "4"))
    if kind == "redis":
        return CrashingRedis(broker, stream, consumer="worker", batch_size=batch, max_wait=0.2)
    if kind == "jetstream":
        return CrashingJetStream(
            broker,
            stream,
            subject=f"{stream.lower()}.>",
            batch_size=batch,
            max_wait=0.2,
            ack_wait=2.0,
        )
    return CrashingTopic(stream, batch_size=batch, max_wait=0.2)


NAME = os.environ["DURABLE_TEST_NAME"]


@durable.step
async def double(n: int) -> int:
    return n * 2


@durable.workflow(name=NAME, on=_source())
async def handle(values: list[Any]) -> list[int]:
    return [await double(int(value["n"])) for value in values]


async def main() -> None:
    count = int(os.environ["DURABLE_TEST_COUNT"])
    async with durable.Engine(os.environ["DURABLE_TEST_JOURNAL"], poll_interval=0.5) as engine:
        while True:
            runs = await engine.list(name=NAME, limit=100_000)
            done = [r for r in runs if r.status is durable.Status.SUCCEEDED]
            records = 0
            for run in done:
                records += len(await engine.get(run.id).result())
            if records >= count:
                return
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
