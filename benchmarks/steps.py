"""Steps per second: one workflow of 2,000 steps, and 200 concurrent workflows of 10 steps.

    python -m benchmarks.steps                      # SQLite in a temp folder
    python -m benchmarks.steps --db postgresql://localhost/bench

Each figure is the median of several rounds; a round includes starting the runs and
waiting for their results (every step's entry committed before its result is used).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

import durable


@durable.step(name="bench.noop")
async def noop(i: int) -> int:
    return i


@durable.workflow(name="bench.sequential")
async def sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


async def _sequential(engine: durable.Engine, steps: int) -> float:
    started = time.perf_counter()
    await engine.run(sequential, steps)
    return steps / (time.perf_counter() - started)


async def _concurrent(engine: durable.Engine, runs: int, steps: int) -> float:
    started = time.perf_counter()
    handles = await asyncio.gather(*(engine.start(sequential, steps) for _ in range(runs)))
    await asyncio.gather(*(handle.result() for handle in handles))
    return runs * steps / (time.perf_counter() - started)


def _fresh_url(base: str | None, folder: str, index: int) -> str:
    if base is None:
        return f"sqlite:///{os.path.join(folder, f'bench-{index}.db')}"
    return base


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--run-steps", type=int, default=10)
    options = parser.parse_args()
    seq_figures: list[float] = []
    conc_figures: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(options.rounds):
            url = _fresh_url(options.db, folder, index)
            async with durable.Engine(url, poll_interval=0) as engine:
                seq_figures.append(await _sequential(engine, options.steps))
                conc_figures.append(await _concurrent(engine, options.runs, options.run_steps))
    backend = "sqlite" if options.db is None else options.db.split(":", 1)[0]
    print(f"backend: {backend}, rounds: {options.rounds}")
    print(
        f"sequential  1 x {options.steps} steps: "
        f"{statistics.median(seq_figures):>9,.0f} steps/s (median)"
    )
    print(
        f"concurrent  {options.runs} x {options.run_steps} steps:  "
        f"{statistics.median(conc_figures):>9,.0f} steps/s (median)"
    )


if __name__ == "__main__":
    asyncio.run(main())
