"""Workflows for the start-option process tests: each step body appends one line to the
file named by DURABLE_TEST_EFFECTS (run id, partition, start, end, pid), so the test can
check which ran, where, and that runs of one partition never overlapped."""

from __future__ import annotations

import asyncio
import os
import time

import durable

tenants = durable.Queue("tests.e2e.start.tenants", partition_concurrency=1)


@durable.step(name="tests.e2e.start.work")
async def work(partition: str, seconds: float) -> None:
    began = time.time()
    await asyncio.sleep(seconds)
    with open(os.environ["DURABLE_TEST_EFFECTS"], "a") as handle:
        run_id = durable.context().workflow_id
        handle.write(f"{run_id} {partition} {began!r} {time.time()!r} {os.getpid()}\n")


@durable.workflow(name="tests.e2e.start.tenant_job", queue=tenants)
async def tenant_job(partition: str, seconds: float) -> str:
    await work(partition, seconds)
    return partition


@durable.workflow(name="tests.e2e.start.once")
async def once() -> str:
    await work("-", 0.0)
    return "ran"
