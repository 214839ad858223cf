"""Writes values of types from a module only this process can import (for
`test_missing_types.py`).

Run as ``python -m tests.e2e.parcels_writer --db URL`` with the folder of a module
``parcels`` on ``PYTHONPATH`` (the test writes it into a temporary folder, so the test's
own process cannot import it).  It runs one workflow to its end: two steps return a
``parcels.Parcel`` (a dataclass, journaled typed) and a ``parcels.Box`` (a plain class,
journaled pickled), which it then publishes as the events ``parcel`` and ``box``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import parcels  # type: ignore[import-not-found]

import durable


@durable.step(name="e2e.parcels.pack")
async def pack() -> Any:
    return parcels.Parcel(weight=3)


@durable.step(name="e2e.parcels.box")
async def box() -> Any:
    return parcels.Box("fragile")


@durable.workflow(name="e2e.parcels.ship")
async def ship() -> str:
    await durable.set_event("parcel", await pack())
    await durable.set_event("box", await box())
    return "shipped"


async def main(db: str) -> None:
    async with durable.Engine(db, poll_interval=0) as engine:
        print(await engine.run(ship, workflow_id="ship"), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.parcels_writer")
    parser.add_argument("--db", required=True)
    asyncio.run(main(parser.parse_args().db))
