from __future__ import annotations

import asyncio

import durable


@durable.step
async def add(a: int, b: int) -> int:
    return a + b


@durable.workflow(name="tests.smoke.total")
async def total(n: int) -> int:
    x = 0
    for i in range(n):
        x = await add(x, i)
    parts = await asyncio.gather(*(add(i, 1) for i in range(3)))
    return x + sum(parts)


async def test_runs_to_completion(engine: durable.Engine) -> None:
    assert await engine.run(total, 4) == 6 + 6
    run = await engine.start(total, 2, workflow_id="again")
    assert await run.result() == 1 + 6
    assert await run.status() is durable.Status.SUCCEEDED
    history = await engine.history("again")
    assert [h.seq for h in history] == [0, 1, 2, 3, 4]
