"""A module for `durable worker`: a workflow consuming the journal topic
``worker-orders`` (run only in the worker's subprocess: importing it here would make
every engine of the test process consume that topic)."""

from __future__ import annotations

import durable


@durable.step(name="worker_flows.total")
async def total(order: dict[str, int]) -> int:
    return order["qty"] * order["price"]


@durable.workflow(name="worker_flows.order", on=durable.Topic("worker-orders"))
async def order(order: dict[str, int]) -> int:
    return await total(order)
