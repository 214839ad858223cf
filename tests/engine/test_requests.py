"""Request/reply, `recv_any`, sends to finished runs and long waits that park, on both
backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import durable
from durable.journal import base
from durable.runtime import waiting
from tests.conftest import EngineFactory
from tests.waiting import wait_journaled, wait_status, wait_until


@durable.workflow(name="tests.requests.counter")
async def counter(rounds: int) -> int:
    total = 0
    for _ in range(rounds):
        request = await durable.recv_request("add")
        assert request is not None
        if not isinstance(request.value, int) or request.value < 0:
            await request.reject(f"cannot add {request.value!r}")
            continue
        total += request.value
        await request.reply(total)
    return total


@durable.workflow(name="tests.requests.patient")
async def patient(timeout: float) -> str:
    request = await durable.recv_request("approve", timeout=timeout)
    if request is None:
        return "timed out"
    await request.reply("ok")
    return "approved"


@durable.workflow(name="tests.requests.choose")
async def choose(count: int, timeout: float | None) -> list[Any]:
    seen = []
    for _ in range(count):
        seen.append(list(await durable.recv_any("submit", "exit", timeout=timeout)))
    return seen


@durable.workflow(name="tests.requests.bounded")
async def bounded(seconds: float) -> str:
    try:
        async with durable.timeout(seconds):
            await durable.recv("never")
    except TimeoutError:
        return "timed out"
    return "received"


@durable.workflow(name="tests.requests.napping")
async def napping(seconds: float) -> str:
    try:
        async with durable.timeout(seconds):
            await durable.sleep(3600)
    except TimeoutError:
        return "timed out"
    return "slept"


@durable.workflow(name="tests.requests.quick")
async def quick() -> str:
    return "done"


@durable.workflow(name="tests.requests.sender")
async def sender(target: str) -> str:
    try:
        await durable.send(target, "note", 1)
    except durable.RunFinished:
        return "finished"
    return "sent"


@durable.workflow(name="tests.requests.double")
async def double() -> str:
    request = await durable.recv_request("once")
    assert request is not None
    await request.reply(1)
    try:
        await request.reply(2)
    except durable.DurableError as exc:
        return type(exc).__name__
    return "answered twice"


async def test_requests_are_answered_in_send_order(engine: durable.Engine) -> None:
    run = await engine.start(counter, 3, workflow_id="counter")
    # sent before the run takes any: queued, answered in send order
    replies = await asyncio.gather(*(engine.request(run.id, "add", n) for n in (1, 2)))
    assert sorted(replies) == [1, 3]
    assert await engine.request(run.id, "add", 10, timeout=10) == 13
    assert await run.result() == 13
    kinds = [(h.kind, h.name) for h in await engine.history(run.id)]
    assert kinds == [("request", "add"), ("reply", "add")] * 3
    report = await engine.replay(run.id)  # the journal replays: nothing diverges
    assert report.ok, report


async def test_rejection_raises_rejected_and_journals_only_the_rejection(
    engine: durable.Engine,
) -> None:
    run = await engine.start(counter, 2, workflow_id="rejecting")
    with pytest.raises(durable.Rejected) as caught:
        await engine.request(run.id, "add", -5, timeout=10)
    assert caught.value.reason == "cannot add -5"
    assert caught.value.workflow_id == run.id
    assert await engine.request(run.id, "add", 4, timeout=10) == 4
    history = await engine.history(run.id)
    rejects = [h for h in history if h.kind == "reject"]
    assert [(h.name, h.output) for h in rejects] == [("add", "cannot add -5")]
    assert not [h for h in history if h.kind == "reply" and h.output == -5]


async def test_request_to_unknown_or_finished_run(engine: durable.Engine) -> None:
    with pytest.raises(durable.WorkflowNotFound):
        await engine.request("nobody", "add", 1, timeout=1)
    run = await engine.start(quick, workflow_id="quick")
    assert await run.result() == "done"
    with pytest.raises(durable.RunFinished) as caught:
        await engine.request(run.id, "add", 1, timeout=1)
    assert caught.value.workflow_id == run.id
    with pytest.raises(durable.RunFinished):
        await engine.send(run.id, "note", 1)


async def test_run_that_finishes_without_answering_fails_the_caller(
    engine: durable.Engine,
) -> None:
    run = await engine.start(patient, 0.3, workflow_id="patient")
    assert await run.result() == "timed out"
    with pytest.raises(durable.RunFinished):
        await engine.request(run.id, "approve", None, timeout=5)


async def test_timeout_leaves_the_request_queued_for_the_same_id(
    make_engine: EngineFactory,
) -> None:
    client = await make_engine(execute=False)
    with pytest.raises(TimeoutError, match="request_id='r-1'"):
        # nobody executes the run yet: no answer in time
        await client.start(patient, 60.0, workflow_id="later")
        await client.request("later", "approve", {"by": "ann"}, timeout=0.2, request_id="r-1")
    runner = await make_engine()
    assert await runner.get("later").result(timeout=10) == "approved"
    # the same id: no second request, the first one's answer
    assert await client.request("later", "approve", None, timeout=5, request_id="r-1") == "ok"


async def test_cancelled_request_is_withdrawn(make_engine: EngineFactory) -> None:
    client = await make_engine(execute=False)
    await client.start(patient, 0.5, workflow_id="withdrawn")
    waiter = asyncio.create_task(client.request("withdrawn", "approve", 1, request_id="w"))

    async def queued() -> bool:
        return (await client.journal.request_state("withdrawn", "w")).state == "queued"

    await wait_until(queued, what="the request queued")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (await client.journal.request_state("withdrawn", "w")).state == "withdrawn"
    runner = await make_engine()
    assert await runner.get("withdrawn").result(timeout=10) == "timed out"


async def test_a_request_is_answered_once(engine: durable.Engine) -> None:
    run = await engine.start(double, workflow_id="double")
    assert await engine.request(run.id, "once", None, timeout=10) == 1
    assert await run.result() == "RequestAnswered"


async def test_recv_any_consumes_only_what_it_returns(engine: durable.Engine) -> None:
    run = await engine.start(choose, 3, 0.3, workflow_id="choose")
    await engine.send(run.id, "exit", "bye")
    await engine.send(run.id, "other", "stays")
    await engine.send(run.id, "submit", 1)
    assert await run.result() == [["exit", "bye"], ["submit", 1], [None, None]]
    history = await engine.history(run.id)
    assert [(h.kind, h.name) for h in history] == [("recv_any", "submit|exit")] * 3


async def test_recv_any_replays_without_consuming(make_engine: EngineFactory) -> None:
    first = await make_engine()
    run = await first.start(choose, 2, None, workflow_id="replayed")
    await first.send(run.id, "submit", "a")
    await wait_journaled(first, run.id, 1)
    first.abandon()  # as a SIGKILL leaves it: one message taken and journaled
    second = await make_engine()
    await second.send(run.id, "exit", "b")
    assert await second.get(run.id).result(timeout=10) == [["submit", "a"], ["exit", "b"]]
    assert (await second.replay(run.id)).ok


async def test_send_from_a_workflow_to_a_finished_run(engine: durable.Engine) -> None:
    target = await engine.start(quick, workflow_id="target")
    await target.result()
    run = await engine.start(sender, "target", workflow_id="sender")
    assert await run.result() == "finished"
    sends = [(h.kind, h.status) for h in await engine.history(run.id)]
    assert sends == [("send", "error")]  # journaled: a replay raises it again


async def _released(engine: durable.Engine, run_id: str) -> None:
    async def given_up() -> bool:
        record = await engine.journal.get_run(run_id)
        return record is not None and record.owner is None

    await wait_until(given_up, what=f"run {run_id!r} to be released", timeout=10)


async def test_long_waits_park_the_run_and_a_request_wakes_it(make_engine: EngineFactory) -> None:
    runner = await make_engine(suspend_sleeps=5.0)
    run = await runner.start(patient, 3600.0, workflow_id="parked")
    await wait_status(runner, run.id, durable.Status.SLEEPING, timeout=10)
    await wait_until(lambda: not runner.scheduler.running(), what="the run to give up its slot")
    # the slot is free before the release commits: wait for the lease to be given up
    await _released(runner, run.id)
    record = await runner.journal.get_run(run.id)
    assert record is not None and record.owner is None
    assert record.wake_at is not None and record.wake_at > record.updated_at + 3000
    assert await runner.request(run.id, "approve", None, timeout=10) == "ok"
    assert await run.result(timeout=10) == "approved"


async def test_parked_wait_without_timeout_is_woken_by_a_message(
    make_engine: EngineFactory,
) -> None:
    runner = await make_engine(suspend_sleeps=5.0)
    run = await runner.start(choose, 1, None, workflow_id="parked-any")
    await wait_until(lambda: not runner.scheduler.running(), what="the run to give up its slot")
    await _released(runner, run.id)
    record = await runner.journal.get_run(run.id)
    assert record is not None
    assert (record.status, record.owner, record.wake_at) == (
        base.Status.SLEEPING,
        None,
        waiting.NEVER,
    )
    await runner.send(run.id, "exit", 7)
    assert await run.result(timeout=10) == [["exit", 7]]


async def test_short_wait_keeps_its_slot(make_engine: EngineFactory) -> None:
    runner = await make_engine(suspend_sleeps=5.0)
    run = await runner.start(patient, 2.0, workflow_id="short")
    assert await run.result(timeout=10) == "timed out"
    record = await runner.journal.get_run(run.id)
    assert record is not None and record.attempt == 1  # never released and claimed again


async def test_wait_inside_a_timeout_keeps_its_slot_and_times_out(
    make_engine: EngineFactory,
) -> None:
    """A parked run would wake at its recv's deadline (none here), past the timeout's."""
    runner = await make_engine(suspend_sleeps=1.0)
    run = await runner.start(bounded, 1.5, workflow_id="bounded")
    assert await run.result(timeout=20) == "timed out"
    record = await runner.journal.get_run(run.id)
    assert record is not None and record.attempt == 1  # never parked and claimed again


async def test_long_sleep_inside_a_timeout_keeps_its_slot(make_engine: EngineFactory) -> None:
    """Parked until its own deadline, the sleep would outlive the timeout by an hour."""
    runner = await make_engine(suspend_sleeps=1.0)
    run = await runner.start(napping, 1.5, workflow_id="napping")
    assert await run.result(timeout=20) == "timed out"
