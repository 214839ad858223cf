"""What an idle worker costs the database: journal calls (each one query or one
transaction) per second, by kind, for several `--poll` values.

    python -m benchmarks.idle                      # a temp SQLite file
    python -m benchmarks.idle --db postgresql://postgres@127.0.0.1:5432/bench

The worker runs in this process (`durable.worker.process.Worker`, as `durable worker`
does) with nothing to execute; every call it makes to its journal is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import tempfile
import time
from typing import Any

from benchmarks import workers as _workflows  # noqa: F401  (registers workflows to serve)
from durable.worker.process import Worker

CALLS = [
    "claim_batch",
    "claimable",
    "claim",
    "heartbeat",
    "cancel_requested",
    "list_runs",
    "get_run",
    "load",
    "release",
]


def _count(journal: Any, counts: collections.Counter[str]) -> None:
    for name in CALLS:
        method = getattr(journal, name)

        async def counted(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
            counts[_name] += 1
            return await _method(*args, **kw)

        setattr(journal, name, counted)


async def idle(url: str, poll: float, seconds: float) -> tuple[float, dict[str, int]]:
    worker = Worker(url, poll_interval=poll)
    counts: collections.Counter[str] = collections.Counter()
    _count(worker.engine.journal, counts)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(2.0)  # past the opening look
    counts.clear()
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    measured = dict(counts)
    worker.stop()
    await task
    return sum(measured.values()) / elapsed, measured


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None)
    parser.add_argument("--seconds", type=float, default=20.0)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.db or f"sqlite:///{os.path.join(folder, 'idle.db')}"
        print(f"backend: {url.split(':', 1)[0]}, idle for {options.seconds:.0f} s")
        for poll in (0.1, 0.5, 2.0):
            rate, calls = await idle(url, poll, options.seconds)
            shown = ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))
            print(f"--poll {poll:<4}: {rate:5.2f} journal calls/s ({shown})")


if __name__ == "__main__":
    asyncio.run(main())
