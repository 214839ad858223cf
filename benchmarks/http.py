"""The HTTP API's cost: starts and start-to-result latency through ``durable serve``
beside the same calls made directly on an engine, printed side by side.

    python -m benchmarks.http                                  # SQLite in a temp folder
    python -m benchmarks.http --db postgresql://postgres@127.0.0.1:5432/bench

The server is a real ``durable serve`` process (it executes the runs, as an engine
does in the direct figures); the client is httpx in this process, one connection per
concurrent client.  Figures:

- start latency: one start at a time (p50, p99), ``POST /api/workflows/{name}/runs``
  beside ``engine.start``;
- starts per second with 16 concurrent clients;
- start-to-result latency: a start, then ``GET .../result?wait=30`` (a long-poll woken by
  the run's end) beside ``engine.run``;
- the floor: the same client against a no-op Starlette route on uvicorn, in a process of
  its own (what any HTTP call costs here, before durable does anything).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import durable

CLIENTS = 16


@durable.step(name="bench.http.double")
async def double(x: int) -> int:
    return 2 * x


@durable.workflow(name="bench.http.add")
async def add(a: int, b: int) -> int:
    return await double(a) + b


async def _noop(request: Any) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"ok": True})


def floor_app() -> Any:
    """A no-op Starlette app: the HTTP floor (``uvicorn --factory benchmarks.http:floor_app``)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(routes=[Route("/", _noop, methods=["GET", "POST"])])


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _latencies(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


async def _rate(call: Callable[[int], Awaitable[object]], count: int) -> float:
    async def client(k: int) -> None:
        for i in range(k, count, CLIENTS):
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    return count / (time.perf_counter() - started)


def _spawn(command: list[str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("DURABLE_API_TOKEN", None)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(pattern, line)
        if found:
            return process, found.group(1)
    raise SystemExit(f"{command} did not start ({process.wait()})")


def _serve(url: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "durable.cli", "--db", url, "-m", "benchmarks.http"]
    return _spawn([*command, "serve", "--port", "0"], r"serving (http://\S+)")


async def _floor(count: int) -> dict[str, float]:
    import httpx

    command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.http:floor_app"]
    command += ["--port", "0", "--log-level", "info", "--no-access-log"]
    process, base = _spawn(command, r"running on (http://\S+)")
    try:
        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            call = lambda *_: client.post("/", json={"args": [1, 2]})  # noqa: E731
            trips = await _latencies(call, count)
            rate = await _rate(call, count)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    return {
        "start p50 (ms)": _pct(trips, 0.5),
        "start p99 (ms)": _pct(trips, 0.99),
        f"starts/s, {CLIENTS} clients": rate,
    }


async def _direct(url: str, count: int) -> dict[str, float]:
    async with durable.Engine(url) as engine:
        run = lambda: engine.start(add, 1, 2)  # noqa: E731
        starts = await _latencies(run, count)
        rate = await _rate(lambda i: engine.start(add, i, 1), count)
        results = await _latencies(lambda: engine.run(add, 3, 4), count)
    return _figures(starts, rate, results)


async def _api(url: str, count: int) -> dict[str, float]:
    import httpx

    process, base = _serve(url)
    path = "/api/workflows/bench.http.add/runs"
    try:
        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

            async def start(i: int = 0) -> str:
                answer = await client.post(path, json={"args": [i, 1]})
                assert answer.status_code == 201, answer.text
                return str(answer.json()["id"])

            async def start_and_wait() -> None:
                run_id = await start()
                answer = await client.get(f"/api/runs/{run_id}/result", params={"wait": 30})
                assert answer.status_code == 200, answer.text

            starts = await _latencies(start, count)
            rate = await _rate(start, count)
            results = await _latencies(start_and_wait, count)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    return _figures(starts, rate, results)


def _figures(starts: list[float], rate: float, results: list[float]) -> dict[str, float]:
    return {
        "start p50 (ms)": _pct(starts, 0.5),
        "start p99 (ms)": _pct(starts, 0.99),
        f"starts/s, {CLIENTS} clients": rate,
        "start-to-result p50 (ms)": _pct(results, 0.5),
        "start-to-result p99 (ms)": _pct(results, 0.99),
        "start-to-result mean (ms)": statistics.fmean(results) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--count", type=int, default=300, help="calls per figure")
    options = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="durable-bench-http-")
    url = options.db or f"sqlite:///{folder}/bench.db"
    backend = "postgres" if url.startswith("postgres") else "sqlite"
    # a schema of our own on Postgres, so repeated rounds do not share tables
    if backend == "postgres":
        url += ("&" if "?" in url else "?") + f"schema=bench_http_{uuid.uuid4().hex[:8]}"
    direct = await _direct(url, options.count)
    api = await _api(url, options.count)
    floor = await _floor(options.count)
    print(f"HTTP API vs direct engine calls ({backend}, {options.count} calls per figure)")
    print(f"{'':34}{'direct':>12}{'HTTP API':>12}{'HTTP floor':>12}")
    for name, value in direct.items():
        low = f"{floor[name]:12.1f}" if name in floor else f"{'-':>12}"
        print(f"{name:34}{value:12.1f}{api[name]:12.1f}{low}")


if __name__ == "__main__":
    asyncio.run(main())
