"""What the payload checksum (a CRC-32 in every payload's frame, `durable.codec`) costs:
encode + decode of typical step results with and without it, side by side, and the
sequential step rate of `benchmarks.steps` with and without it.

    python -m benchmarks.checksums                 # SQLite in a temp folder
    python -m benchmarks.checksums --db postgresql://localhost/bench

"Without" is the same codec with `frame`/`unframe` replaced by the identity for the
measurement (the payload format before checksums).  With and without are measured in
turns, round after round, and each figure is the best round (the one least disturbed by
whatever else the machine runs), with the median beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import durable
from benchmarks import steps as step_bench
from durable import codec as codec_mod


@dataclasses.dataclass
class Order:
    id: int
    customer: str
    lines: list[str]
    placed: datetime.datetime


VALUES: list[tuple[str, Any]] = [
    ("int", 9),
    ("dict of 10 ints", {f"k{i}": i for i in range(10)}),
    ("str 1 KiB", "x" * 1024),
    ("dataclass", Order(7, "ada", ["a", "b"], datetime.datetime(2026, 1, 1))),
    ("bytes 64 KiB", os.urandom(64 * 1024)),
]


@contextlib.contextmanager
def _without_checksums() -> Iterator[None]:
    frame, unframe = codec_mod.frame, codec_mod.unframe
    codec_mod.frame = lambda body: body  # type: ignore[assignment]
    codec_mod.unframe = lambda data, **_: data  # type: ignore[assignment]
    try:
        yield
    finally:
        codec_mod.frame, codec_mod.unframe = frame, unframe


def _round_trip_us(value: Any, calls: int) -> float:
    codec = codec_mod.Codec()
    started = time.perf_counter()
    for _ in range(calls):
        codec.decode(codec.encode(value))
    return (time.perf_counter() - started) / calls * 1e6


def _in_turns(measure: Callable[[], float], rounds: int) -> tuple[list[float], list[float]]:
    """(with, without) checksums: `rounds` figures each, measured in turns so that a
    disturbance hits both alike."""
    with_figures, without_figures = [], []
    for _ in range(rounds):
        with_figures.append(measure())
        with _without_checksums():
            without_figures.append(measure())
    return with_figures, without_figures


async def _step_rate(base: str | None, folder: str, steps: int) -> float:
    url = base or f"sqlite:///{os.path.join(folder, f'bench-{time.monotonic_ns()}.db')}"
    async with durable.Engine(url, poll_interval=0) as engine:
        return await step_bench._sequential(engine, steps)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=2000)
    options = parser.parse_args()
    print("encode + decode per value (best of rounds, microseconds):")
    print(f"  {'value':<16} {'with CRC':>9} {'without':>9} {'cost':>8}")
    for label, value in VALUES:
        calls = max(200, options.calls // (1 + len(str(value)) // 1024))
        with_us, without_us = (
            min(figures) for figures in _in_turns(lambda v=value, c=calls: _round_trip_us(v, c), 7)
        )
        print(
            f"  {label:<16} {with_us:>9.2f} {without_us:>9.2f} "
            f"{with_us - without_us:>+7.2f}  ({(with_us / without_us - 1) * 100:+.0f} %)"
        )
    backend = "sqlite" if options.db is None else options.db.split(":", 1)[0]
    with_rates, without_rates = [], []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(options.rounds):
            for checksums in (True, False) if index % 2 == 0 else (False, True):
                with contextlib.ExitStack() as stack:  # which goes first alternates too
                    if not checksums:
                        stack.enter_context(_without_checksums())
                    rate = await _step_rate(options.db, folder, options.steps)
                (with_rates if checksums else without_rates).append(rate)
    print(f"sequential steps ({backend}, 1 x {options.steps}, {options.rounds} rounds each):")
    for label, rates in (("with CRC", with_rates), ("without", without_rates)):
        print(
            f"  {label:<9} best {max(rates):>9,.0f} steps/s, "
            f"median {statistics.median(rates):>9,.0f} steps/s"
        )
    change = (max(with_rates) / max(without_rates) - 1) * 100
    print(f"  best with CRC vs best without: {change:+.1f} %")


if __name__ == "__main__":
    asyncio.run(main())
