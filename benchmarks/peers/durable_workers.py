"""The `durable` side of the worker scenarios (see `benchmarks.peers`): the
measurements of `benchmarks.workers`, run here on the job's fresh database.

Latency: one ``durable worker`` with its default options, a client
``Engine(execute=False)`` starting 1-step runs one at a time.  Throughput:
``durable worker --concurrency 500 --poll 0.1`` processes, warmed up, draining 10-step
runs that the client enqueues.  Both use durable's default durability.
"""

from __future__ import annotations

from typing import Any

from benchmarks import peers, workers


async def worker_latency(job: peers.Job) -> dict[str, Any]:
    if job.steps != 1:
        raise ValueError("benchmarks.workers measures latency with 1-step runs")
    samples_ms = await workers.latency_samples(job.url, job.runs)
    return {"samples": [ms / 1000 for ms in samples_ms]}


async def worker_throughput(job: peers.Job) -> dict[str, Any]:
    if job.steps != 10:
        raise ValueError("benchmarks.workers measures throughput with 10-step runs")
    runs_per_s, _ = await workers.throughput(job.url, job.workers, job.runs)
    return {"seconds": job.runs / runs_per_s}
