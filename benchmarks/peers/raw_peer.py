"""The raw baseline (see `benchmarks.peers`): single-row INSERT + COMMIT, no engine.

Through ``sqlite3`` in WAL mode with the ``synchronous`` level durable uses for the
job's durability (NORMAL for "process", FULL for "full"), or ``psycopg`` with the
server's defaults; every commit is a real commit.  A "step" is one journal-like row.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import psycopg

from benchmarks import peers

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bench_journal "
    "(run_id TEXT NOT NULL, seq INTEGER NOT NULL, output BYTEA, PRIMARY KEY (run_id, seq))"
)
_OUTPUT = b"\x91\x00"  # a small encoded result, as a step's journal entry carries


class _Writer:
    """One connection; `write` inserts one row and commits it."""

    def __init__(self, job: peers.Job) -> None:
        if job.backend == "sqlite":
            self.conn: Any = sqlite3.connect(job.sqlite_path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            sync = "FULL" if job.durability == "full" else "NORMAL"
            self.conn.execute(f"PRAGMA synchronous={sync}")
            self.conn.execute(_SCHEMA.replace("BYTEA", "BLOB"))
            self._insert = "INSERT INTO bench_journal VALUES (?, ?, ?)"
            self.write: Callable[[str, int], None] = self._write_sqlite
        else:
            self.conn = psycopg.connect(job.url)
            self.conn.execute(_SCHEMA)
            self.conn.commit()
            self._insert = "INSERT INTO bench_journal VALUES (%s, %s, %s)"
            self.write = self._write_postgres

    def _write_sqlite(self, run_id: str, seq: int) -> None:
        self.conn.execute("BEGIN")
        self.conn.execute(self._insert, (run_id, seq, _OUTPUT))
        self.conn.execute("COMMIT")

    def _write_postgres(self, run_id: str, seq: int) -> None:
        self.conn.execute(self._insert, (run_id, seq, _OUTPUT), prepare=True)
        self.conn.commit()

    def write_many(self, rows: list[tuple[str, int]]) -> None:
        """Setup only: many rows in one transaction."""
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.execute("BEGIN")
            self.conn.executemany(self._insert, [(r, s, _OUTPUT) for r, s in rows])
            self.conn.execute("COMMIT")
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self._insert, [(r, s, _OUTPUT) for r, s in rows])
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _timed(job: peers.Job, rows: list[tuple[str, int]]) -> dict[str, Any]:
    writer = _Writer(job)
    try:
        started = time.perf_counter()
        for run_id, seq in rows:
            writer.write(run_id, seq)
        return {"seconds": peers.elapsed(started)}
    finally:
        writer.close()


async def sequential(job: peers.Job) -> dict[str, Any]:
    return _timed(job, [("seq", i) for i in range(job.steps)])


async def concurrent(job: peers.Job) -> dict[str, Any]:
    return _timed(job, [(f"run-{r}", i) for r in range(job.runs) for i in range(job.steps)])


async def latency(job: peers.Job) -> dict[str, Any]:
    writer = _Writer(job)
    samples = []
    try:
        for token in range(job.runs):
            started = time.perf_counter()
            writer.write(f"start-{token}", 0)
            samples.append(peers.elapsed(started))
        return {"samples": samples}
    finally:
        writer.close()


async def recovery_prepare(job: peers.Job) -> dict[str, Any]:
    writer = _Writer(job)
    writer.write_many([(f"rec-{r}", i) for r in range(job.runs) for i in range(peers.CRASH_AFTER)])
    writer.close()
    print("READY", flush=True)
    while True:
        time.sleep(3600)


async def recovery(job: peers.Job) -> dict[str, Any]:
    started = time.perf_counter()
    writer = _Writer(job)
    try:
        for r in range(job.runs):
            for i in range(peers.CRASH_AFTER, peers.RECOVERY_STEPS):
                writer.write(f"rec-{r}", i)
        return {"seconds": peers.elapsed(started)}
    finally:
        writer.close()


async def fanout(job: peers.Job) -> dict[str, Any]:
    before = peers.rss_mib()
    result = _timed(job, [("fanout", i) for i in range(job.steps)])
    result["peak_mib"] = peers.peak_growth_mib(before)
    return result
