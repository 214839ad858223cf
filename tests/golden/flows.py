"""The golden workflows: one per durable primitive, whose journals are checked in.

The journals under ``journals/`` were written by these functions and must keep
replaying against them, so nothing here changes once a journal of it is checked in:
not a name, not an argument, not the order of calls.  To cover something new, add a
workflow (and generate its journal); never edit one.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import fractions
from typing import Any

import durable

# step bodies run, by step name: a replay or a resume must add nothing here
executions: collections.Counter[str] = collections.Counter()


@dataclasses.dataclass
class Parcel:
    """A step result msgspec encodes with its type (the ``T`` payloads)."""

    label: str
    weight: int


@durable.step(name="golden.echo")
async def echo(label: str) -> str:
    executions["golden.echo"] += 1
    return label


@durable.step(name="golden.pack")
async def pack(label: str) -> Parcel:
    executions["golden.pack"] += 1
    return Parcel(label, len(label))


@durable.step(name="golden.third")
def third() -> fractions.Fraction:
    """A plain function (run in a thread) whose result only cloudpickle encodes."""
    executions["golden.third"] += 1
    return fractions.Fraction(1, 3)


@durable.step(name="golden.refuse", retry=durable.Retry(max_attempts=2, initial=0.01, jitter=0))
async def refuse(label: str) -> str:
    executions["golden.refuse"] += 1
    raise ValueError(f"{label} is refused")


@durable.step(name="golden.linger")
async def linger(label: str, seconds: float) -> str:
    executions["golden.linger"] += 1
    await asyncio.sleep(seconds)
    return label


@durable.transaction(name="golden.increment")
async def increment(conn: Any, n: int) -> int:
    executions["golden.increment"] += 1
    cursor = await conn.execute("SELECT ? + 1", (n,))
    row = await cursor.fetchone()
    return int(row[0])


@durable.workflow(name="golden.steps")
async def steps() -> dict[str, object]:
    """A step that succeeds, a plain-function step, a step that fails after a retry."""
    parcel = await pack("box")
    share = await third()
    try:
        await refuse("late")
    except ValueError as exc:
        refused = str(exc)
    return {"parcel": parcel, "share": str(share), "refused": refused}


@durable.workflow(name="golden.transaction")
async def transaction() -> int:
    return await increment(41)


@durable.workflow(name="golden.sleep")
async def sleep() -> str:
    await durable.sleep(0.01)
    return await echo("awake")


@durable.workflow(name="golden.instants")
async def instants() -> dict[str, object]:
    return {"now": durable.now(), "uuid": durable.uuid4(), "random": durable.random()}


@durable.workflow(name="golden.patched")
async def patched() -> str:
    if durable.patched("golden-new-path"):
        return await echo("new path")
    return await echo("old path")


@durable.workflow(name="golden.child")
async def child(label: str) -> str:
    return await echo(label)


@durable.workflow(name="golden.children")
async def children() -> list[str]:
    """One child awaited directly, one started and awaited through its handle."""
    first = await child("awaited")
    handle = await durable.start_child(child, "started")
    return [first, await handle]


@durable.workflow(name="golden.race")
async def race() -> str:
    """A step wins; the step that loses is cancelled (a ``cancelled`` entry)."""
    result: str = await durable.race(echo("quick"), linger("slow", 30.0))
    return result


@durable.workflow(name="golden.timeout")
async def timeout() -> list[str]:
    """A timeout that fires (its step is cancelled), then one that does not."""
    out = []
    try:
        async with durable.timeout(0.05):
            out.append(await linger("stuck", 30.0))
    except TimeoutError:
        out.append("timed out")
    async with durable.timeout(30.0):
        out.append(await echo("in time"))
    return out


@durable.workflow(name="golden.messages")
async def messages() -> list[object]:
    """A message sent to itself and received, then a `recv` that times out."""
    await durable.send(durable.context().workflow_id, "inbox", {"n": 1})
    received = await durable.recv("inbox")
    missed = await durable.recv("silent", timeout=0.05)
    return [received, missed]


@durable.workflow(name="golden.event")
async def event() -> str:
    await durable.set_event("stage", "started")
    done = await echo("done")
    await durable.set_event("stage", done)
    return done


@durable.workflow(name="golden.fanout")
async def fanout() -> list[str]:
    """Four steps at once: their outcomes are journaled as one group."""
    return list(await asyncio.gather(*(echo(f"part {i}") for i in range(4))))


# every workflow with a checked-in journal, in the order they are generated
GOLDEN: list[durable.Workflow[..., Any]] = [
    steps,
    transaction,
    sleep,
    instants,
    patched,
    children,
    race,
    timeout,
    messages,
    event,
    fanout,
]
