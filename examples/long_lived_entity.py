"""A long-lived entity: an inventory counter that imports stock files forever, continuing
as new every few batches so its journal (and its replay) stays small.

    python examples/long_lived_entity.py             # runs 12 batches in 3 generations
    python examples/long_lived_entity.py             # again: the result is read back

Each batch is a sync step that reads a (simulated) file line by line and heartbeats its
progress: with ``heartbeat_timeout=`` a stuck import is failed and retried, and the
retry resumes from the last line it was told about (`durable.context().heartbeat_details`)
instead of from the top.  The first attempt of batch 5 stalls on purpose to show it.
Every 4 batches the workflow calls `durable.continue_as_new` with its running total:
the run keeps its id, and each past generation stays readable.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import durable

LINES = 20


@durable.step(
    name="long_lived_entity.import_batch",
    heartbeat_timeout=0.5,
    retry=durable.Retry(max_attempts=3, initial=0.1),
)
def import_batch(batch: int) -> int:
    """Sums the quantities of one stock file (simulated: LINES lines of `batch` units)."""
    ctx = durable.context()
    start, total = ctx.heartbeat_details or (0, 0)
    if start:
        print(f"  batch {batch}: attempt {ctx.step_attempt} resumes at line {start}")
    for line in range(start, LINES):
        if batch == 5 and ctx.step_attempt == 1 and line == 10:
            time.sleep(1.0)  # a stuck read: no heartbeat for 1 s, the attempt is failed
            durable.heartbeat()  # the abandoned thread stops here (CancelledError)
        total += batch
        durable.heartbeat((line + 1, total))
    return total


@durable.workflow(name="long_lived_entity.inventory")
async def inventory(batch: int, stock: int, last: int, per_generation: int = 4) -> int:
    for _ in range(per_generation):
        if batch > last:
            return stock
        stock += await import_batch(batch)
        batch += 1
    if batch > last:
        return stock
    durable.continue_as_new(batch, stock, last, per_generation)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///long_lived_entity.db")
    parser.add_argument("--batches", type=int, default=12)
    options = parser.parse_args()
    async with durable.Engine(options.db) as engine:
        run = await engine.start(inventory, 1, 0, options.batches, workflow_id="inventory")
        print("stock:", await run.result())
        past = await engine.generations(run.id)
        print(
            f"generations: {len(past) + 1}; entries of the past ones: {[g.entries for g in past]}"
        )
        first = await engine.history(run.id, generation=1)
        steps = " ".join(str(e.output) for e in first if e.kind == "step")
        print(f"generation 1: steps {steps}, then {first[-1].kind}")


if __name__ == "__main__":
    asyncio.run(main())
