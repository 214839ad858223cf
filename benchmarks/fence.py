"""The cost of the Postgres journal's fence on the step path (issue 23).

    python -m benchmarks.fence --db postgresql://postgres@127.0.0.1:5432/bench

Every append of a run its engine holds carries an entry it knows committed, and writes
nothing unless that entry is in the journal (one primary-key probe in the statement).
This appends one entry at a time to two runs of one journal, alternately: one fenced
(the engine holds it and knows its last entry), one not (the same statement without an
entry to expect, as before the fence), so both see the same server, load and table
sizes.  Prints the median commit time of each and their ratio.  Tables live in a schema
of their own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import psycopg

from durable.journal import base
from durable.journal.postgres import PostgresJournal

OWNER = "bench/boot/1/1/fence"


def _entry(run_id: str, seq: int) -> base.EntryRecord:
    return base.EntryRecord(
        run_id=run_id,
        seq=seq,
        ord=seq,
        kind="step",
        name="bench.noop",
        status="ok",
        fingerprint="0" * 16,
        output=b"\x01",
        started_at=time.time(),
        finished_at=time.time(),
    )


async def _create(journal: PostgresJournal, run_id: str) -> None:
    now = journal.now()
    await journal.create_run(
        base.NewRun(
            id=run_id,
            name="bench.sequential",
            input=b"",
            root_id=run_id,
            metadata=b"",
            owner=OWNER,
            lease_expires_at=now + 600,
            created_at=now,
            status=base.Status.RUNNING,
        )
    )


async def _measure(url: str, steps: int) -> tuple[list[float], list[float]]:
    journal = PostgresJournal(url)
    await journal.open()
    try:
        await _create(journal, "fenced")
        await _create(journal, "open")
        journal._holdings.drop("open")  # this engine knows nothing committed of it
        fenced: list[float] = []
        unfenced: list[float] = []
        for seq in range(steps):
            for run_id, times in (("fenced", fenced), ("open", unfenced)):
                started = time.perf_counter()
                await journal.append_entries(OWNER, [_entry(run_id, seq)])
                times.append(time.perf_counter() - started)
        assert journal._holdings.expect(OWNER, "fenced") == steps - 1  # it was fenced
        assert journal._holdings.expect(OWNER, "open") is None
        return fenced, unfenced
    finally:
        await journal.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="a Postgres URL (a schema is made there)")
    parser.add_argument("--steps", type=int, default=2000, help="appends per run")
    options = parser.parse_args()
    schema = f"bench_fence_{os.getpid()}"
    separator = "&" if "?" in options.db else "?"
    try:
        fenced, unfenced = await _measure(f"{options.db}{separator}schema={schema}", options.steps)
    finally:
        async with await psycopg.AsyncConnection.connect(options.db, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    with_fence, without = statistics.median(fenced), statistics.median(unfenced)
    print(f"appends of one entry, {options.steps} per run, alternating:")
    print(f"  without the fence: {without * 1e3:7.3f} ms (median)")
    print(f"  with the fence:    {with_fence * 1e3:7.3f} ms (median)")
    print(f"  ratio:             {with_fence / without:7.3f}")


if __name__ == "__main__":
    asyncio.run(main())
