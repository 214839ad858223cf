"""The DBOS Transact side of each scenario (see `benchmarks.peers`), default settings.

DBOS is a process-wide singleton: each measurement configures it on the job's
database, launches it (which also recovers pending workflows) and destroys it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dbos import DBOS, SetWorkflowID

from benchmarks import peers

_fired: dict[int, float] = {}
_crash: peers.Progress | None = None


@DBOS.step()
async def noop(i: int) -> int:
    return i


@DBOS.step()
async def mark(token: int) -> int:
    _fired[token] = time.perf_counter()
    return token


@DBOS.step()
async def stage(i: int) -> int:
    if i == peers.CRASH_AFTER and _crash is not None:
        _crash.reach()
        await asyncio.Event().wait()  # held here until the SIGKILL
    return i


@DBOS.workflow()
async def sequential_wf(n: int) -> int:
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


@DBOS.workflow()
async def first_step_wf(token: int) -> int:
    return await mark(token)


@DBOS.workflow()
async def staged_wf() -> int:
    total = 0
    for i in range(peers.RECOVERY_STEPS):
        total += await stage(i)
    return total


@DBOS.workflow()
async def fanout_wf(n: int) -> int:
    return sum(await asyncio.gather(*(noop(i) for i in range(n))))


def _launch(job: peers.Job) -> None:
    DBOS(config={"name": "compare", "system_database_url": job.url, "log_level": "WARNING"})
    DBOS.launch()


async def sequential(job: peers.Job) -> dict[str, Any]:
    _launch(job)
    try:
        started = time.perf_counter()
        handle = await DBOS.start_workflow_async(sequential_wf, job.steps)
        await handle.get_result()
        return {"seconds": peers.elapsed(started)}
    finally:
        DBOS.destroy()


async def concurrent(job: peers.Job) -> dict[str, Any]:
    _launch(job)
    try:
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(DBOS.start_workflow_async(sequential_wf, job.steps) for _ in range(job.runs))
        )
        await asyncio.gather(*(handle.get_result() for handle in handles))
        return {"seconds": peers.elapsed(started)}
    finally:
        DBOS.destroy()


async def latency(job: peers.Job) -> dict[str, Any]:
    _launch(job)
    samples = []
    try:
        for token in range(job.runs):
            started = time.perf_counter()
            handle = await DBOS.start_workflow_async(first_step_wf, token)
            await handle.get_result()
            samples.append(_fired.pop(token) - started)
        return {"samples": samples}
    finally:
        DBOS.destroy()


async def _start_staged(workflow_id: str) -> None:
    with SetWorkflowID(workflow_id):
        await DBOS.start_workflow_async(staged_wf)


async def recovery_prepare(job: peers.Job) -> dict[str, Any]:
    global _crash
    _crash = peers.Progress(job.runs)
    _launch(job)
    await asyncio.gather(*(_start_staged(f"rec-{i}") for i in range(job.runs)))
    await asyncio.Event().wait()
    return {}


async def _pending() -> int:
    # recovery passes workflows through ENQUEUED before PENDING again
    listed = await DBOS.list_workflows_async(
        status=["PENDING", "ENQUEUED"], load_input=False, load_output=False, limit=1
    )
    return len(listed)


async def recovery(job: peers.Job) -> dict[str, Any]:
    started = time.perf_counter()
    _launch(job)  # launching recovers this executor's pending workflows in the background
    try:
        while await _pending():
            await asyncio.sleep(0.02)
        seconds = peers.elapsed(started)
        done = await DBOS.list_workflows_async(
            status="SUCCESS", load_input=False, load_output=False
        )
        if len(done) != job.runs:
            raise RuntimeError(f"{len(done)} of {job.runs} recovered workflows succeeded")
        return {"seconds": seconds}
    finally:
        DBOS.destroy()


async def fanout(job: peers.Job) -> dict[str, Any]:
    _launch(job)
    try:
        before = peers.rss_mib()
        started = time.perf_counter()
        handle = await DBOS.start_workflow_async(fanout_wf, job.steps)
        await handle.get_result()
        return {"seconds": peers.elapsed(started), "peak_mib": peers.peak_growth_mib(before)}
    finally:
        DBOS.destroy()
