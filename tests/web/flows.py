"""Workflows the web view's tests show: a fan-out with failures, a retried step that
fails the run, a race, a child tree, and a run that waits for messages (imported
in-process and by ``durable serve -m tests.web.flows`` / ``durable worker`` processes)."""

from __future__ import annotations

import asyncio

import durable

FAST = durable.Retry(max_attempts=3, initial=0.05, backoff=2.0, jitter=0)


@durable.step(name="web.fetch")
async def fetch(i: int) -> dict[str, int]:
    return {"page": i, "bytes": 100 + i}


@durable.step(name="web.flaky", retry=FAST)
async def flaky(label: str) -> str:
    raise ConnectionError(f"upstream {label} refused the connection")


@durable.workflow(name="web.fan_out")
async def fan_out(n: int) -> int:
    pages = await asyncio.gather(*(fetch(i) for i in range(n)))
    return sum(p["bytes"] for p in pages)


@durable.workflow(name="web.failing")
async def failing(label: str) -> str:
    await fetch(0)
    return await flaky(label)


@durable.step(name="web.slow")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"slow {seconds}"


@durable.step(name="web.quick")
async def quick() -> str:
    return "quick"


@durable.workflow(name="web.racer")
async def racer() -> str:
    return str(await durable.race(quick(), slow(30.0), durable.sleep(60)))


@durable.workflow(name="web.leaf")
async def leaf(n: int) -> int:
    return (await fetch(n))["page"]


@durable.workflow(name="web.tree")
async def tree(n: int) -> int:
    values = await asyncio.gather(*(leaf(i) for i in range(n)))
    return sum(values)


@durable.workflow(name="web.stepper")
async def stepper(count: int) -> int:
    """One call per ``next`` message: the live-update test sends them one by one."""
    total = 0
    for i in range(count):
        await durable.recv("next")
        total += (await fetch(i))["page"]
    return total


@durable.step(name="web.page", retry=durable.Retry(max_attempts=1))
async def page(i: int) -> dict[str, int]:
    if i % 1000 == 999:
        raise TimeoutError(f"page {i} timed out")
    return {"page": i}


@durable.workflow(name="web.crawl")
async def crawl(n: int) -> int:
    """A large fan-out whose every thousandth call fails (the run still succeeds)."""
    pages = await asyncio.gather(*(page(i) for i in range(n)), return_exceptions=True)
    return sum(1 for p in pages if isinstance(p, dict))


@durable.workflow(name="web.desk")
async def desk() -> str:
    """Replies to its first request ``approve``, rejects the second, then waits for a
    ``close`` message: a third request stays queued."""
    first = await durable.recv_request("approve")
    assert first is not None
    await first.reply({"approved": first.value})
    second = await durable.recv_request("approve")
    assert second is not None
    await second.reject("closed for the day")
    await durable.recv("close")
    return "closed"


@durable.workflow(name="web.echo")
async def echo(count: int) -> int:
    """Answers `count` requests ``ask`` with their value upper-cased."""
    for _ in range(count):
        request = await durable.recv_request("ask")
        assert request is not None
        await request.reply(str(request.value).upper())
    return count


@durable.workflow(name="web.counter")
async def counter(n: int, upto: int) -> int:
    """One call per generation, continuing as new until `upto`."""
    await fetch(n)
    if n < upto:
        durable.continue_as_new(n + 1, upto)
    return n


async def on_order(order: dict[str, int]) -> int:
    """Started by the journal's topic ``web-orders`` (declared by the tests' fill only,
    so other engines in the test process do not consume it)."""
    return (await fetch(order["id"]))["page"]
