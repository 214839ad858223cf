"""Workflows for the worker-process tests: every step body appends a line to the file
named by DURABLE_TEST_EFFECTS (run id, step index, pid), so the test can count them."""

from __future__ import annotations

import asyncio
import os

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
