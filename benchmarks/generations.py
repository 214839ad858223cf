"""What `durable.continue_as_new` and `durable.heartbeat` cost.

    python -m benchmarks.generations                        # SQLite in a temp folder
    python -m benchmarks.generations --db postgresql://postgres@127.0.0.1:5432/bench_gen

- heartbeat: the cost of one `durable.heartbeat(details)` call in an async and in a
  sync step body (its journal writes throttled to one a second included), beside an
  empty function call;
- continue_as_new: the time per generation of a workflow that does nothing but continue
  as new (the switch transaction and the next generation's start), beside the time per
  step of a workflow of plain no-op steps on the same journal.

Each figure is the best of `--rounds` rounds, with the median beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

import psycopg

import durable

BEATS = 200_000


def _noop(details: Any = None) -> None:
    return None


@durable.step(name="bench.gen.beat_async")
async def beat_async(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        durable.heartbeat(i)
    return (time.perf_counter() - started) / n * 1e9


@durable.step(name="bench.gen.beat_sync")
def beat_sync(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        durable.heartbeat(i)
    return (time.perf_counter() - started) / n * 1e9


@durable.workflow(name="bench.gen.beats")
async def beats(n: int) -> list[float]:
    return [await beat_async(n), await beat_sync(n)]


@durable.step(name="bench.gen.noop")
async def noop() -> None:
    return None


@durable.workflow(name="bench.gen.steps")
async def plain_steps(n: int) -> int:
    for _ in range(n):
        await noop()
    return n


@durable.workflow(name="bench.gen.chain")
async def chain(i: int, n: int) -> int:
    if i == n:
        return i
    durable.continue_as_new(i + 1, n)


def _empty_call_ns(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        _noop(i)
    return (time.perf_counter() - started) / n * 1e9


def _fresh(url: str | None, folder: str, label: str) -> str:
    if url is None:
        return f"sqlite:///{os.path.join(folder, label + '.db')}"
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


async def _round(url: str | None, folder: str, index: int, size: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with durable.Engine(_fresh(url, folder, f"r{index}"), poll_interval=0) as engine:
        figures["beat_async"], figures["beat_sync"] = await engine.run(beats, BEATS)
        figures["beat_empty"] = _empty_call_ns(BEATS)
        started = time.perf_counter()
        await engine.run(plain_steps, size, workflow_id=f"steps-{index}")
        figures["step"] = (time.perf_counter() - started) / size * 1e6
        started = time.perf_counter()
        await engine.run(chain, 0, size, workflow_id=f"chain-{index}")
        figures["switch"] = (time.perf_counter() - started) / size * 1e6
    return figures


def _line(label: str, values: list[float], unit: str, beside: list[float] | None = None) -> str:
    best, median = min(values), statistics.median(values)
    text = f"{label:<44} {best:>9.2f} {unit} (median {median:.2f})"
    if beside:
        text += f"   x{best / min(beside):.2f}"
    return text


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a Postgres URL (its database is dropped and recreated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=2000, help="generations and steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rounds = [await _round(args.db, folder, i, args.size) for i in range(args.rounds)]
    col = {key: [r[key] for r in rounds] for key in rounds[0]}
    print(f"journal: {args.db or 'SQLite (temp file)'}; best of {args.rounds} rounds")
    print(_line("empty function call", col["beat_empty"], "ns"))
    print(
        _line("durable.heartbeat(i), async step body", col["beat_async"], "ns", col["beat_empty"])
    )
    print(_line("durable.heartbeat(i), sync step body", col["beat_sync"], "ns", col["beat_empty"]))
    print(_line("plain no-op step, per step", col["step"], "us"))
    print(_line("continue_as_new, per generation", col["switch"], "us", col["step"]))


if __name__ == "__main__":
    asyncio.run(main())
