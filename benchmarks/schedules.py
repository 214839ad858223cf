"""Schedules: the firing delay (p50/p99, from a tick to its run's creation) and ticks
fired per second, with N schedules all due at the same instant and 1, 2 and 4 worker
processes firing them, beside the raw database inserting as many rows in transactions
of the same size.

    python -m benchmarks.schedules                                # SQLite, 2,000 schedules
    python -m benchmarks.schedules --schedules 10000 --workers 1 2 4
    python -m benchmarks.schedules --db postgresql://postgres@127.0.0.1:5432/bench_schedules

Each scenario creates N schedules ``every=E`` seconds on a fresh journal (all share
their ticks), starts the worker processes (``python -m benchmarks.schedules --worker``:
an engine that fires schedules; it does not import the workflow, so the runs stay
pending and only firing is measured), and waits for every schedule's first tick at
least 4 s after the workers started.  Delay: each run's creation time minus its tick;
ticks/s: N over the time from the tick to the last run's creation.  The Postgres
database's ``durable`` schema is dropped before each scenario: do not point ``--db``
at data you keep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import durable
from durable.schedules import firing

NAME = "bench.scheduled"


def _define() -> Any:
    """The scheduled workflow, registered in the benchmark process only (the workers do
    not import it, so nobody executes its runs: only firing is measured)."""

    @durable.workflow(name=NAME)
    async def scheduled(tick: datetime.datetime) -> None:
        return None

    return scheduled


async def _serve(url: str) -> None:
    """Worker mode: fire schedules until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with durable.Engine(url, poll_interval=0):
        await stop.wait()


async def _fresh(base_url: str | None, folder: str, name: str) -> str:
    if base_url is None:
        return f"sqlite:///{os.path.join(folder, name + '.db')}"
    import psycopg

    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS durable CASCADE")
    return base_url


def _spawn(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "benchmarks.schedules", "--worker", "--db", url]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def _created(url: str, pattern: str) -> list[float]:
    """The creation times of the runs whose id matches `pattern` (read raw: decoding
    tens of thousands of runs through the engine would load the machine measured)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(
                "select created_at from durable_runs where id like ?", (pattern,)
            ).fetchall()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "select created_at from durable.runs where id like %s", (pattern,)
            ).fetchall()
    return [float(at) for (at,) in rows]


async def scenario(url: str, schedules: int, workers: int, every: float) -> dict[str, float]:
    scheduled = _define()
    async with durable.Engine(url, execute=False, poll_interval=0) as engine:
        created = time.perf_counter()
        for i in range(schedules):
            await engine.schedules.create(f"s{i:05d}", scheduled, every=every, overlap="allow_all")
        create_s = time.perf_counter() - created
        procs = [_spawn(url) for _ in range(workers)]
        try:
            started = time.time()
            tick = durable.Every(every).next_after(started + 4.0)
            prefix = durable.schedules.spec.format_tick(tick)
            while True:
                await asyncio.sleep(1.0)
                if time.time() < tick:
                    continue
                created = _created(url, "%@" + prefix)
                if len(created) >= schedules:
                    break
                if time.time() - tick > 300:
                    raise RuntimeError(f"only {len(created)} of {schedules} ticks fired in 300 s")
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
    delays = sorted(at - tick for at in created)
    span = max(delays[-1], 1e-6)
    return {
        "p50_ms": 1000 * statistics.median(delays),
        "p99_ms": 1000 * delays[int(0.99 * (len(delays) - 1))],
        "ticks_s": schedules / span,
        "create_s": create_s,
    }


async def raw(url: str | None, folder: str, rows: int) -> float:
    """Rows/s the bare database inserts in transactions of `firing.BATCH` rows."""
    batch = firing.BATCH
    payload = b"x" * 64
    started = time.perf_counter()
    if url is None:
        conn = sqlite3.connect(os.path.join(folder, "raw.db"), isolation_level=None)
        conn.execute("pragma journal_mode=wal")
        conn.execute("pragma synchronous=normal")  # what durability="process" uses
        conn.execute("create table t (id text primary key, body blob, at real)")
        for start in range(0, rows, batch):
            conn.execute("begin immediate")
            conn.executemany(
                "insert into t values (?, ?, ?)",
                [(f"r{i}", payload, time.time()) for i in range(start, start + batch)],
            )
            conn.execute("commit")
        conn.close()
    else:
        import psycopg

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as aconn:
            await aconn.execute("drop table if exists bench_raw_schedules")
            await aconn.execute(
                "create table bench_raw_schedules (id text primary key, body bytea, at float8)"
            )
            started = time.perf_counter()
            for start in range(0, rows, batch):
                async with aconn.transaction(), aconn.cursor() as cur:
                    await cur.executemany(
                        "insert into bench_raw_schedules values (%s, %s, %s)",
                        [(f"r{i}", payload, time.time()) for i in range(start, start + batch)],
                    )
            await aconn.execute("drop table bench_raw_schedules")
    return rows / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="Postgres URL (its durable schema is dropped)")
    parser.add_argument("--schedules", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--every", type=float, default=30.0, help="their interval, seconds")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        await _serve(options.db)
        return
    backend = "sqlite" if options.db is None else "postgres"
    with tempfile.TemporaryDirectory() as folder:
        baseline = await raw(options.db, folder, options.schedules)
        print(f"{backend}: {options.schedules} schedules due at once, every {options.every:g} s")
        print(
            f"{'workers':>8} {'p50 ms':>9} {'p99 ms':>9} {'ticks/s':>9} {'raw rows/s':>11} "
            f"{'ratio':>6} {'create s':>9}"
        )
        for count in options.workers:
            url = await _fresh(options.db, folder, f"w{count}")
            got = await scenario(url, options.schedules, count, options.every)
            print(
                f"{count:>8} {got['p50_ms']:>9.1f} {got['p99_ms']:>9.1f} {got['ticks_s']:>9.0f} "
                f"{baseline:>11.0f} {got['ticks_s'] / baseline:>6.2f} {got['create_s']:>9.1f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
