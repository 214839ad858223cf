"""Orders from a Redis stream, one durable run per order, exactly once.

    python examples/orders_from_redis.py            # adds 3 orders, waits for their runs
    python examples/orders_from_redis.py            # again: 3 new orders, 3 new runs
    durable --db sqlite:///orders.db list           # the runs, one per stream entry

Needs a Redis server (``ORDERS_REDIS_URL``, default ``redis://127.0.0.1:6379``) and
``pip install -e '.[sources]'``.  The script adds three orders to the stream
``ORDERS_STREAM`` (default ``orders-example``), then opens an engine, which consumes the
stream through the consumer group ``durable``: each entry becomes a run whose id is
derived from the entry id, and the entry is acknowledged (``XACK``) only once its run is
in the journal.  Kill the script at any point and start it again: no order is lost, and
none is charged twice.
"""

from __future__ import annotations

import asyncio
import os

import durable
from durable.sources import RedisStream

REDIS_URL = os.environ.get("ORDERS_REDIS_URL", "redis://127.0.0.1:6379")
STREAM = os.environ.get("ORDERS_STREAM", "orders-example")


@durable.step(name="orders.charge")
async def charge(order_id: str, amount: float) -> str:
    """A simulated payment: journaled, so a replay never charges again."""
    return f"charged {amount:.2f} for order {order_id}"


@durable.workflow(name="orders.handle", on=RedisStream(REDIS_URL, STREAM, group="durable"))
async def handle_order(fields: dict[str, str]) -> str:
    return await charge(fields["order_id"], float(fields["amount"]))


async def main() -> None:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(REDIS_URL, decode_responses=True)
    entries = []
    for k, amount in enumerate((12.5, 40.0, 7.25)):
        fields = {"order_id": f"{os.getpid()}-{k}", "amount": str(amount)}
        entries.append(await client.xadd(STREAM, fields))
    await client.aclose()
    print(f"added {len(entries)} orders to stream {STREAM!r}")

    async with durable.Engine("sqlite:///orders.db") as engine:
        for entry in entries:
            run = engine.get(f"orders.handle@redis:{STREAM}/{entry}")
            while True:  # the run exists once the consumer has read the entry
                try:
                    print(f"{run.id}: {await run.result(timeout=10)}")
                    break
                except durable.WorkflowNotFound:
                    await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
