"""Worker processes: start-to-result latency, throughput with 1, 2 and 4 workers beside
the in-process engine, and takeover after a SIGKILL.

    python -m benchmarks.workers --db postgresql://postgres@127.0.0.1:5432/bench
    python -m benchmarks.workers                      # a temp SQLite file

Latency: one `durable worker` with its default options; a client that does not execute
starts a 1-step run and waits for its result, one run at a time (p50 and p99 of 200).
In-process: the same N runs of 10 steps started and executed by one `Engine`.
For each worker count, `durable worker` processes are started and warmed up, then N
runs of a 10-step workflow are enqueued by a client that does not execute
(``Engine(execute=False)``) and the workers drain them; the figure is runs (and steps)
per second from the first start to the last result.
The takeover figure: one worker holds 1,000 unfinished runs (each sleeping in a step)
and is SIGKILLed; a second worker is already running; the time from the kill until
all 1,000 have finished.  The journal's tables are emptied between rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import durable

ROOT = Path(__file__).resolve().parents[1]


@durable.step(name="bench.workers.step")
async def step(index: int, delay: float) -> int:
    if delay:
        await asyncio.sleep(delay)
    return index


@durable.workflow(name="bench.workers.ten")
async def ten(delay: float) -> int:
    total = 0
    for index in range(10):
        total += await step(index, delay if index == 2 else 0.0)
    return total


@durable.workflow(name="bench.workers.one")
async def one(index: int) -> int:
    return await step(index, 0.0)


def _spawn(url: str, concurrency: int | None, poll: float | None = 0.1) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "durable.cli", "--db", url, "worker", "benchmarks.workers"]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    if poll is not None:
        command += ["--poll", str(poll)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _enqueue(client: durable.Engine, prefix: str, count: int, delay: float) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    await asyncio.gather(*(client.start(ten, delay, workflow_id=run_id) for run_id in ids))
    return ids


async def _wait_all(client: durable.Engine, ids: list[str]) -> None:
    for run_id in ids:
        await client.get(run_id).result(timeout=600)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def latency(url: str, samples: int) -> tuple[float, float]:
    """p50 and p99 milliseconds from `start()` to the result, through one default worker."""
    async with durable.Engine(url, execute=False, poll_interval=0) as client:
        worker = _spawn(url, None, None)
        try:
            prefix = f"lat-{time.time_ns()}"
            await client.run(one, -1, workflow_id=f"{prefix}-warm")  # the worker is up
            figures = []
            for index in range(samples):
                started = time.perf_counter()
                run = await client.start(one, index, workflow_id=f"{prefix}-{index}")
                await run.result(timeout=60)
                figures.append((time.perf_counter() - started) * 1000)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
    return _percentile(figures, 0.5), _percentile(figures, 0.99)


async def in_process(url: str, runs: int) -> float:
    """Runs per second of the same drain executed by one in-process engine."""
    async with durable.Engine(url, poll_interval=0) as engine:
        started = time.perf_counter()
        ids = await _enqueue(engine, f"ip-{time.time_ns()}", runs, 0.0)
        await _wait_all(engine, ids)
        return runs / (time.perf_counter() - started)


async def throughput(url: str, workers: int, runs: int) -> tuple[float, float]:
    """Runs and steps per second from the first start to the last result, with
    `workers` worker processes already up (their start-up is not timed)."""
    async with durable.Engine(url, execute=False, poll_interval=0) as client:
        procs = [_spawn(url, 64) for _ in range(workers)]
        try:
            prefix = f"tp{workers}-{time.time_ns()}"
            warm = [f"{prefix}-warm-{i}" for i in range(workers * 4)]
            await asyncio.gather(*(client.run(one, 0, workflow_id=w) for w in warm))
            started = time.perf_counter()
            ids = await _enqueue(client, prefix, runs, 0.0)
            await _wait_all(client, ids)
            elapsed = time.perf_counter() - started
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
    return runs / elapsed, runs * 10 / elapsed


async def takeover(url: str, runs: int) -> float:
    async with durable.Engine(url, execute=False, poll_interval=0) as client:
        victim = _spawn(url, runs)
        ids = await _enqueue(client, f"to-{time.time_ns()}", runs, 3.0)
        # wait until the victim holds them all (each run sleeps in its third step)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            held = [i for i in await client.list(status="RUNNING", limit=runs * 2) if i.owner]
            if len(held) >= runs:
                break
            await asyncio.sleep(0.2)
        survivor = _spawn(url, runs)
        await asyncio.sleep(1.0)  # the survivor is up and polling
        killed = time.perf_counter()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        try:
            await _wait_all(client, ids)
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(timeout=60)
        # the runs still had their 3 s step to redo: report the takeover time beyond it
        return time.perf_counter() - killed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--takeover-runs", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--skip-takeover", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.db or f"sqlite:///{os.path.join(folder, 'workers.db')}"
        print(f"backend: {url.split(':', 1)[0]}, {options.runs} runs of 10 steps")
        p50, p99 = await latency(url, options.latency_samples)
        print(f"start-to-result through one worker: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        base = await in_process(url, options.runs)
        print(f"in-process engine: {base:8.0f} runs/s")
        for count in (1, 2, 4):
            runs_per_s, steps_per_s = await throughput(url, count, options.runs)
            print(
                f"{count} worker(s): {runs_per_s:8.0f} runs/s {steps_per_s:9.0f} steps/s "
                f"({runs_per_s / base:.2f}x in-process)"
            )
        if options.skip_takeover:
            return
        seconds = await takeover(url, options.takeover_runs)
        print(
            f"SIGKILL of a worker holding {options.takeover_runs} runs: all finished "
            f"elsewhere {seconds:.2f} s later (each run redoes a 3 s step)"
        )


if __name__ == "__main__":
    asyncio.run(main())
