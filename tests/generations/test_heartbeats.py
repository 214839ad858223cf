"""Heartbeats, step attempts and the retry extras, on both backends."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import durable
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

seen: list[tuple[int, Any]] = []
stopped = threading.Event()
beating = threading.Event()


@durable.step(
    name="hb.async_stalls",
    heartbeat_timeout=0.3,
    retry=durable.Retry(max_attempts=3, initial=0, jitter=0),
)
async def async_stalls() -> str:
    ctx = durable.context()
    seen.append((ctx.step_attempt, ctx.heartbeat_details))
    durable.heartbeat({"page": ctx.step_attempt})
    if ctx.step_attempt == 1:
        await asyncio.sleep(30)  # stops heartbeating: failed after 0.3 s
    return "done"


@durable.step(
    name="hb.sync_stalls",
    heartbeat_timeout=0.3,
    retry=durable.Retry(max_attempts=3, initial=0, jitter=0),
)
def sync_stalls() -> str:
    ctx = durable.context()
    seen.append((ctx.step_attempt, ctx.heartbeat_details))
    durable.heartbeat(f"attempt {ctx.step_attempt}")
    if ctx.step_attempt == 1:
        time.sleep(0.6)  # past the timeout: the attempt is failed meanwhile
        try:
            durable.heartbeat()
        except asyncio.CancelledError:
            stopped.set()  # the abandoned thread learns it at its heartbeat
            raise
    return "done"


@durable.workflow(name="hb.stalls")
async def stalls(sync: bool) -> str:
    return await (sync_stalls() if sync else async_stalls())


@durable.step(name="hb.forever")
def forever() -> None:
    while True:
        try:
            durable.heartbeat()
        except asyncio.CancelledError:
            stopped.set()
            raise
        beating.set()
        time.sleep(0.01)


@durable.workflow(name="hb.cancelled")
async def cancelled() -> None:
    await forever()


flaky_calls: list[int] = []


@durable.step(name="hb.flaky", retry=durable.Retry(max_attempts=None, initial=0, jitter=0))
async def flaky() -> int:
    flaky_calls.append(durable.context().step_attempt)
    if len(flaky_calls) < 12:
        raise ValueError("not yet")
    return len(flaky_calls)


@durable.workflow(name="hb.unlimited")
async def unlimited() -> int:
    return await flaky()


@durable.step(
    name="hb.always_fails",
    retry=durable.Retry(max_attempts=None, initial=0.05, backoff=1, jitter=0, total_timeout=0.5),
)
async def always_fails() -> None:
    flaky_calls.append(durable.context().step_attempt)
    raise ValueError("never")


@durable.step(
    name="hb.too_slow", retry=durable.Retry(max_attempts=None, initial=0, total_timeout=0.3)
)
async def too_slow() -> None:
    flaky_calls.append(durable.context().step_attempt)
    await asyncio.sleep(30)


@durable.workflow(name="hb.bounded")
async def bounded(slow: bool) -> None:
    await (too_slow() if slow else always_fails())


@pytest.fixture(autouse=True)
def _reset() -> None:
    seen.clear()
    flaky_calls.clear()
    stopped.clear()
    beating.clear()


@pytest.mark.parametrize("sync", [False, True])
async def test_a_missed_heartbeat_fails_the_attempt_and_hands_on_details(
    engine: durable.Engine, sync: bool
) -> None:
    assert await engine.run(stalls, sync, workflow_id="stalls") == "done"
    first = {"page": 1} if not sync else "attempt 1"
    assert seen == [(1, None), (2, first)]
    (entry,) = await engine.history("stalls")
    assert entry.attempts == 2
    if sync:
        await wait_until(stopped.is_set, what="the abandoned thread to stop at its heartbeat")


async def test_a_cancelled_runs_sync_step_stops_at_its_heartbeat(engine: durable.Engine) -> None:
    run = await engine.start(cancelled, workflow_id="cancelled")
    await wait_until(beating.is_set, what="the step to heartbeat")
    await run.cancel()
    with pytest.raises(durable.Cancelled):
        await run.result(timeout=30)
    await wait_until(stopped.is_set, what="the step's heartbeat to raise CancelledError")


async def test_max_attempts_none_retries_until_it_succeeds(engine: durable.Engine) -> None:
    assert await engine.run(unlimited, workflow_id="unlimited") == 12
    assert flaky_calls == list(range(1, 13))


@pytest.mark.parametrize("slow", [False, True])
async def test_total_timeout_bounds_every_attempt_and_wait(
    engine: durable.Engine, slow: bool
) -> None:
    run = await engine.start(bounded, slow, workflow_id="bounded")
    with pytest.raises(durable.WorkflowFailed) as failed:
        await run.result(timeout=30)
    if slow:
        assert isinstance(failed.value.__cause__, TimeoutError)
        assert "total_timeout of 0.3s" in str(failed.value.__cause__)
        assert flaky_calls == [1]
    else:
        assert isinstance(failed.value.__cause__, ValueError)
        # 0.05 s between attempts within 0.5 s: about ten, never unbounded
        assert 2 <= len(flaky_calls) <= 11


def test_retry_rejects_a_bad_total_timeout() -> None:
    with pytest.raises(ValueError, match="total_timeout"):
        durable.Retry(total_timeout=0)
    assert durable.Retry(max_attempts=None).should_retry(ValueError(), 10_000)


async def test_heartbeat_outside_a_step_does_nothing() -> None:
    durable.heartbeat({"x": 1})
    assert durable.Retry().max_attempts == 3


tx_attempts: list[int] = []


@durable.transaction(name="hb.tx", retry=durable.Retry(max_attempts=2, initial=0))
async def counted_tx(conn: Any) -> int:
    tx_attempts.append(durable.context().step_attempt)
    if len(tx_attempts) == 1:
        raise ValueError("first attempt fails")
    return len(tx_attempts)


@durable.workflow(name="hb.transacting")
async def transacting() -> int:
    return await counted_tx()


async def test_a_transaction_knows_its_attempt(engine: durable.Engine) -> None:
    tx_attempts.clear()
    assert await engine.run(transacting, workflow_id="tx") == 2
    assert tx_attempts == [1, 2]
