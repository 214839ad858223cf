"""Workflows the CLI tests import in subprocesses (``-m tests.cli.flows``).

Step bodies append a line to ``$FLOWS_SIDE_EFFECTS`` (when set), so a test can count
what ran in another process.  ``FLOWS_VARIANT=changed`` imports an incompatible edit of
`pipeline` (a different second call), the breaking change `replay` must report.
"""

from __future__ import annotations

import asyncio
import datetime
import os

import durable


def _effect(label: str) -> None:
    path = os.environ.get("FLOWS_SIDE_EFFECTS")
    if path:
        with open(path, "a") as handle:
            handle.write(label + "\n")


@durable.step(name="cli.fetch")
async def fetch(item: str) -> str:
    _effect(f"fetch {item}")
    return item.upper()


@durable.step(name="cli.stamp")
def stamp(item: str) -> dict[str, object]:
    _effect(f"stamp {item}")
    return {"item": item, "at": datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)}


@durable.step(name="cli.blob")
async def blob(size: int) -> bytes:
    _effect("blob")
    return b"\x00" * size


@durable.step(name="cli.flaky", retry=durable.Retry(max_attempts=3, initial=0.01))
async def flaky(marker: str) -> str:
    _effect("flaky")
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        raise RuntimeError("first attempt fails")
    return "recovered"


@durable.step(name="cli.boom")
async def boom(fail: bool) -> str:
    _effect("boom")
    if fail and not os.path.exists(os.environ.get("FLOWS_FIXED", "/nonexistent")):
        raise ValueError("boom: the step failed")
    return "fine"


@durable.workflow(name="cli.child")
async def child(n: int) -> int:
    await durable.set_event("progress", n)
    return n * 10


if os.environ.get("FLOWS_VARIANT") == "changed":

    @durable.workflow(name="cli.pipeline")
    async def pipeline(items: list[str]) -> list[str]:
        first = await fetch(items[0])
        return [first, await stamp("changed")]  # type: ignore[list-item]

else:

    @durable.workflow(name="cli.pipeline")
    async def pipeline(items: list[str]) -> list[str]:
        first = await fetch(items[0])
        rest = await asyncio.gather(*(fetch(item) for item in items[1:]))
        return [first, *rest]


@durable.workflow(name="cli.family")
async def family(marker: str) -> dict[str, object]:
    stamped = await stamp("x")
    kids = await asyncio.gather(child(1), child(2))
    await durable.set_event("stage", "children done")
    greeting = await durable.recv("greeting", timeout=0.2)
    raw = await blob(4)
    retried = await flaky(marker)
    return {
        "stamped": stamped,
        "kids": kids,
        "greeting": greeting,
        "raw": len(raw),
        "retried": retried,
    }


@durable.workflow(name="cli.fragile")
async def fragile(fail: bool) -> list[str]:
    first = await fetch("a")
    return [first, await boom(fail)]


@durable.workflow(name="cli.sleepy")
async def sleepy() -> str:
    await fetch("before")
    await durable.sleep(3600)
    return await fetch("after")


@durable.workflow(name="cli.chatty")
async def chatty(words: list[str]) -> int:
    for word in words:
        await durable.write_stream("words", word)
    return len(words)
