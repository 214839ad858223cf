"""Composition on both backends: children, lineage, race, cancellation, messages, timeouts."""

from __future__ import annotations

import asyncio

import pytest

import durable
from durable import testing
from tests.waiting import wait_journaled, wait_status, wait_until

ran: list[str] = []


@durable.step(name="tests.compose.work")
async def work(label: str, delay: float = 0.0) -> str:
    ran.append(label)
    await asyncio.sleep(delay)
    return label


@durable.workflow(name="tests.compose.leaf")
async def leaf(label: str) -> str:
    ctx = durable.context()
    return f"{await work(label)}@{ctx.metadata.get('team', '-')}"


@durable.workflow(name="tests.compose.parent")
async def parent(labels: list[str]) -> list[str]:
    first = await leaf(labels[0])  # awaited directly: a child run
    handles = [await durable.start_child(leaf, label) for label in labels[1:]]
    rest = await asyncio.gather(*handles)
    return [first, *rest]


async def test_children_lineage_and_metadata(engine) -> None:
    ran.clear()
    run = await engine.start(parent, ["a", "b", "c"], workflow_id="p", metadata={"team": "x"})
    assert await run.result() == ["a@x", "b@x", "c@x"]
    tree = await engine.lineage("p")
    assert tree.id == "p" and tree.status is durable.Status.SUCCEEDED
    assert [child.id for child in tree.children] == ["p.0", "p.1", "p.2"]
    assert all(child.parent_id == "p" for child in tree.children)
    assert (await engine.lineage("p.1")).id == "p"  # any member gives the whole tree
    history = await engine.history("p")
    assert [(h.kind, h.name) for h in history] == [("child", "tests.compose.leaf")] * 3
    infos = {info.id: info for info in await engine.list(name="tests.compose.leaf")}
    assert {infos[i].root_id for i in ("p.0", "p.1", "p.2")} == {"p"}
    assert sorted(ran) == ["a", "b", "c"]


@durable.workflow(name="tests.compose.slow_parent")
async def slow_parent() -> list[str]:
    first = await leaf("s1")
    await durable.sleep(0.3)
    return [first, await leaf("s2")]


async def test_replay_does_not_start_children_again(make_engine) -> None:
    ran.clear()
    first = await make_engine()
    await first.start(slow_parent, workflow_id="sp")
    await wait_journaled(first, "sp", 1)
    testing.crash(first)
    second = await make_engine()
    assert await second.get("sp").result(timeout=10) == ["s1@-", "s2@-"]
    assert ran == ["s1", "s2"]


@durable.step(name="tests.compose.model")
async def model(name: str, delay: float) -> str:
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        ran.append(f"{name} cancelled")
        raise
    ran.append(f"{name} done")
    return name


@durable.workflow(name="tests.compose.champion")
async def champion() -> str:
    return await durable.race(model("fast", 0.05), model("slow", 5.0))


async def test_race_takes_the_first_and_cancels_the_rest(engine) -> None:
    ran.clear()
    assert await engine.run(champion, workflow_id="race") == "fast"
    assert ran == ["fast done", "slow cancelled"]
    history = {h.seq: h for h in await engine.history("race")}
    assert history[0].status == "ok" and history[1].status == "cancelled"
    assert history[2].kind == "race" and history[2].output == 0
    fork = await engine.fork("race", from_step=3)  # replays the race from the journal
    assert await fork.result() == "fast"
    assert ran == ["fast done", "slow cancelled"]


@durable.workflow(name="tests.compose.slow_leaf")
async def slow_leaf() -> str:
    await durable.sleep(30)
    return "late"


@durable.workflow(name="tests.compose.child_race")
async def child_race() -> str:
    return await durable.race(work("quick", 0.05), slow_leaf())


async def test_race_cancels_a_losing_child_run(engine) -> None:
    assert await engine.run(child_race, workflow_id="cr") == "quick"
    await wait_status(engine, "cr.1", durable.Status.CANCELLED)


@durable.workflow(name="tests.compose.waits_for_child")
async def waits_for_child() -> str:
    return await slow_leaf()


async def test_cancel_cascades_to_descendants(engine) -> None:
    run = await engine.start(waits_for_child, workflow_id="cc")

    async def child_sleeping() -> bool:
        return (
            len(await engine.list(name="tests.compose.slow_leaf")) > 0
            and (await engine.get("cc.0").status()) is durable.Status.SLEEPING
        )

    await wait_until(child_sleeping, what="child 'cc.0' to exist and be SLEEPING")
    await run.cancel()
    with pytest.raises(durable.Cancelled):
        await run.result(timeout=5)
    child = engine.get("cc.0")
    with pytest.raises(durable.Cancelled):
        await child.result(timeout=5)


@durable.workflow(name="tests.compose.inbox")
async def inbox() -> list[object]:
    got = [await durable.recv("jobs"), await durable.recv("jobs")]
    await durable.set_event("progress", {"received": len(got)})
    got.append(await durable.recv("jobs", timeout=0.2))
    return got


async def test_messages_in_order_exactly_once_and_events(engine) -> None:
    run = await engine.start(inbox, workflow_id="inbox")
    await engine.send("inbox", "jobs", {"n": 1})
    await engine.send("inbox", "jobs", [2])
    assert await engine.get_event("inbox", "progress", timeout=5) == {"received": 2}
    assert await run.result(timeout=10) == [{"n": 1}, [2], None]
    with pytest.raises(durable.WorkflowNotFound):
        await engine.send("no-such-run", "jobs", 1)


@durable.workflow(name="tests.compose.pinger")
async def pinger(target: str) -> str:
    await durable.send(target, "jobs", "from a workflow")
    try:
        await durable.send("missing-run", "jobs", 1)
    except durable.WorkflowNotFound as missing:
        return f"not found: {missing.workflow_id}"
    return "sent"


async def test_send_from_a_workflow(engine) -> None:
    receiver = await engine.start(inbox, workflow_id="rx")
    assert await engine.run(pinger, "rx") == "not found: missing-run"
    await engine.send("rx", "jobs", "second")
    assert await receiver.result(timeout=10) == ["from a workflow", "second", None]


@durable.workflow(name="tests.compose.bounded")
async def bounded() -> str:
    try:
        async with durable.timeout(0.1):
            await model("stuck", 5.0)
    except TimeoutError:
        return "timed out"
    return "finished"


async def test_durable_timeout_cancels_the_work_inside(engine) -> None:
    ran.clear()
    assert await engine.run(bounded, workflow_id="bt") == "timed out"
    assert ran == ["stuck cancelled"]
    kinds = [(h.kind, h.status) for h in await engine.history("bt")]
    assert ("step", "cancelled") in kinds and ("timeout", "ok") in kinds


@durable.workflow(name="tests.compose.whole", timeout=0.2)
async def whole() -> str:
    await durable.sleep(5)
    return "never"


async def test_workflow_timeout_fails_the_run(engine) -> None:
    run = await engine.start(whole, workflow_id="wt")
    with pytest.raises(durable.WorkflowFailed) as failure:
        await run.result(timeout=5)
    assert isinstance(failure.value.__cause__, TimeoutError)
