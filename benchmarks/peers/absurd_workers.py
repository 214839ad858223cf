"""The Absurd side of the worker scenarios (see `benchmarks.peers`): Postgres only.

    python -m benchmarks.peers.absurd_workers --url URL [--slots N]

is one worker: an `AsyncAbsurd` on a connection of its own running the SDK's
``start_worker`` on the ``bench`` queue until SIGTERM.  The peer process installs
Absurd's schema and the queue (as `absurd_peer` does), starts the workers, and spawns
tasks with a client `AsyncAbsurd` that registers no task.  Settings as in
`absurd_peer`: the SDK's defaults except ``poll_interval`` (10 ms, default 0.25 s) and
``concurrency`` (its default 1 for latency; the slots a durable worker gets for
throughput).  The client learns that a task has ended as a client of Absurd can, by
asking for its result: every `RESULT_POLL` seconds for one task (the SDK's
``await_task_result`` backs off from 50 ms to 1 s), and for a drain one count of the
unfinished tasks every `DRAIN_POLL` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import signal
import time
from typing import Any

import psycopg
from absurd_sdk import AsyncAbsurd

from benchmarks import peers
from benchmarks.peers import absurd_peer, processes

QUEUE = absurd_peer.QUEUE
POLL_INTERVAL = absurd_peer.POLL_INTERVAL
TASK = "compare.workers.steps"
RESULT_POLL = 0.001  # seconds between a client's looks at one task's result
DRAIN_POLL = 0.01  # seconds between counts of the unfinished tasks
CLAIM_TIMEOUT = 120  # the SDK's default lease


async def _noop(i: int) -> int:
    return i


async def steps_task(params: Any, ctx: Any) -> int:
    total = 0
    for i in range(params["n"]):
        total += await ctx.step("noop", functools.partial(_noop, i))
    return total


async def serve(url: str, slots: int) -> None:
    """One Absurd worker process: serve the queue until SIGTERM."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        app = AsyncAbsurd(conn, queue_name=QUEUE)
        app.register_task(TASK)(steps_task)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, app.stop_worker)
        print("READY", flush=True)
        await app.start_worker(
            claim_timeout=CLAIM_TIMEOUT, concurrency=slots, poll_interval=POLL_INTERVAL
        )


class _Cluster:
    """The schema and queue, `count` worker processes, and a client."""

    def __init__(self, procs: processes.WorkerProcesses, conn: psycopg.AsyncConnection[Any]):
        self.procs = procs
        self.conn = conn
        self.client = AsyncAbsurd(conn, queue_name=QUEUE)

    @classmethod
    async def open(cls, job: peers.Job, count: int, slots: int) -> _Cluster:
        await absurd_peer.install(job)
        procs = processes.WorkerProcesses()
        try:
            for _ in range(count):
                procs.start(__name__, "--url", job.url, "--slots", str(slots))
            return cls(procs, await absurd_peer.connect(job))
        except BaseException:
            procs.stop()
            raise

    async def close(self) -> None:
        self.procs.stop()
        await self.conn.close()

    async def spawn(self, steps: int) -> str:
        spawned = await self.client.spawn(TASK, {"n": steps}, queue=QUEUE)
        return str(spawned["task_id"])

    async def run(self, steps: int) -> None:
        """Spawn one task and wait until its result is there, looking every `RESULT_POLL`."""
        task_id = await self.spawn(steps)
        while True:
            snapshot = await self.client.fetch_task_result(task_id)
            if snapshot is not None and snapshot.state in ("completed", "failed", "cancelled"):
                if snapshot.state != "completed":
                    raise RuntimeError(f"Absurd task {task_id} ended {snapshot.state}")
                return
            self.procs.check()
            await asyncio.sleep(RESULT_POLL)

    async def _count(self, states: str) -> int:
        query = f"SELECT count(*) FROM absurd.t_{QUEUE} WHERE state IN ({states})"
        row = await (await self.conn.execute(query)).fetchone()
        return int(row[0]) if row else 0

    async def drained(self) -> None:
        """Wait until no task is pending, running or sleeping."""

        async def empty() -> bool:
            return not await self._count("'pending', 'running', 'sleeping'")

        await processes.poll_until(empty, DRAIN_POLL, self.procs)

    async def check(self, count: int) -> None:
        done = await self._count("'completed'")
        if done != count:
            raise RuntimeError(f"{done} of {count} Absurd tasks completed")


async def worker_latency(job: peers.Job) -> dict[str, Any]:
    """Spawn to result through one worker with the SDK's default concurrency (1)."""
    arrivals = random.Random(0)
    samples = []
    cluster = await _Cluster.open(job, 1, 1)
    try:
        await cluster.run(job.steps)  # warm up
        for _ in range(job.runs):
            # a random point of the worker's poll cycle, as a request would come
            await asyncio.sleep(arrivals.uniform(0, POLL_INTERVAL))
            started = time.perf_counter()
            await cluster.run(job.steps)
            samples.append(peers.elapsed(started))
        await cluster.check(job.runs + 1)
    finally:
        await cluster.close()
    return {"samples": samples}


async def worker_throughput(job: peers.Job) -> dict[str, Any]:
    """`job.runs` tasks spawned by the client and drained by `job.workers` workers."""
    cluster = await _Cluster.open(job, job.workers, processes.THROUGHPUT_SLOTS)
    try:
        warm = job.workers * 4
        await asyncio.gather(*(cluster.spawn(1) for _ in range(warm)))
        await cluster.drained()
        started = time.perf_counter()
        await asyncio.gather(*(cluster.spawn(job.steps) for _ in range(job.runs)))
        await cluster.drained()
        seconds = peers.elapsed(started)
        await cluster.check(warm + job.runs)
    finally:
        await cluster.close()
    return {"seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--slots", type=int, default=1)
    options = parser.parse_args()
    asyncio.run(serve(options.url, options.slots))


if __name__ == "__main__":
    main()
