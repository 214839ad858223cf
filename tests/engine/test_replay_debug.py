"""Replay for debugging and patching, on both backends."""

from __future__ import annotations

import asyncio

import pytest

import durable
from durable import testing
from tests.waiting import wait_journaled, wait_until

bodies: list[str] = []


@durable.step(name="tests.dbg.step")
async def act(label: str) -> str:
    bodies.append(label)
    return label.upper()


@durable.workflow(name="tests.dbg.flow")
async def flow() -> list[str]:
    first = await act("a")
    rest = await asyncio.gather(act("b"), act("c"))
    return [first, *rest]


async def test_replay_runs_no_body_and_writes_nothing(engine) -> None:
    assert await engine.run(flow, workflow_id="dbg") == ["A", "B", "C"]
    before = await engine.history("dbg")
    bodies.clear()
    seen: list[tuple[int, str, str, bool]] = []
    report = await engine.replay("dbg", on_call=lambda *call: seen.append(call))
    assert report.ok and report.finished and report.result == ["A", "B", "C"]
    assert bodies == []
    assert seen == [
        (0, "step", "tests.dbg.step", True),
        (1, "step", "tests.dbg.step", True),
        (2, "step", "tests.dbg.step", True),
    ]
    assert await engine.history("dbg") == before
    assert await engine.get("dbg").status() is durable.Status.SUCCEEDED


async def test_replay_reports_the_divergence_and_break_at(engine) -> None:
    assert await engine.run(flow, workflow_id="dbg2") == ["A", "B", "C"]
    original = flow.definition.fn

    @durable.workflow(name="tests.dbg.flow")
    async def changed() -> list[str]:
        return [await act("a"), await act("x")]

    try:
        breaks: list[int] = []
        report = await engine.replay("dbg2", break_at=1, on_break=breaks.append)
        assert not report.ok and breaks == [1]
        assert report.divergence is not None and report.divergence.seq == 1
        assert "'x'" in str(report.divergence)
        broken = await engine.check(name="tests.dbg.flow")
        assert "dbg2" in [r.workflow_id for r in broken]
    finally:
        durable.workflow(name="tests.dbg.flow")(original)
    assert await engine.check(name="tests.dbg.flow") == []


@durable.workflow(name="tests.dbg.unfinished")
async def unfinished() -> str:
    await act("one")
    await durable.sleep(30)
    return await act("two")


async def test_replay_of_an_unfinished_run_says_where_it_would_go_on(make_engine) -> None:
    first = await make_engine()
    await first.start(unfinished, workflow_id="unf")
    await wait_journaled(first, "unf", 1)
    testing.crash(first)
    inspector = await make_engine(execute=False)
    report = await inspector.replay("unf")
    assert report.ok and not report.finished
    assert report.live_at is not None and report.live_at.seq == 1
    assert "sleep" in report.live_at.description


@durable.workflow(name="tests.dbg.patched")
async def evolving() -> list[str]:
    out = [await act("start")]
    if durable.patched("extra-step"):
        out.append(await act("extra"))
    else:
        await act("late")  # the old path, kept for runs that journaled it
    await durable.sleep(0.4)
    out.append(await act("end"))
    return out


async def test_patched_old_runs_keep_the_old_path(make_engine) -> None:
    original = evolving.definition.fn

    @durable.workflow(name="tests.dbg.patched")
    async def before_patch() -> list[str]:
        out = [await act("start")]
        await act("late")
        await durable.sleep(0.4)
        out.append(await act("end"))
        return out

    try:
        first = await make_engine()
        await first.start(before_patch, workflow_id="old")
        await wait_journaled(first, "old", 2)
        testing.crash(first)
    finally:
        durable.workflow(name="tests.dbg.patched")(original)
    bodies.clear()
    second = await make_engine()  # the patched code is deployed; the old run resumes
    new = await second.start(evolving, workflow_id="new")
    assert await new.result(timeout=10) == ["START", "EXTRA", "END"]
    assert await second.get("old").result(timeout=10) == ["START", "END"]
    assert sorted(bodies) == sorted(["start", "extra", "end", "end"])
    assert ("patch", "extra-step") in [(h.kind, h.name) for h in await second.history("new")]
    assert "patch" not in [h.kind for h in await second.history("old")]
    assert (await second.replay("new")).ok and (await second.replay("old")).ok


@durable.workflow(name="tests.dbg.kid")
async def kid(label: str) -> str:
    return await act(label)


@durable.workflow(name="tests.dbg.siblings")
async def siblings() -> list[object]:
    """Two branches: one opens a timeout and starts a child before its next call, the
    other calls a step at once."""

    async def opener() -> list[str]:
        async with durable.timeout(30):
            first = await act("in-timeout")
        handle = await durable.start_child(kid, "k")
        second = await act("after-start")
        return [first, second, await handle]

    async def beside() -> str:
        return await act("beside")

    return list(await asyncio.gather(opener(), beside()))


async def test_a_replay_numbers_calls_after_a_timeout_or_child_start_as_the_run_did(
    engine,
) -> None:
    """Entering ``durable.timeout`` and ``durable.start_child`` write to the journal on
    the live path but not on a replay that finds them journaled: neither may hold its
    branch back (a database round trip lets the other branch number its calls first on
    the live path only), or the replay of a finished run diverges (found on Postgres by
    the property suite)."""
    assert await engine.run(siblings, workflow_id="sib") == [
        ["IN-TIMEOUT", "AFTER-START", "K"],
        "BESIDE",
    ]
    report = await engine.replay("sib")
    assert report.divergence is None and report.ok and report.finished
    assert await engine.check(name="tests.dbg.siblings") == []


crashing: dict[str, object] = {"engine": None}


@durable.step(name="tests.dbg.after")
async def after() -> str:
    engine = crashing["engine"]
    if engine is not None:
        testing.crash(engine)  # type: ignore[arg-type]
        await asyncio.sleep(30)
    return "after"


async def _listen(second: str) -> object:
    async with durable.timeout(60):
        return await durable.race(durable.recv("x"), durable.recv(second))


@durable.workflow(name="tests.dbg.contest")
async def contest() -> list[object]:
    won = await durable.race(act("w"), _listen("y"))
    return [won, await after()]


async def test_a_resumed_run_diverging_among_given_up_calls_ends_failed(make_engine) -> None:
    """A race's losing branch changed between a crash and the resume (it now waits on
    'z', not 'y'): its other calls wait for journaled `cancelled` outcomes that the
    diverged run will never deliver.  The run ends FAILED with the divergence instead of
    waiting for them (it hung before: neither FAILED nor finished)."""
    first = await make_engine()
    crashing["engine"] = first
    await first.start(contest, workflow_id="dbg-contest")
    await wait_until(lambda: not first.is_open, what="the crash in the step after the race")
    crashing["engine"] = None
    original = contest.definition.fn

    @durable.workflow(name="tests.dbg.contest")
    async def changed() -> list[object]:
        won = await durable.race(act("w"), _listen("z"))
        return [won, await after()]

    try:
        second = await make_engine()
        with pytest.raises(durable.WorkflowFailed) as raised:
            await second.get("dbg-contest").result(timeout=30)
    finally:
        durable.workflow(name="tests.dbg.contest")(original)
    assert "NonDeterminismError" in str(raised.value) and "at seq 5" in str(raised.value)
    assert "'z'" in str(raised.value) and "'y'" in str(raised.value)
    assert await second.get("dbg-contest").status() is durable.Status.FAILED
