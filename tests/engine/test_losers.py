"""The rule for losers: a call that `durable.race` or `durable.timeout` gives up on
journals a ``cancelled`` outcome in its turn and consumes nothing (issue 12, bug 1)."""

from __future__ import annotations

import asyncio

import durable


@durable.workflow(name="tests.losers.waiter")
async def waiter() -> str:
    await durable.recv("go")  # both messages are queued once this returns
    return str(await two_topics_body())


async def two_topics_body() -> list[str]:
    first = await durable.race(durable.recv("a"), durable.recv("b"))
    second = await durable.recv("b", timeout=5)
    return [first, second]


async def test_a_losing_recv_leaves_its_message_queued(engine: durable.Engine) -> None:
    run = await engine.start(waiter, workflow_id="two-topics")
    await engine.send("two-topics", "a", "from a")
    await engine.send("two-topics", "b", "from b")
    await engine.send("two-topics", "go", None)
    assert await run.result(timeout=20) == str(["from a", "from b"])
    history = await engine.history("two-topics")
    recvs = [(h.name, h.status) for h in history if h.kind == "recv"]
    assert recvs == [("go", "ok"), ("a", "ok"), ("b", "cancelled"), ("b", "ok")]


@durable.workflow(name="tests.losers.timed_out_recv")
async def timed_out_recv() -> str | None:
    try:
        async with durable.timeout(0.05):
            await durable.recv("late")
    except TimeoutError:
        await durable.set_event("gave-up", True)
    return await durable.recv("late", timeout=10)


async def test_a_recv_a_timeout_gave_up_on_journals_cancelled(engine: durable.Engine) -> None:
    run = await engine.start(timed_out_recv, workflow_id="timed-out")
    assert await engine.get_event("timed-out", "gave-up", timeout=10) is True
    await engine.send("timed-out", "late", "kept")
    assert await run.result(timeout=20) == "kept"
    history = await engine.history("timed-out")
    assert [(h.kind, h.name, h.status) for h in history if h.kind == "recv"] == [
        ("recv", "late", "cancelled"),
        ("recv", "late", "ok"),
    ]
    # a given-up call shows why, not "<undecodable value: ... corrupt ...>"
    assert [h.output for h in history if h.status == "cancelled"] == ["durable: timed out"]


@durable.workflow(name="tests.losers.instant_timeout")
async def instant_timeout() -> str | None:
    await durable.recv("ready")  # the message on "late" is queued by now
    got = None
    try:
        async with durable.timeout(0):  # fires while the recv is taking the message
            got = await durable.recv("late")
    except TimeoutError:
        pass
    return got if got is not None else await durable.recv("late", timeout=10)


async def test_a_timeout_firing_while_a_recv_takes_its_message_loses_nothing(
    engine: durable.Engine,
) -> None:
    runs = []
    for i in range(10):
        run = await engine.start(instant_timeout, workflow_id=f"instant-{i}")
        await engine.send(run.id, "late", f"kept-{i}")
        await engine.send(run.id, "ready", None)
        runs.append(run)
    assert [await run.result(timeout=20) for run in runs] == [f"kept-{i}" for i in range(10)]


@durable.workflow(name="tests.losers.sleep_loses")
async def sleep_loses() -> str:
    return str(await durable.race(durable.sleep(30), durable.recv("wake")))


async def test_a_losing_sleep_journals_a_cancelled_outcome(engine: durable.Engine) -> None:
    run = await engine.start(sleep_loses, workflow_id="sleep-loses")
    await asyncio.sleep(0.05)
    await engine.send("sleep-loses", "wake", "up")
    assert await run.result(timeout=20) == "up"
    history = await engine.history("sleep-loses")
    # `durable.sleep` is numbered when called, the race and its recv when awaited
    assert [(h.kind, h.status) for h in history] == [
        ("sleep", "cancelled"),
        ("race", "ok"),
        ("recv", "ok"),
    ]
    assert history[0].output == "durable: lost a race"
