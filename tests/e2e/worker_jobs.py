"""Workflows for the worker-process tests: every step body appends a line to the file
named by DURABLE_TEST_EFFECTS (run id, step index, pid), so the test can count them."""

from __future__ import annotations

import asyncio
import os
import time

import durable


def _effect(run_id: str, index: int) -> None:
    with open(os.environ["DURABLE_TEST_EFFECTS"], "a") as handle:
        handle.write(f"{run_id} {index} {os.getpid()}\n")


@durable.step(name="tests.workers.work")
async def work(index: int, delay: float) -> int:
    _effect(durable.context().workflow_id, index)
    await asyncio.sleep(delay)
    return index


@durable.workflow(name="tests.workers.ten")
async def ten(delay: float) -> int:
    total = 0
    for index in range(10):
        total += await work(index, delay)
    return total


@durable.workflow(name="tests.workers.nap")
async def nap(seconds: float) -> str:
    await work(0, 0.0)
    await durable.sleep(seconds)
    await work(1, 0.0)
    return "rested"


narrow = durable.Queue("tests.workers.narrow", concurrency=2)
metered = durable.Queue("tests.workers.metered", rate_limit=3, period=1.0)


@durable.step(name="tests.workers.timed")
async def timed(delay: float) -> None:
    started = time.time()
    await asyncio.sleep(delay)
    with open(os.environ["DURABLE_TEST_EFFECTS"], "a") as handle:
        handle.write(f"{durable.context().workflow_id} {started} {time.time()}\n")


@durable.workflow(name="tests.workers.narrow_job", queue=narrow)
async def narrow_job(delay: float) -> str:
    await timed(delay)
    return "ok"


@durable.workflow(name="tests.workers.metered_job", queue=metered)
async def metered_job() -> str:
    await timed(0.0)
    return "ok"


@durable.step(name="tests.workers.long")
async def long_step(seconds: float) -> None:
    _effect(durable.context().workflow_id, 0)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _effect(durable.context().workflow_id, -1)
        raise


@durable.workflow(name="tests.workers.stuck")
async def stuck(seconds: float) -> str:
    await long_step(seconds)
    return "finished"


@durable.workflow(name="tests.workers.ranked")
async def ranked(delay: float) -> str:
    await timed(delay)
    return "ok"
