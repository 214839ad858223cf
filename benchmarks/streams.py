"""Durable streams and durable agents: what they cost beside the raw database and the
bare agent.

    python -m benchmarks.streams [--db URL] [--chunks N] [--calls N]

- stream write: a step writes N chunks with `durable.write_stream` (each one committed
  before the next, as a token stream writes them), chunks/s; beside the same number of
  single-row INSERT transactions into a table of the same shape, on the same database
  (SQLite: WAL, ``synchronous=NORMAL``, as the journal; Postgres: autocommit);
- stream read: `engine.read_stream` of those N chunks from offset 0, chunks/s, beside
  one SELECT of the rows;
- agent: N runs of a Pydantic AI agent whose FunctionModel answers at once, bare
  (outside any workflow) and with `durable.contrib.pydantic_ai.Durability` inside one
  workflow (one model-request step per run plus its run id and start time), in
  microseconds per model call.

With no ``--db``, SQLite in a temporary folder; a Postgres URL gets a schema of its own,
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from typing import Any

import psycopg
from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import FunctionModel

import durable
from durable.contrib.pydantic_ai import Durability


@durable.step(name="bench.streams.speak")
async def speak(chunks: int) -> int:
    for n in range(chunks):
        await durable.write_stream("tokens", f"token {n} ")
    return chunks


@durable.workflow(name="bench.streams.talk")
async def talk(chunks: int) -> int:
    return await speak(chunks)


def _instant(messages: Any, info: Any) -> ModelResponse:
    return ModelResponse(parts=[TextPart("ok")])


bare = Agent(FunctionModel(_instant), name="bench_bare")
durable_agent = Agent(FunctionModel(_instant), name="bench_durable", capabilities=[Durability()])


@durable.workflow(name="bench.streams.agent")
async def ask_many(calls: int) -> int:
    for _ in range(calls):
        await durable_agent.run("hi")
    return calls


ROW = "(run_id text, key text, position bigint, value bytea, written_at float8)"


def _raw_sqlite(path: str, chunks: int) -> tuple[float, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE raw_chunks {ROW.replace('bigint', 'integer')}")
    started = time.perf_counter()
    for n in range(chunks):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO raw_chunks VALUES (?, ?, ?, ?, ?)",
            ("r", "tokens", n, f"token {n} ".encode(), time.time()),
        )
        conn.execute("COMMIT")
    wrote = time.perf_counter() - started
    started = time.perf_counter()
    rows = conn.execute("SELECT * FROM raw_chunks WHERE run_id = 'r' ORDER BY position").fetchall()
    read = time.perf_counter() - started
    assert len(rows) == chunks
    conn.close()
    return wrote, read


async def _raw_postgres(url: str, schema: str, chunks: int) -> tuple[float, float]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        # a logged table, as the journal's (a temporary one would skip the WAL)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'CREATE TABLE "{schema}".raw_chunks {ROW}')
        started = time.perf_counter()
        for n in range(chunks):
            await conn.execute(
                f'INSERT INTO "{schema}".raw_chunks VALUES (%s, %s, %s, %s, %s)',
                ("r", "tokens", n, f"token {n} ".encode(), time.time()),
            )
        wrote = time.perf_counter() - started
        started = time.perf_counter()
        cur = await conn.execute(
            f"SELECT * FROM \"{schema}\".raw_chunks WHERE run_id = 'r' ORDER BY position"
        )
        rows = await cur.fetchall()
        read = time.perf_counter() - started
        assert len(rows) == chunks
    return wrote, read


async def _durable_streams(url: str, chunks: int) -> tuple[float, float]:
    async with durable.Engine(url) as engine:
        started = time.perf_counter()
        assert await engine.run(talk, chunks, workflow_id="bench-talk") == chunks
        wrote = time.perf_counter() - started
        started = time.perf_counter()
        read = [c async for c in engine.read_stream("bench-talk", "tokens")]
        took = time.perf_counter() - started
        assert len(read) == chunks
    return wrote, took


async def _agents(url: str, calls: int) -> tuple[float, float]:
    started = time.perf_counter()
    for _ in range(calls):
        await bare.run("hi")
    plain = time.perf_counter() - started
    async with durable.Engine(url) as engine:
        started = time.perf_counter()
        await engine.run(ask_many, calls, workflow_id="bench-agent")
        wrapped = time.perf_counter() - started
    return plain, wrapped


def _row(label: str, ours: float, theirs: float, unit: str) -> None:
    print(f"  {label:<34} {ours:>12,.0f} {theirs:>12,.0f}  {unit:<10} ratio {ours / theirs:6.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a journal URL (default: SQLite in a temporary folder)")
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300)
    options = parser.parse_args()
    folder = tempfile.mkdtemp()
    schema = f"bench_streams_{os.getpid()}"
    if options.db is None or options.db.startswith("sqlite"):
        url = options.db or f"sqlite:///{folder}/journal.db"
        raw = _raw_sqlite(os.path.join(folder, "raw.db"), options.chunks)
    else:
        separator = "&" if "?" in options.db else "?"
        url = f"{options.db}{separator}schema={schema}"
        raw = await _raw_postgres(options.db, f"{schema}_raw", options.chunks)
    try:
        wrote, read = await _durable_streams(url, options.chunks)
        plain, wrapped = await _agents(url, options.calls)
    finally:
        if not url.startswith("sqlite"):
            async with await psycopg.AsyncConnection.connect(options.db, autocommit=True) as conn:
                for name in (schema, f"{schema}_raw"):
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    n = options.chunks
    print(f"{url.split(':')[0]}: {n} chunks, {options.calls} agent runs")
    print(f"  {'':<34} {'durable':>12} {'raw/bare':>12}")
    _row("stream write (one commit each)", n / wrote, n / raw[0], "chunks/s")
    _row("stream read (from offset 0)", n / read, n / raw[1], "chunks/s")
    per_wrapped, per_plain = wrapped / options.calls * 1e6, plain / options.calls * 1e6
    _row("agent run, one model call", per_wrapped, per_plain, "us/call")
    print(f"  durable wrapper overhead per model call: {per_wrapped - per_plain:,.0f} us")


if __name__ == "__main__":
    asyncio.run(main())
