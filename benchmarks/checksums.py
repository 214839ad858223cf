"""What the payload checksum (a CRC-32 in every payload's frame, `durable.codec`) costs:
encode + decode of typical step results with and without it, side by side, and the
sequential step rate of `benchmarks.steps` with and without it.

    python -m benchmarks.checksums                 # SQLite in a temp folder
    python -m benchmarks.checksums --db postgresql://localhost/bench

"Without" is the same codec with `frame`/`unframe` replaced by the identity for the
measurement (the payload format before checksums); each figure is the median of
several rounds.
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


def _round_trip_us(value: Any, rounds: int, calls: int) -> float:
    codec = codec_mod.Codec()
    figures = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            codec.decode(codec.encode(value))
        figures.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(figures)


def _side_by_side(measure: Callable[[], float]) -> tuple[float, float]:
    """(with, without) checksums, measured alternately so drift hits both alike."""
    with_figures, without_figures = [], []
    for _ in range(3):
        with_figures.append(measure())
        with _without_checksums():
            without_figures.append(measure())
    return statistics.median(with_figures), statistics.median(without_figures)


async def _step_rate(base: str | None, folder: str, steps: int, rounds: int) -> float:
    figures = []
    for _ in range(rounds):
        url = base or f"sqlite:///{os.path.join(folder, f'bench-{time.monotonic_ns()}.db')}"
        async with durable.Engine(url, poll_interval=0) as engine:
            figures.append(await step_bench._sequential(engine, steps))
    return statistics.median(figures)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=2000)
    options = parser.parse_args()
    print("encode + decode per value (median, microseconds):")
    print(f"  {'value':<16} {'with CRC':>9} {'without':>9} {'cost':>8}")
    for label, value in VALUES:
        calls = max(200, options.calls // (1 + len(str(value)) // 1024))
        with_us, without_us = _side_by_side(lambda v=value, c=calls: _round_trip_us(v, 3, c))
        print(
            f"  {label:<16} {with_us:>9.2f} {without_us:>9.2f} "
            f"{with_us - without_us:>+7.2f}  ({(with_us / without_us - 1) * 100:+.0f} %)"
        )
    backend = "sqlite" if options.db is None else options.db.split(":", 1)[0]
    with tempfile.TemporaryDirectory() as folder:
        rates = []
        for checksums in (True, False, True, False):
            with contextlib.ExitStack() as stack:
                if not checksums:
                    stack.enter_context(_without_checksums())
                rates.append(await _step_rate(options.db, folder, options.steps, options.rounds))
    with_rate = statistics.median(rates[0::2])
    without_rate = statistics.median(rates[1::2])
    print(f"sequential steps ({backend}, 1 x {options.steps}, median):")
    print(f"  with CRC  {with_rate:>9,.0f} steps/s")
    change = (with_rate / without_rate - 1) * 100
    print(f"  without   {without_rate:>9,.0f} steps/s  (with CRC: {change:+.1f} %)")


if __name__ == "__main__":
    asyncio.run(main())
