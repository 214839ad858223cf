"""Step overhead of telemetry: off (the default), on, and a durable without the hooks.

    python -m benchmarks.telemetry                         # off and on
    python -m benchmarks.telemetry --baseline /path/to/checkout-without-hooks
    python -m benchmarks.telemetry --db postgresql://localhost/bench

Each mode runs in a fresh interpreter, rounds interleaved, on a fresh database: a
workflow of `--steps` sequential no-op steps (time per step) and `--runs` concurrent
workflows of 10 steps (steps per second).  The time per step is printed as wall time and
as the process's CPU time (all its threads), which other load on the machine disturbs
less.  "on" reports to OpenTelemetry's SDK: a
tracer provider with a batch span processor whose exporter drops what it gets, and a
meter provider with an in-memory reader, so what is measured is durable's cost plus the
SDK's, not an exporter's.  "unsampled" is the same with a sampler that records no span
(metrics only), "spans" the same with a no-op meter provider (spans only).
``--baseline DIR`` adds "no hooks": this script run against another checkout (e.g.
``git archive <commit before the hooks> | tar -x -C DIR``), whose engine has no
``telemetry=`` option.  Figures are medians and bests; ratios are against "off".
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

HERE = pathlib.Path(__file__).resolve()
ROOT = HERE.parents[1]


def _telemetry_option(mode: str) -> dict[str, Any]:
    """The engine's ``telemetry=`` for `mode` (see the module docstring)."""
    if mode == "off":
        return {}
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider, sampling
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from durable.telemetry import Config

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    sampler = sampling.ALWAYS_OFF if mode == "unsampled" else sampling.ALWAYS_ON
    tracer_provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(Dropped()))
    meter_provider: Any = MeterProvider(metric_readers=[InMemoryMetricReader()])
    if mode == "spans":
        meter_provider = NoOpMeterProvider()
    config = Config(
        tracer_provider=tracer_provider, meter_provider=meter_provider, queue_depth_interval=0
    )
    return {"telemetry": config}


async def _measure(mode: str, url: str, steps: int, runs: int) -> dict[str, float]:
    import durable

    @durable.step(name="bench.telemetry.noop")
    async def noop(i: int) -> int:
        return i

    @durable.workflow(name="bench.telemetry.sequential")
    async def sequential(n: int) -> int:
        total = 0
        for i in range(n):
            total += await noop(i)
        return total

    options = _telemetry_option(mode)
    if options and "telemetry" not in inspect.signature(durable.Engine).parameters:
        raise SystemExit("this durable has no telemetry option")
    engine = durable.Engine(url, poll_interval=0, **options)
    async with engine:
        await engine.run(sequential, 50)  # warm up
        started, cpu = time.perf_counter(), time.process_time()
        await engine.run(sequential, steps)
        per_step = (time.perf_counter() - started) / steps
        cpu_per_step = (time.process_time() - cpu) / steps
        started = time.perf_counter()
        handles = [await engine.start(sequential, 10) for _ in range(runs)]
        await asyncio.gather(*(handle.result() for handle in handles))
        concurrent = runs * 10 / (time.perf_counter() - started)
    for provider in options["telemetry"].__dict__.values() if options else ():
        getattr(provider, "shutdown", lambda: None)()
    return {
        "us_per_step": per_step * 1e6,
        "cpu_us_per_step": cpu_per_step * 1e6,
        "concurrent_steps_per_s": concurrent,
    }


def _child(options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = options.db or f"sqlite:///{os.path.join(folder, 'bench.db')}"
        if options.db_kind == "memory" and options.db is None:
            url = "sqlite://:memory:"
        figures = asyncio.run(_measure(options.child, url, options.steps, options.runs))
    print(json.dumps(figures))


def _round(mode: str, options: argparse.Namespace, kind: str) -> dict[str, float]:
    source = options.baseline if mode == "no hooks" else str(ROOT)
    command = [sys.executable, str(HERE), "--child", "off" if mode == "no hooks" else mode]
    command += ["--steps", str(options.steps), "--runs", str(options.runs), "--db-kind", kind]
    if options.db:
        command += ["--db", options.db]
    done = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": source},
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode}: {done.stderr.strip()}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--baseline", default=None, help="a checkout without the hooks")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--db-kind", default="file", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child is not None:
        _child(options)
        return
    modes = ["off", "on", "unsampled", "spans"] + (["no hooks"] if options.baseline else [])
    kinds = ["file", "memory"] if options.db is None else ["server"]
    for kind in kinds:
        figures: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for _ in range(options.rounds):
            for mode in modes:
                figures[mode].append(_round(mode, options, kind))
        label = {"file": "SQLite file", "memory": "SQLite :memory:"}.get(kind, options.db)
        print(f"{label}: {options.steps} sequential steps, {options.runs} x 10 concurrent")
        print(
            f"  {'mode':<9} {'us/step':>9} {'ratio':>6} {'cpu us/step':>9} {'ratio':>6} "
            f"{'conc steps/s':>13} {'ratio':>6}"
        )
        for pick, choose in (("median", statistics.median), ("best", _best)):
            _table(pick, {mode: _summary(rows, choose) for mode, rows in figures.items()})
    print(
        f"{options.rounds} rounds, each mode in a fresh interpreter; best = the fastest "
        "round (least disturbed by other load)"
    )


def _best(values: list[float]) -> float:
    return min(values)


def _summary(rows: list[dict[str, float]], choose: Any) -> dict[str, float]:
    return {
        "us_per_step": choose([row["us_per_step"] for row in rows]),
        "cpu_us_per_step": choose([row["cpu_us_per_step"] for row in rows]),
        "concurrent_steps_per_s": 1 / choose([1 / row["concurrent_steps_per_s"] for row in rows]),
    }


def _table(pick: str, rows: dict[str, dict[str, float]]) -> None:
    base = rows["off"]
    print(f"  ({pick})")
    for mode, row in rows.items():
        cells = [f"  {mode:<9}"]
        for key, shown in (
            ("us_per_step", "9.1f"),
            ("cpu_us_per_step", "9.1f"),
            ("concurrent_steps_per_s", "13,.0f"),
        ):
            cells.append(f"{row[key]:>{shown}} {row[key] / base[key]:>6.2f}")
        print(" ".join(cells))


if __name__ == "__main__":
    main()
