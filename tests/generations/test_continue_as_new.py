"""`durable.continue_as_new`: one run id, one journal generation after another, on both
backends."""

from __future__ import annotations

import pytest

import durable
from durable.journal import base

pytestmark = pytest.mark.timeout(120)

calls: list[int] = []


@durable.step(name="gen.add")
async def add(total: int, n: int) -> int:
    calls.append(n)
    return total + n


@durable.workflow(name="gen.counter")
async def counter(i: int, total: int, until: int, every: int = 5) -> int:
    """Adds 0..until-1, continuing as new every `every` steps."""
    for _ in range(every):
        if i == until:
            return total
        total = await add(total, i)
        i += 1
    durable.continue_as_new(i, total, until, every=every)


@durable.workflow(name="gen.child")
async def child(x: int) -> int:
    return x * 10


@durable.workflow(name="gen.parent")
async def parent(round_: int) -> list[int]:
    value = await child(round_)
    if round_ < 3:
        durable.continue_as_new(round_ + 1)
    return [round_, value]


@durable.step(name="gen.slow")
def slow() -> None:
    import time

    time.sleep(1)


@durable.workflow(name="gen.in_flight")
async def in_flight() -> None:
    import asyncio

    task = asyncio.ensure_future(slow())
    await asyncio.sleep(0.05)  # the step is under way (it takes a second)
    try:
        durable.continue_as_new()
    finally:
        await task


async def test_a_chain_keeps_its_id_and_result_follows_it(engine: durable.Engine) -> None:
    run = await engine.start(counter, 0, 0, 23, workflow_id="chain")
    assert await run.result(timeout=60) == sum(range(23))
    past = await engine.generations("chain")
    assert [g.generation for g in past] == [1, 2, 3, 4]
    assert [g.entries for g in past] == [6, 6, 6, 6]  # five steps and the continue call
    # each past generation is readable, with its own seqs from 0
    second = await engine.history("chain", generation=2)
    assert [(e.seq, e.kind) for e in second] == [(i, "step") for i in range(5)] + [(5, "continue")]
    current = await engine.history("chain")
    assert [e.kind for e in current] == ["step"] * 3
    assert await engine.history("chain", generation=5) == current
    assert (await run.status()) is durable.Status.SUCCEEDED


async def test_an_unknown_generation_is_a_clear_error(engine: durable.Engine) -> None:
    await engine.run(counter, 0, 0, 7, workflow_id="short")
    with pytest.raises(durable.DurableError, match="generations are 1 to 2"):
        await engine.history("short", generation=9)
    with pytest.raises(durable.WorkflowNotFound):
        await engine.history("nobody", generation=1)


async def test_replay_of_a_past_generation_ends_in_its_continue(engine: durable.Engine) -> None:
    await engine.run(counter, 0, 0, 12, workflow_id="replayed")
    report = await engine.replay("replayed", generation=1)
    assert report.ok and report.finished and report.continued
    assert [kind for _, kind, _, _ in report.calls] == ["step"] * 5 + ["continue"]
    current = await engine.replay("replayed")
    assert current.ok and current.finished and current.result == sum(range(12))


async def test_lineage_is_unchanged_and_children_get_fresh_ids(engine: durable.Engine) -> None:
    assert await engine.run(parent, 1, workflow_id="p") == [3, 30]
    tree = await engine.lineage("p")
    children = sorted(node.id for node in tree.children)
    assert children == ["p.0", "p.g2.0", "p.g3.0"]
    for node in tree.children:
        info = await engine.journal.get_run(node.id)
        assert info is not None and info.parent_id == "p" and info.root_id == "p"


async def test_a_call_in_flight_is_refused(engine: durable.Engine) -> None:
    run = await engine.start(in_flight, workflow_id="flight")
    with pytest.raises(durable.WorkflowFailed) as failed:
        await run.result(timeout=30)
    assert "still in flight" in str(failed.value.__cause__)


async def test_replay_of_each_generation_loads_only_it(
    engine: durable.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 iterations, continuing as new every 5: every load of the run, whatever its
    generation, reads at most one generation's entries (counted, not timed)."""
    loaded: list[int] = []
    journal = engine.journal
    real = journal.load

    async def counting(run_id: str) -> base.RunLoad | None:
        load = await real(run_id)
        if load is not None:
            loaded.append(len(load.entries))
        return load

    monkeypatch.setattr(journal, "load", counting)
    run = await engine.start(counter, 0, 0, 10_000, workflow_id="long")
    assert await run.result(timeout=600) == sum(range(10_000))
    assert len(await engine.generations("long")) == 2000
    # resume the run in a late generation as a restart would: its load is O(5)
    for generation in (1000, 2000):
        load = await journal.load_generation("long", generation)
        assert load is not None and len(load.entries) <= 6
    report = await engine.replay("long")
    assert report.ok and report.result == sum(range(10_000))
    assert loaded and max(loaded) <= 6, loaded[-5:]


async def test_a_chain_can_be_cancelled(engine: durable.Engine) -> None:
    from tests.waiting import wait_until

    run = await engine.start(counter, 0, 0, 10**9, workflow_id="endless")

    async def going() -> bool:
        return len(await engine.generations("endless")) >= 5

    await wait_until(going, what="five generations")
    await run.cancel()
    with pytest.raises(durable.Cancelled):
        await run.result(timeout=30)
    reached = len(await engine.generations("endless"))
    assert await run.status() is durable.Status.CANCELLED
    assert len(await engine.generations("endless")) == reached  # no generation after it
