"""Large values in a blob store: DataFrames as Parquet beside the journal, no network.

A workflow builds a daily table of 200,000 simulated sensor readings (a pandas DataFrame
of about 3.4 MB), keeps a per-city summary, and passes a `durable.Ref` of the raw table to
the step that reports on it.  The engine is opened with ``offload_over``: on SQLite the
blob store is then the folder ``large_values.db.blobs`` beside the database, and every
value over 256 KiB is written there as Parquet (tables) or as the codec's bytes, the
journal keeping a small reference (uri, sha256, size, format).  The table the first
step returns and the one the `Ref` keeps are the same bytes, so the same key: one blob.

    python examples/large_values.py      # runs the workflow, prints what the journal holds
    python examples/large_values.py      # again: the run is finished, no step runs twice
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pandas as pd

import durable

DB = "large_values.db"
CITIES = ["Oslo", "Lyon", "Porto", "Sofia"]


@durable.step(name="large.readings")
def readings(day: str, rows: int) -> pd.DataFrame:
    """A day of readings: big enough (about 3.4 MB) to be offloaded as Parquet."""
    rng = np.random.default_rng(int(day.replace("-", "")))
    return pd.DataFrame(
        {
            "city": pd.Categorical(rng.choice(CITIES, rows)),
            "celsius": rng.normal(12.0, 8.0, rows).round(1),
            "at": pd.date_range(day, periods=rows, freq="400ms", tz="UTC"),
        }
    )


@durable.step(name="large.archive")
def archive(table: pd.DataFrame) -> durable.Ref:
    """Keep the raw table by reference: the workflow (and its replays) never fetch it."""
    return durable.Ref.put(table)


@durable.step(name="large.report")
def report(raw: durable.Ref, summary: pd.DataFrame) -> str:
    table = raw.get()  # fetched here, checked against its sha256
    hottest = summary["mean"].idxmax()
    return f"{len(table):,} readings; warmest city {hottest} ({summary['mean'].max():.1f} C)"


@durable.workflow(name="large.daily")
async def daily(day: str) -> str:
    table = await readings(day, 200_000)
    summary = table.groupby("city", observed=True)["celsius"].agg(["mean", "max"])
    raw = await archive(table)
    return await report(raw, summary)


async def main() -> None:
    async with durable.Engine(f"sqlite:///{DB}", offload_over=262144) as engine:
        print("result:", await engine.run(daily, "2026-06-01", workflow_id="daily-2026-06-01"))
        load = await engine.journal.load("daily-2026-06-01")
        assert load is not None
        for entry in load.entries:
            size = len(entry.output or b"")
            print(f"  seq {entry.seq} {entry.name}: {size} bytes in the journal")
    store = f"{DB}.blobs"
    files = [os.path.join(d, f) for d, _, names in os.walk(store) for f in names]
    total = sum(os.path.getsize(f) for f in files)
    print(f"blob store {store}/: {len(files)} file(s), {total / 1e6:.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
