"""The DBOS side of the worker scenarios (see `benchmarks.peers`): a DBOS queue, DBOS
worker processes dequeuing from it, and a `DBOSClient` enqueuing from the peer process.

    python -m benchmarks.peers.dbos_workers --url URL --executor ID [--slots N]

is one worker: it launches DBOS on the job's database (the first one creates the
schema), registers the queue, prints ``READY`` and serves until SIGTERM.  Every
worker has its own executor ID, as DBOS asks of processes sharing a queue with a
per-worker limit.  The client runs no workflow code: it enqueues by workflow name.

DBOS settings are its defaults except the queue's polling interval (`QUEUE_POLL`,
default 1 s) and, for throughput, ``worker_concurrency`` (the slots a durable worker
gets); a client waits for a result by polling (`RESULT_POLL`, default 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import threading
import time
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions

from benchmarks import peers
from benchmarks.peers import processes

APP = "compare-workers"
QUEUE = "bench"
WORKFLOW = "compare.workers.steps"
# seconds between a worker's looks at the queue (DBOS default 1 s: the latency would
# be mostly that wait); the same 10 ms as the Absurd worker's poll
QUEUE_POLL = 0.01
# seconds between a client's looks for one result (DBOS default 1 s)
RESULT_POLL = 0.001
# seconds between looks for the end of a drain (one query for all runs)
DRAIN_POLL = 0.01
# DBOS looks for newly registered queues once a second; a worker is ready after that
QUEUE_DISCOVERY = 1.2


@DBOS.step(name="compare.workers.noop")
async def noop(i: int) -> int:
    return i


@DBOS.workflow(name=WORKFLOW)
async def steps_wf(n: int) -> int:
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


def serve(url: str, executor: str, slots: int | None) -> None:
    """One DBOS worker process: launch, register the queue, serve until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config: Any = {
        "name": APP,
        "system_database_url": url,
        "log_level": "WARNING",
        "executor_id": executor,
    }
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(
        QUEUE,
        worker_concurrency=slots,
        polling_interval_sec=QUEUE_POLL,
        on_conflict="always_update",
    )
    time.sleep(QUEUE_DISCOVERY)
    print("READY", flush=True)
    stop.wait()
    DBOS.destroy()


class _Cluster:
    """`count` worker processes and a client, started in that order (the client needs
    the schema the first worker creates)."""

    def __init__(self, job: peers.Job, count: int, slots: int | None) -> None:
        self.job = job
        self.procs = processes.WorkerProcesses()
        self.count = count
        self.slots = slots
        self.client: DBOSClient | None = None

    def __enter__(self) -> _Cluster:
        try:
            for index in range(self.count):
                args = ["--url", self.job.url, "--executor", f"worker-{index}"]
                if self.slots is not None:
                    args += ["--slots", str(self.slots)]
                self.procs.start(__name__, *args)
            self.client = DBOSClient(system_database_url=self.job.url, application_name=APP)
        except BaseException:
            self.procs.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.destroy()
        self.procs.stop()

    async def run(self, steps: int) -> Any:
        """Enqueue one run and wait for its result, polling for it as a client does."""
        assert self.client is not None
        options: EnqueueOptions = {"workflow_name": WORKFLOW, "queue_name": QUEUE}
        handle = await self.client.enqueue_async(options, steps)
        return await handle.get_result(polling_interval_sec=RESULT_POLL)

    async def enqueue(self, steps: int) -> None:
        assert self.client is not None
        options: EnqueueOptions = {"workflow_name": WORKFLOW, "queue_name": QUEUE}
        await self.client.enqueue_async(options, steps)

    async def drained(self) -> None:
        """Wait until nothing is left to run: one query every `DRAIN_POLL` seconds."""
        client = self.client
        assert client is not None

        async def empty() -> bool:
            left = await client.list_workflows_async(
                status=["ENQUEUED", "PENDING"], limit=1, load_input=False, load_output=False
            )
            return not left

        await processes.poll_until(empty, DRAIN_POLL, self.procs)

    async def check(self, count: int) -> None:
        """Raise unless `count` workflows have succeeded."""
        assert self.client is not None
        done = await self.client.list_workflows_async(
            status="SUCCESS", load_input=False, load_output=False
        )
        if len(done) != count:
            raise RuntimeError(f"{len(done)} of {count} DBOS workflows succeeded")


async def worker_latency(job: peers.Job) -> dict[str, Any]:
    """Start to result through one worker (DBOS's default worker concurrency)."""
    arrivals = random.Random(0)
    samples = []
    with _Cluster(job, 1, None) as cluster:
        await cluster.run(job.steps)  # warm up
        for _ in range(job.runs):
            # a random point of the worker's poll cycle, as a request would come
            await asyncio.sleep(arrivals.uniform(0, QUEUE_POLL))
            started = time.perf_counter()
            await cluster.run(job.steps)
            samples.append(peers.elapsed(started))
        await cluster.check(job.runs + 1)
    return {"samples": samples}


async def worker_throughput(job: peers.Job) -> dict[str, Any]:
    """`job.runs` runs enqueued by the client and drained by `job.workers` workers."""
    with _Cluster(job, job.workers, processes.THROUGHPUT_SLOTS) as cluster:
        warm = job.workers * 4
        await asyncio.gather(*(cluster.enqueue(1) for _ in range(warm)))
        await cluster.drained()
        started = time.perf_counter()
        await asyncio.gather(*(cluster.enqueue(job.steps) for _ in range(job.runs)))
        await cluster.drained()
        seconds = peers.elapsed(started)
        await cluster.check(warm + job.runs)
        return {"seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--executor", required=True)
    parser.add_argument("--slots", type=int, default=None)
    options = parser.parse_args()
    serve(options.url, options.executor, options.slots)


if __name__ == "__main__":
    main()
