"""An ETL pipeline as a durable workflow, with no network and no server.

Extract sensor readings from a CSV file, transform them in parallel batches through a
flaky enrichment service (retried with backoff by `durable.Retry`), load each batch into
a ``readings`` table of the journal's own SQLite database with `@durable.transaction`
(the rows and the step's journal entry commit together: exactly once, crash or not),
then report per region.

    python examples/etl_pipeline.py     # writes etl_input.csv if missing, runs the pipeline
    python examples/etl_pipeline.py     # again: the run is finished, nothing is loaded twice
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
from typing import Any

import durable

REGIONS = {"Oslo": "north", "Tromso": "north", "Lyon": "west", "Porto": "west", "Sofia": "east"}


def generate(path: str, count: int = 240) -> None:
    """Write a sample input file: one reading per row, a few of them malformed."""
    rng = random.Random(7)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "city", "celsius"])
        for i in range(count):
            celsius = "n/a" if i % 37 == 5 else f"{rng.uniform(-10, 30):.1f}"
            writer.writerow([i, rng.choice(list(REGIONS)), celsius])


@durable.step(name="etl.extract")
def extract(path: str) -> list[list[str]]:
    """Read the CSV file (a plain function: it runs in a thread)."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    print(f"  extract: {len(rows)} records from {path}")
    return rows


calls: dict[int, int] = {}


@durable.step(name="etl.transform", retry=durable.Retry(max_attempts=4, initial=0.2))
async def transform(batch: int, rows: list[list[str]]) -> dict[str, Any]:
    """Validate, convert to Fahrenheit and add the region (via a flaky enrichment service)."""
    calls[batch] = calls.get(batch, 0) + 1
    await asyncio.sleep(0.05)  # the enrichment service answers
    if batch % 2 == 1 and calls[batch] == 1:  # it times out on the first call of odd batches
        print(f"  transform batch {batch}: enrichment service timed out, will retry")
        raise ConnectionError(f"enrichment service timed out on batch {batch}")
    good: list[list[object]] = []
    for record_id, city, celsius in rows:
        try:
            fahrenheit = round(float(celsius) * 9 / 5 + 32, 1)
        except ValueError:
            continue
        good.append([int(record_id), city, fahrenheit, REGIONS[city]])
    print(f"  transform batch {batch}: {len(good)} rows ok, {len(rows) - len(good)} rejected")
    return {"rows": good, "rejected": len(rows) - len(good)}


@durable.transaction(name="etl.load")
async def load(conn, batch: int, rows: list[list[object]]) -> int:
    """Insert one batch; commits together with this step's journal entry."""
    await conn.execute(
        "create table if not exists readings "
        "(id integer primary key, city text, fahrenheit real, region text)"
    )
    for row in rows:
        await conn.execute("insert into readings values (?, ?, ?, ?)", row)
    print(f"  load batch {batch}: {len(rows)} rows")
    return len(rows)


@durable.transaction(name="etl.report")
async def report(conn) -> list[list[object]]:
    cur = await conn.execute(
        "select region, count(*), round(avg(fahrenheit), 1) from readings "
        "group by region order by region"
    )
    return [list(row) for row in await cur.fetchall()]


@durable.workflow(name="etl.pipeline")
async def etl(path: str, batch_size: int) -> dict[str, Any]:
    records = await extract(path)
    batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    done = await asyncio.gather(*(transform(n, batch) for n, batch in enumerate(batches)))
    loaded = 0
    for n, result in enumerate(done):  # one transaction per batch, in batch order
        loaded += await load(n, result["rows"])
    return {
        "extracted": len(records),
        "rejected": sum(result["rejected"] for result in done),
        "loaded": loaded,
        "regions": await report(),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///etl.db", help="a SQLite journal URL")
    parser.add_argument("--input", default="etl_input.csv")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--id", default="etl", help="the run's workflow id")
    args = parser.parse_args()
    if not os.path.exists(args.input):
        generate(args.input)
        print(f"wrote sample input {args.input}")

    async with durable.Engine(args.db) as engine:
        run = await engine.start(etl, args.input, args.batch_size, workflow_id=args.id)
        summary = await run.result()
        retried = [h.seq for h in await engine.history(run.id) if h.attempts > 1]
    print(
        f"run {run.id!r}: {summary['extracted']} extracted, {summary['rejected']} rejected, "
        f"{summary['loaded']} loaded; steps retried (seq): {retried}"
    )
    for region, count, mean in summary["regions"]:
        print(f"  {region:<6} {count:>4} readings, mean {mean} F")


if __name__ == "__main__":
    asyncio.run(main())
