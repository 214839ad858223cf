"""The `durable` side of each scenario (see `benchmarks.peers`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import durable
from benchmarks import peers

_fired: dict[int, float] = {}
_crash: peers.Progress | None = None


@durable.step(name="compare.noop")
async def noop(i: int) -> int:
    return i


@durable.step(name="compare.mark")
async def mark(token: int) -> int:
    _fired[token] = time.perf_counter()
    return token


@durable.step(name="compare.stage")
async def stage(i: int) -> int:
    if i == peers.CRASH_AFTER and _crash is not None:
        _crash.reach()
        await asyncio.Event().wait()  # held here until the SIGKILL
    return i


@durable.workflow(name="compare.sequential")
async def sequential_wf(n: int) -> int:
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


@durable.workflow(name="compare.first_step")
async def first_step_wf(token: int) -> int:
    return await mark(token)


@durable.workflow(name="compare.staged")
async def staged_wf() -> int:
    total = 0
    for i in range(peers.RECOVERY_STEPS):
        total += await stage(i)
    return total


@durable.workflow(name="compare.fanout")
async def fanout_wf(n: int) -> int:
    return sum(await asyncio.gather(*(noop(i) for i in range(n))))


def _engine(job: peers.Job) -> durable.Engine:
    return durable.Engine(job.url, poll_interval=0, durability=job.durability)


async def sequential(job: peers.Job) -> dict[str, Any]:
    async with _engine(job) as engine:
        started = time.perf_counter()
        await engine.run(sequential_wf, job.steps)
        return {"seconds": peers.elapsed(started)}


async def concurrent(job: peers.Job) -> dict[str, Any]:
    async with _engine(job) as engine:
        started = time.perf_counter()
        runs = await asyncio.gather(
            *(engine.start(sequential_wf, job.steps) for _ in range(job.runs))
        )
        await asyncio.gather(*(run.result() for run in runs))
        return {"seconds": peers.elapsed(started)}


async def latency(job: peers.Job) -> dict[str, Any]:
    samples = []
    async with _engine(job) as engine:
        for token in range(job.runs):
            started = time.perf_counter()
            run = await engine.start(first_step_wf, token)
            await run.result()
            samples.append(_fired.pop(token) - started)
    return {"samples": samples}


async def recovery_prepare(job: peers.Job) -> dict[str, Any]:
    global _crash
    _crash = peers.Progress(job.runs)
    async with _engine(job) as engine:
        await asyncio.gather(
            *(engine.start(staged_wf, workflow_id=f"rec-{i}") for i in range(job.runs))
        )
        await asyncio.Event().wait()
    return {}


async def recovery(job: peers.Job) -> dict[str, Any]:
    started = time.perf_counter()
    # The engine's default poll interval, as a restarted worker has: entering resumes
    # at most 1,000 unfinished runs (`Journal.claimable`'s limit); the poll takes the rest.
    engine = durable.Engine(job.url, durability=job.durability)
    async with engine:
        await asyncio.gather(*(engine.get(f"rec-{i}").result() for i in range(job.runs)))
        seconds = peers.elapsed(started)
        done = await engine.list(status="SUCCEEDED", limit=job.runs + 1)
    if len(done) != job.runs:
        raise RuntimeError(f"{len(done)} of {job.runs} recovered runs succeeded")
    return {"seconds": seconds}


async def fanout(job: peers.Job) -> dict[str, Any]:
    async with _engine(job) as engine:
        before = peers.rss_mib()
        started = time.perf_counter()
        await engine.run(fanout_wf, job.steps)
        return {"seconds": peers.elapsed(started), "peak_mib": peers.peak_growth_mib(before)}
