"""Fan-out: one workflow gathering N steps (default 10,000): time, and peak memory.

    python -m benchmarks.fanout [--steps 10000] [--db URL]

Prints the time to run the workflow live, the time to replay it entirely from its
journal (a fork from the last step, so no body runs), and the peak memory Python
allocated during each (tracemalloc, measured in a second, traced round, since
tracing slows everything down).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import tracemalloc

import durable


@durable.step(name="bench.fanout.item")
async def item(i: int) -> int:
    return i * 2


@durable.workflow(name="bench.fanout")
async def fanout(n: int) -> int:
    results = await asyncio.gather(*(item(i) for i in range(n)))
    return sum(results)


async def _measure(engine: durable.Engine, label: str, coro_factory) -> None:
    started = time.perf_counter()
    result = await coro_factory()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    await coro_factory()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<28} {elapsed:7.2f} s   peak {peak / 2**20:7.1f} MiB   result {result}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--db", default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.db or f"sqlite:///{os.path.join(folder, 'fanout.db')}"
        async with durable.Engine(url, poll_interval=0) as engine:
            run_id = f"fanout-{time.time_ns()}"

            async def live() -> int:
                return int(await engine.run(fanout, options.steps))

            await _measure(engine, f"live, {options.steps} steps", live)
            await engine.run(fanout, options.steps, workflow_id=run_id)

            async def replay() -> int:
                fork = await engine.fork(run_id, from_step=options.steps)
                return int(await fork.result())

            await _measure(engine, "replay from the journal", replay)


if __name__ == "__main__":
    asyncio.run(main())
