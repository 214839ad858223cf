"""A resumed run leaves nothing behind: no background task dies with an unretrieved error.

Found by running ``examples/quickstart.py --crash-after 5`` then resuming it: the resume
printed ``Task exception was never retrieved ... Sequencer._pump_later ... IndexError``
on stderr.  `Sequencer._pump_later` reads ``self._heap[0]`` right after
``await asyncio.sleep(0)``, by which time a `pump` from elsewhere may have emptied the
heap.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import durable
from tests.waiting import wait_journaled


@durable.step(name="e2e.hygiene.fetch")
async def fetch(i: int) -> int:
    await asyncio.sleep(0.01 * i)
    return i


@durable.step(name="e2e.hygiene.parse")
def parse(i: int) -> int:
    time.sleep(0.05)
    return i


@durable.workflow(name="e2e.hygiene.pipeline")
async def pipeline() -> int:
    fetched = await asyncio.gather(*(fetch(i) for i in range(3)))
    return sum(fetched) + await parse(0) + await parse(1)


async def test_resume_after_gather_and_sync_step_leaves_no_task_error(make_engine: Any) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    first = await make_engine()
    await first.start(pipeline, workflow_id="hygiene")
    await wait_journaled(first, "hygiene", 4, interval=0.001)  # the gather and the first parse
    first.abandon()

    second = await make_engine()
    assert await second.get("hygiene").result() == 3 + 0 + 1
    await second.close()
    gc.collect()
    await asyncio.sleep(0.01)
    assert [ctx.get("exception") or ctx.get("message") for ctx in loop_errors] == []
