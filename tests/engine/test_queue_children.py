"""Children on a queue with ``worker_concurrency`` run no more than that many at once here.

Issue 12, bug 4: children started from a workflow on ``Queue(worker_concurrency=1)``
ran 4 at once in one engine (`Engine.start_child` took every one over without looking at
the queue's per-worker limit).
"""

from __future__ import annotations

import asyncio
from typing import Any

import durable

one_at_a_time = durable.Queue("tests.children.one_at_a_time", worker_concurrency=1)

_running: set[str] = set()
_peak: list[int] = [0]


@durable.step(name="tests.children.busy")
async def busy() -> int:
    run_id = durable.context().workflow_id
    _running.add(run_id)
    _peak[0] = max(_peak[0], len(_running))
    try:
        await asyncio.sleep(0.05)  # long enough for children started together to overlap
    finally:
        _running.discard(run_id)
    return len(_running)


@durable.workflow(name="tests.children.limited", queue=one_at_a_time)
async def limited_child(index: int) -> int:
    await busy()
    return index


@durable.workflow(name="tests.children.parent")
async def parent(width: int) -> list[int]:
    return list(await asyncio.gather(*(limited_child(i) for i in range(width))))


async def test_children_respect_worker_concurrency(make_engine: Any) -> None:
    _peak[0] = 0
    engine = await make_engine(concurrency=10)  # no poll: a slot freed here starts the next
    assert await engine.run(parent, 4) == [0, 1, 2, 3]
    assert _peak[0] == 1
