"""Start options: what a partition limit costs the claims, and how late delayed starts
begin.

    python -m benchmarks.starts                      # a temp SQLite file
    python -m benchmarks.starts --db postgresql://postgres@127.0.0.1:5432/bench_starts

Claims: `--runs` runs of a one-step workflow are created PENDING, then one engine
(concurrency 64) executes them all; runs/s with the queue unlimited (claimed in batches,
`claim_batch`), with ``Queue(partition_concurrency=n)`` over 50 partitions (n large
enough never to bind: the figure is the price of the check, one limited claim at a
time), and the raw database doing nothing but the single-row claim UPDATE each run costs.

Lateness: `--delayed` runs started with delays spread over 0.2-1.2 s, with the worker's
poll at 1 s; lateness = the claim's time minus the run's due time, p50/p99, with the
dispatcher's due-time timer and without it (the poll alone).

The Postgres database's ``durable`` schema is dropped before each measurement: do not
point ``--db`` at data you keep.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from typing import Any

import durable
from durable.worker import dispatch

open_queue = durable.Queue("bench.starts.open")
partitioned = durable.Queue("bench.starts.partitioned", partition_concurrency=1000)


@durable.step(name="bench.starts.noop")
async def noop(index: int) -> int:
    return index


@durable.workflow(name="bench.starts.open_job", queue=open_queue)
async def open_job(index: int) -> int:
    return await noop(index)


@durable.workflow(name="bench.starts.partitioned_job", queue=partitioned)
async def partitioned_job(index: int) -> int:
    return await noop(index)


async def _fresh(base_url: str | None, folder: str, name: str) -> str:
    if base_url is None:
        return f"sqlite:///{os.path.join(folder, name + '.db')}"
    import psycopg

    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS durable CASCADE")
    return base_url


async def claims(url: str, runs: int, partitions: bool) -> float:
    """Runs/s executing `runs` pre-created runs in one engine."""
    wf: Any = partitioned_job if partitions else open_job
    async with durable.Engine(url, execute=False) as starter:
        for index in range(runs):
            key = f"tenant-{index % 50}" if partitions else None
            await starter.start(wf, index, partition_key=key)
    began = time.perf_counter()
    async with durable.Engine(url, concurrency=64, poll_interval=0.5) as engine:
        while True:
            done = await engine.list(status="SUCCEEDED", limit=runs)
            if len(done) >= runs:
                break
            await asyncio.sleep(0.02)
    return runs / (time.perf_counter() - began)


async def raw_claims(url: str, runs: int) -> float:
    """Single-row claim UPDATEs/s on the same database, each its own transaction."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")  # as the journal's "process" durability
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, owner TEXT)")
        conn.executemany("INSERT INTO jobs (owner) VALUES (NULL)", [()] * runs)
        began = time.perf_counter()
        for index in range(1, runs + 1):
            conn.execute("UPDATE jobs SET owner = 'me' WHERE id = ? AND owner IS NULL", (index,))
        elapsed = time.perf_counter() - began
        conn.close()
        return runs / elapsed
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("DROP TABLE IF EXISTS bench_jobs")
        await conn.execute("CREATE TABLE bench_jobs (id serial PRIMARY KEY, owner text)")
        await conn.execute(
            "INSERT INTO bench_jobs (owner) SELECT NULL FROM generate_series(1, %s)", (runs,)
        )
        began = time.perf_counter()
        for index in range(1, runs + 1):
            await conn.execute(
                "UPDATE bench_jobs SET owner = 'me' WHERE id = %s AND owner IS NULL", (index,)
            )
        elapsed = time.perf_counter() - began
        await conn.execute("DROP TABLE bench_jobs")
        return runs / elapsed


async def lateness(url: str, count: int, timer: bool) -> tuple[float, float]:
    """p50/p99 ms from due time to claim for `count` delayed runs."""
    arm = dispatch.Dispatcher._arm
    if not timer:  # the poll alone finds them
        dispatch.Dispatcher._arm = lambda self, due: None  # type: ignore[method-assign]
    try:
        async with durable.Engine(url, concurrency=64, poll_interval=1.0) as engine:
            runs = [await engine.start(open_job, i, delay=0.2 + i / count) for i in range(count)]
            for run in runs:
                await run.result(timeout=60)
            late = []
            for run in runs:
                record = await engine.journal.get_run(run.id)
                assert record is not None
                assert record.started_at is not None and record.start_at is not None
                late.append((record.started_at - record.start_at) * 1000)
    finally:
        dispatch.Dispatcher._arm = arm  # type: ignore[method-assign]
    cuts = statistics.quantiles(late, n=100)
    return statistics.median(late), cuts[98]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="Postgres URL (its durable schema is dropped)")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--delayed", type=int, default=100)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        backend = "sqlite" if options.db is None else "postgres"
        print(f"backend: {backend}, {options.runs} runs of one step")
        off = await claims(await _fresh(options.db, folder, "off"), options.runs, False)
        on = await claims(await _fresh(options.db, folder, "on"), options.runs, True)
        raw_url = options.db or f"sqlite:///{os.path.join(folder, 'raw.db')}"
        raw = await raw_claims(raw_url, options.runs)
        print(f"  partition limit off (batched claims): {off:8.0f} runs/s")
        print(f"  partition limit on (50 partitions):   {on:8.0f} runs/s  ({on / off:.2f}x off)")
        print(f"  raw claim UPDATE alone:               {raw:8.0f} /s    (off is {off / raw:.2f}x)")
        print(f"{options.delayed} delayed starts (0.2-1.2 s), poll 1 s:")
        for timer in (True, False):
            url = await _fresh(options.db, folder, f"late-{timer}")
            p50, p99 = await lateness(url, options.delayed, timer)
            label = "due-time timer" if timer else "poll alone    "
            print(f"  {label}: lateness p50 {p50:7.1f} ms, p99 {p99:7.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
