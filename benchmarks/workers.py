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
all 1,000 have finished.  Each scenario starts on an empty journal (a new SQLite
file, or the Postgres database's ``durable`` schema dropped: do not point ``--db`` at
data you keep).
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
# --concurrency of the throughput workers: enough slots that a worker, like the
# in-process engine beside it, can hold every run in flight and share commits among them
WORKER_SLOTS = 500


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


class ServerCost:
    """What the Postgres server spent between `start` and `stop`: write transactions
    (transaction ids assigned, `pg_current_xact_id`), WAL bytes (`pg_current_wal_lsn`
    difference; both exact, unlike the lazily flushed `pg_stat_*` counters), and the CPU
    seconds of every ``postgres`` process on this machine (from ``/proc``: the server must
    run here, and nothing else should use it meanwhile)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    async def _sample(self) -> dict[str, float]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT pg_current_xact_id()::text::bigint,"
                " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"
            )
            row = await cur.fetchone()
        assert row is not None
        return {"xacts": float(row[0]), "wal_bytes": float(row[1]), "cpu_s": _postgres_cpu()}

    async def start(self) -> None:
        self.before = await self._sample()

    async def stop(self) -> None:
        after = await self._sample()
        self.spent = {key: after[key] - self.before[key] for key in after}

    def per(self, steps: int) -> str:
        s = self.spent
        return (
            f"per step: {s['xacts'] / steps:.3f} write transactions, "
            f"{s['wal_bytes'] / steps:,.0f} WAL bytes, "
            f"{s['cpu_s'] / steps * 1e6:,.0f} us server CPU"
        )


def _postgres_cpu() -> float:
    """CPU seconds used so far by the processes named ``postgres`` on this machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name, rest = stat.split(") ", 1)
        if name.endswith("(postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def latency(url: str, samples: int) -> tuple[float, float]:
    """p50 and p99 milliseconds from `start()` to the result, through one default worker."""
    figures = await latency_samples(url, samples)
    return _percentile(figures, 0.5), _percentile(figures, 0.99)


async def latency_samples(url: str, samples: int) -> list[float]:
    """Milliseconds from `start()` to the result of each of `samples` runs started one
    after another, through one default worker (also used by `benchmarks.compare`)."""
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
    return figures


async def in_process(url: str, runs: int, cost: ServerCost | None = None) -> float:
    """Runs per second of the same drain executed by one in-process engine."""
    async with durable.Engine(url, poll_interval=0) as engine:
        if cost is not None:
            await cost.start()
        started = time.perf_counter()
        ids = await _enqueue(engine, f"ip-{time.time_ns()}", runs, 0.0)
        await _wait_all(engine, ids)
        elapsed = time.perf_counter() - started
        if cost is not None:
            await cost.stop()
        return runs / elapsed


async def throughput(
    url: str, workers: int, runs: int, cost: ServerCost | None = None
) -> tuple[float, float]:
    """Runs and steps per second from the first start to the last result, with
    `workers` worker processes already up (their start-up is not timed)."""
    async with durable.Engine(url, execute=False, poll_interval=0) as client:
        procs = [_spawn(url, WORKER_SLOTS) for _ in range(workers)]
        try:
            prefix = f"tp{workers}-{time.time_ns()}"
            warm = [f"{prefix}-warm-{i}" for i in range(workers * 4)]
            await asyncio.gather(*(client.run(one, 0, workflow_id=w) for w in warm))
            if cost is not None:
                await cost.start()
            started = time.perf_counter()
            ids = await _enqueue(client, prefix, runs, 0.0)
            await _wait_all(client, ids)
            elapsed = time.perf_counter() - started
            if cost is not None:
                await cost.stop()
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


async def _fresh(base_url: str | None, folder: str, name: str) -> str:
    """An empty journal for one scenario: a new SQLite file, or the Postgres database
    with durable's schema dropped (so no scenario reads the runs of another)."""
    if base_url is None:
        return f"sqlite:///{os.path.join(folder, name + '.db')}"
    import psycopg

    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS durable CASCADE")
    return base_url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="Postgres URL (its durable schema is dropped)")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--takeover-runs", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--skip-takeover", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        backend = "sqlite" if options.db is None else "postgres"
        print(f"backend: {backend}, {options.runs} runs of 10 steps")
        url = await _fresh(options.db, folder, "latency")
        p50, p99 = await latency(url, options.latency_samples)
        print(f"start-to-result through one worker: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        steps = options.runs * 10
        url = await _fresh(options.db, folder, "in-process")
        cost = None if options.db is None else ServerCost(url)
        base = await in_process(url, options.runs, cost)
        print(f"in-process engine: {base:8.0f} runs/s")
        if cost is not None:
            print(f"  database cost {cost.per(steps)}")
        for count in (1, 2, 4):
            url = await _fresh(options.db, folder, f"workers-{count}")
            cost = None if options.db is None else ServerCost(url)
            runs_per_s, steps_per_s = await throughput(url, count, options.runs, cost)
            print(
                f"{count} worker(s): {runs_per_s:8.0f} runs/s {steps_per_s:9.0f} steps/s "
                f"({runs_per_s / base:.2f}x in-process)"
            )
            if cost is not None:
                print(f"  database cost {cost.per(steps)}")
        if options.skip_takeover:
            return
        url = await _fresh(options.db, folder, "takeover")
        seconds = await takeover(url, options.takeover_runs)
        print(
            f"SIGKILL of a worker holding {options.takeover_runs} runs: all finished "
            f"elsewhere {seconds:.2f} s later (each run redoes a 3 s step)"
        )


if __name__ == "__main__":
    asyncio.run(main())
