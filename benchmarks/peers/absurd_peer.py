"""The Absurd side of each scenario (see `benchmarks.peers`): Postgres only.

Absurd keeps tasks, runs and step checkpoints in Postgres tables and runs them in
workers that poll the queue (``absurd-sdk``).  Each measurement installs Absurd's
schema in the fresh benchmark database (the SQL ``absurdctl init`` applies, bundled
in the ``absurdctl`` package), creates one queue, and runs an ``AsyncAbsurd`` worker
inside this process while a second ``AsyncAbsurd`` client spawns the tasks, each
with its own connection.  A workflow is a task; a step is ``ctx.step(name, fn)``.

The worker tells the peer when it is done with a task (after the SDK has written
the run's completion), so a finish is seen at once rather than by polling
``await_task_result``, which backs off from 50 ms to 1 s between looks.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import absurdctl
import psycopg
from absurd_sdk import AsyncAbsurd

from benchmarks import peers

QUEUE = "bench"
POLL_INTERVAL = 0.01  # seconds between claims while the queue is empty (SDK default 0.25)
CLAIM_TIMEOUT = 120  # the SDK's default lease, renewed by every checkpoint write
RECOVERY_CLAIM_TIMEOUT = 10  # a shorter lease for the crashed runs, to wait less

_fired: dict[int, float] = {}
_crash: peers.Progress | None = None

Handler = Callable[[Any, Any], Awaitable[Any]]


async def _noop(i: int) -> int:
    return i


async def _mark(token: int) -> int:
    _fired[token] = time.perf_counter()
    return token


async def _stage(i: int) -> int:
    if i == peers.CRASH_AFTER and _crash is not None:
        _crash.reach()
        await asyncio.Event().wait()  # held here until the SIGKILL
    return i


async def sequential_task(params: Any, ctx: Any) -> int:
    total = 0
    for i in range(params["n"]):
        total += await ctx.step("noop", functools.partial(_noop, i))
    return total


async def first_step_task(params: Any, ctx: Any) -> int:
    result: int = await ctx.step("mark", functools.partial(_mark, params["token"]))
    return result


async def staged_task(params: Any, ctx: Any) -> int:
    total = 0
    for i in range(peers.RECOVERY_STEPS):
        total += await ctx.step("stage", functools.partial(_stage, i))
    return total


async def fanout_task(params: Any, ctx: Any) -> int:
    steps = (ctx.step("noop", functools.partial(_noop, i)) for i in range(params["n"]))
    return sum(await asyncio.gather(*steps))


TASKS: dict[str, Handler] = {
    "compare.sequential": sequential_task,
    "compare.first_step": first_step_task,
    "compare.staged": staged_task,
    "compare.fanout": fanout_task,
}


class _Worker(AsyncAbsurd):
    """An `AsyncAbsurd` worker that reports each task it is done with."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        super().__init__(conn, queue_name=QUEUE)
        for name, handler in TASKS.items():
            self.register_task(name)(handler)
        self.ended: set[str] = set()
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.target = 0
        self.all_ended = asyncio.Event()

    async def _execute_task(self, task: Any, claim_timeout: int) -> None:
        await super()._execute_task(task, claim_timeout)
        task_id = str(task["task_id"])
        self.ended.add(task_id)
        waiter = self.waiters.pop(task_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.target and len(self.ended) >= self.target:
            self.all_ended.set()

    def ended_future(self, task_id: str) -> asyncio.Future[None]:
        """Resolved once the worker has finished with `task_id` (completed or not)."""
        future = asyncio.get_running_loop().create_future()
        if task_id in self.ended:
            future.set_result(None)
        else:
            self.waiters[task_id] = future
        return future


async def connect(job: peers.Job) -> psycopg.AsyncConnection[Any]:
    if job.backend != "postgres":
        raise RuntimeError("Absurd runs on Postgres only")
    return await psycopg.AsyncConnection.connect(job.url, autocommit=True)


class _Absurd:
    """A worker running in the background and a client spawning tasks for it, each on
    a connection of its own.  The connections are opened here and handed to the SDK:
    left to itself, `AsyncAbsurd` connects lazily, and spawns started together would
    each open one."""

    def __init__(
        self,
        worker: psycopg.AsyncConnection[Any],
        client: psycopg.AsyncConnection[Any],
        concurrency: int,
        claim_timeout: int,
    ) -> None:
        self.connections = (worker, client)
        self.worker = _Worker(worker)
        self.client = AsyncAbsurd(client, queue_name=QUEUE)
        self.concurrency = max(1, concurrency)
        self.claim_timeout = claim_timeout
        self.runner: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, job: peers.Job, concurrency: int, claim_timeout: int = CLAIM_TIMEOUT
    ) -> _Absurd:
        return cls(await connect(job), await connect(job), concurrency, claim_timeout)

    def start(self) -> None:
        self.runner = asyncio.create_task(
            self.worker.start_worker(
                claim_timeout=self.claim_timeout,
                concurrency=self.concurrency,
                poll_interval=POLL_INTERVAL,
            )
        )

    async def close(self) -> None:
        self.worker.stop_worker()
        if self.runner is not None:
            try:
                await asyncio.wait_for(self.runner, 10)
            except TimeoutError:
                pass
        for conn in self.connections:
            await conn.close()

    async def spawn(self, name: str, params: dict[str, Any]) -> str:
        spawned = await self.client.spawn(name, params, queue=QUEUE)
        return str(spawned["task_id"])

    async def watch(self, awaitable: Awaitable[Any]) -> Any:
        """`awaitable`'s result, or the worker's error if the worker stops first."""
        waiting = asyncio.ensure_future(awaitable)
        assert self.runner is not None
        await asyncio.wait({waiting, self.runner}, return_when=asyncio.FIRST_COMPLETED)
        if waiting.done():
            return waiting.result()
        waiting.cancel()
        self.runner.result()  # raises the worker's error, if it has one
        raise RuntimeError("the Absurd worker stopped")

    async def finished(self, task_ids: list[str]) -> None:
        """Wait until the worker is done with every task (`check_completed` says how)."""
        await self.watch(asyncio.gather(*(self.worker.ended_future(t) for t in task_ids)))

    async def check_completed(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            snapshot = await self.client.fetch_task_result(task_id)
            if snapshot is None or snapshot.state != "completed":
                state = snapshot.state if snapshot else "missing"
                failure = snapshot.failure if snapshot else None
                raise RuntimeError(f"Absurd task {task_id} ended {state}: {failure}")


async def install(job: peers.Job) -> None:
    """Absurd's schema (what ``absurdctl init`` applies) and the queue, in the job's
    fresh database: applied through psycopg, so no ``psql`` binary is needed."""
    async with await connect(job) as conn:
        await conn.execute(absurdctl.BUNDLED_SCHEMA_SQL)
        await AsyncAbsurd(conn, queue_name=QUEUE).create_queue(QUEUE)


async def _prepared(job: peers.Job, concurrency: int) -> _Absurd:
    await install(job)
    absurd = await _Absurd.open(job, concurrency)
    absurd.start()
    return absurd


async def sequential(job: peers.Job) -> dict[str, Any]:
    absurd = await _prepared(job, 1)
    try:
        started = time.perf_counter()
        task_id = await absurd.spawn("compare.sequential", {"n": job.steps})
        await absurd.finished([task_id])
        seconds = peers.elapsed(started)
        await absurd.check_completed([task_id])
        return {"seconds": seconds}
    finally:
        await absurd.close()


async def concurrent(job: peers.Job) -> dict[str, Any]:
    absurd = await _prepared(job, job.runs)
    try:
        started = time.perf_counter()
        task_ids = await asyncio.gather(
            *(absurd.spawn("compare.sequential", {"n": job.steps}) for _ in range(job.runs))
        )
        await absurd.finished(list(task_ids))
        seconds = peers.elapsed(started)
        await absurd.check_completed(list(task_ids))
        return {"seconds": seconds}
    finally:
        await absurd.close()


async def latency(job: peers.Job) -> dict[str, Any]:
    absurd = await _prepared(job, 1)
    samples = []
    arrivals = random.Random(0)
    try:
        for token in range(job.runs):
            # Start at a random point of the worker's poll cycle, as a request would:
            # started right after the last run ended, every start would come just after
            # an empty claim and wait the whole poll interval.
            await asyncio.sleep(arrivals.uniform(0, POLL_INTERVAL))
            started = time.perf_counter()
            task_id = await absurd.spawn("compare.first_step", {"token": token})
            await absurd.finished([task_id])
            samples.append(_fired.pop(token) - started)
            await absurd.check_completed([task_id])
        return {"samples": samples}
    finally:
        await absurd.close()


async def recovery_prepare(job: peers.Job) -> dict[str, Any]:
    global _crash
    _crash = peers.Progress(job.runs)
    await install(job)
    absurd = await _Absurd.open(job, job.runs, claim_timeout=RECOVERY_CLAIM_TIMEOUT)
    # Every run is spawned before the worker starts, so that its one claim takes them
    # all: the SDK's worker claims again only once its whole batch has finished, and
    # these runs never finish here.
    await asyncio.gather(*(absurd.spawn("compare.staged", {}) for _ in range(job.runs)))
    absurd.start()
    await absurd.watch(asyncio.Event().wait())
    return {}


async def _lease_wait(job: peers.Job) -> float:
    """Sleep until the killed worker's leases have expired; how long that took.

    Absurd has no other way to learn that a worker died: its runs are claimed again
    (as a new attempt) once ``claim_timeout`` has passed since their last checkpoint.
    """
    started = time.perf_counter()
    query = (
        f"SELECT extract(epoch FROM max(claim_expires_at) - absurd.current_time()) "
        f"FROM absurd.r_{QUEUE} WHERE state = 'running'"
    )
    async with await connect(job) as conn:
        row = await (await conn.execute(query)).fetchone()
    left = float(row[0]) if row and row[0] is not None else 0.0
    await asyncio.sleep(max(0.0, left) + 0.05)
    return peers.elapsed(started)


async def recovery(job: peers.Job) -> dict[str, Any]:
    lease_wait = await _lease_wait(job)
    started = time.perf_counter()
    absurd = await _Absurd.open(job, job.runs)
    absurd.worker.target = job.runs
    absurd.start()
    try:
        await absurd.watch(absurd.worker.all_ended.wait())
        seconds = peers.elapsed(started)
        async with await connect(job) as conn:
            cursor = await conn.execute(
                f"SELECT count(*) FROM absurd.t_{QUEUE} WHERE state = 'completed'"
            )
            row = await cursor.fetchone()
        done = row[0] if row else 0
        if done != job.runs:
            raise RuntimeError(f"{done} of {job.runs} recovered Absurd tasks completed")
        return {"seconds": seconds, "lease_wait": lease_wait}
    finally:
        await absurd.close()


async def fanout(job: peers.Job) -> dict[str, Any]:
    absurd = await _prepared(job, 1)
    try:
        before = peers.rss_mib()
        started = time.perf_counter()
        task_id = await absurd.spawn("compare.fanout", {"n": job.steps})
        await absurd.finished([task_id])
        figures = {"seconds": peers.elapsed(started), "peak_mib": peers.peak_growth_mib(before)}
        await absurd.check_completed([task_id])
        return figures
    finally:
        await absurd.close()
