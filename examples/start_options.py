"""Start options in one small shop: orders deduplicated by their number, one order per
tenant processed at a time, a reminder started later, an audit run started by name, and a
detached child that outlives the order that started it.

    python examples/start_options.py          # a SQLite file in the working directory

Runs with no network; every start option is durable (a crash neither loses nor doubles a
delayed start, a deduplicated order, or a detached child).
"""

from __future__ import annotations

import asyncio
import os

import durable

tenants = durable.Queue("shop.tenants", partition_concurrency=1)  # per tenant, all workers


@durable.step
async def charge(order: str) -> str:
    await asyncio.sleep(0.05)
    return f"charged {order}"


@durable.workflow(name="shop.audit")
async def audit(order: str) -> str:
    note = await durable.recv("note", timeout=10)
    return f"audit of {order}: {note}"


@durable.workflow(name="shop.order", queue=tenants)
async def place_order(tenant: str, order: str) -> str:
    receipt = await charge(order)
    # the audit survives this order's end and any cancel of it; lineage keeps the order
    await durable.start_child(audit, order, workflow_id=f"audit-{order}", detached=True)
    return f"{tenant}: {receipt}"


@durable.workflow(name="shop.remind")
async def remind(tenant: str) -> str:
    return f"reminder sent to {tenant}"


async def main() -> None:
    path = "start_options.db"
    if os.path.exists(path):
        os.remove(path)
    async with durable.Engine(f"sqlite:///{path}", concurrency=8) as engine:
        orders = [("tenant-7", "A-1"), ("tenant-7", "A-2"), ("tenant-9", "B-1")]
        runs = [
            await engine.start(place_order, t, o, workflow_id=f"order-{o}", partition_key=t)
            for t, o in orders
        ]
        # a key for what may be submitted twice (a retried form post): the same run while
        # the first is unfinished
        first = await engine.start(remind, "tenant-9", dedup_key="nudge-tenant-9", delay=0.2)
        again = await engine.start(remind, "tenant-9", dedup_key="nudge-tenant-9")
        print(f"a second start with the key returns the same run: {again.id == first.id}")
        reminder = await engine.start(remind, "tenant-7", delay=0.5)
        print(f"reminder is {await reminder.status()} until it is due")
        for run in runs:
            print(await run.result())
        # by name: the starter needs none of the code (a worker that imports it runs it)
        await engine.start("shop.remind", "tenant-9", workflow_id="by-name")
        print(await engine.get("by-name").result())
        print(await reminder.result())
        for _, order in orders:
            await engine.send(f"audit-{order}", "note", "ok")
            print(await engine.get(f"audit-{order}").result())
        child = (await engine.lineage(runs[0].id)).children[0]
        print(f"lineage of {runs[0].id}: {child.id} ({child.status})")
        print(await first.result())


if __name__ == "__main__":
    asyncio.run(main())
