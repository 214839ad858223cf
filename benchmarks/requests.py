"""Request/reply round trips (`engine.request` answered by `Request.reply`) beside the
plain round trip it replaces (`engine.send`, then `engine.get_event` of what the run
set), p50/p99, across processes and in one process, on SQLite and Postgres.

    python -m benchmarks.requests                    # SQLite in a temp folder and Postgres
    python -m benchmarks.requests --db sqlite --rounds 500
    python -m benchmarks.requests --pg-server postgresql://postgres@127.0.0.1:5432

Across processes, a ``durable worker`` process executes the runs and the caller is an
engine that executes nothing (it has the workflow's code only to start the runs); in
one process, a single engine does both.  For Postgres a database of its own is created
on ``--pg-server`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import durable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMUP = 20


@durable.workflow(name="bench.requests.echo")
async def echo(rounds: int) -> int:
    for _ in range(rounds):
        request = await durable.recv_request("ping")
        assert request is not None
        await request.reply(request.value)
    return rounds


@durable.workflow(name="bench.requests.events")
async def events(rounds: int) -> int:
    for index in range(rounds):
        value = await durable.recv("ping")
        await durable.set_event(f"pong-{index}", value)
    return rounds


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    out = []
    for call in calls:
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out[WARMUP:]


async def _round_trips(client: durable.Engine, rounds: int) -> dict[str, list[float]]:
    total = rounds + WARMUP
    tag = uuid.uuid4().hex[:8]
    replier = await client.start(echo, total, workflow_id=f"echo-{tag}")
    publisher = await client.start(events, total, workflow_id=f"events-{tag}")

    def request(i: int) -> Callable[[], Awaitable[object]]:
        async def call() -> None:
            assert await client.request(replier.id, "ping", i, timeout=30) == i

        return call

    def send_and_get(i: int) -> Callable[[], Awaitable[object]]:
        async def call() -> None:
            await client.send(publisher.id, "ping", i)
            assert await client.get_event(publisher.id, f"pong-{i}", timeout=30) == i

        return call

    figures = {
        "request": await _timed([request(i) for i in range(total)]),
        "send+event": await _timed([send_and_get(i) for i in range(total)]),
    }
    assert await replier.result(timeout=30) == total
    assert await publisher.result(timeout=30) == total
    return figures


@contextlib.contextmanager
def _worker(url: str) -> Iterator[None]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    command = [sys.executable, "-m", "durable.cli", "--db", url, "worker", "benchmarks.requests"]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


async def across_processes(url: str, rounds: int) -> dict[str, list[float]]:
    async with durable.Engine(url) as schema:  # the schema, before the worker opens it
        del schema
    with _worker(url):
        async with durable.Engine(url, execute=False) as client:
            return await _round_trips(client, rounds)


async def in_process(url: str, rounds: int) -> dict[str, list[float]]:
    async with durable.Engine(url) as engine:
        return await _round_trips(engine, rounds)


@contextlib.asynccontextmanager
async def _database(kind: str, pg_server: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    name = f"durable_bench_requests_{uuid.uuid4().hex[:8]}"
    admin = f"{pg_server.rstrip('/')}/postgres"
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_server.rstrip('/')}/{name}"
    finally:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def main(args: argparse.Namespace) -> None:
    print(
        f"{'backend':9} {'where':17} {'round trip':11} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'mean ms':>8} {'p50 ratio':>9}"
    )
    for kind in args.db:
        for where, measure in (
            ("across processes", across_processes),
            ("in one process", in_process),
        ):
            async with _database(kind, args.pg_server) as url:
                figures = await measure(url, args.rounds)
            base_p50 = _pct(figures["send+event"], 0.5)
            for label, samples in figures.items():
                p50 = _pct(samples, 0.5)
                print(
                    f"{kind:9} {where:17} {label:11} {p50:>8.2f} {_pct(samples, 0.99):>8.2f} "
                    f"{statistics.mean(samples) * 1000:>8.2f} {p50 / base_p50:>9.2f}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--rounds", type=int, default=300, help="round trips per figure")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    asyncio.run(main(parser.parse_args()))
