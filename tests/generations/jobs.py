"""Workflows the crash tests of generations and heartbeats run in real `durable worker`
processes (imported by the worker and by the test, which starts and inspects runs)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import durable


@durable.step(name="genjob.add")
def add(total: int, n: int) -> int:
    time.sleep(0.001)
    return total + n


@durable.workflow(name="genjob.chain")
async def chain(i: int, total: int, until: int) -> int:
    """Adds 0..until-1, five steps per generation."""
    for _ in range(5):
        if i == until:
            return total
        total = await add(total, i)
        i += 1
    durable.continue_as_new(i, total, until)


@durable.step(
    name="genjob.beating", heartbeat_timeout=30, retry=durable.Retry(max_attempts=3, initial=0)
)
def beating() -> list[Any]:
    """Heartbeats until the process is killed; the attempt after the crash returns what it
    was handed."""
    ctx = durable.context()
    if ctx.heartbeat_details is None:
        for i in itertools.count():
            durable.heartbeat({"done": i})
            time.sleep(0.005)
    return [ctx.step_attempt, ctx.heartbeat_details]


@durable.workflow(name="genjob.beater")
async def beater() -> list[Any]:
    return await beating()
