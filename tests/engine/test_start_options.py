"""Start options on both backends: start by name, partition limits, dedup keys, delayed
starts, detached children (`durable.starting`, issue 15 part 6 and 5)."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from typing import Any

import pytest

import durable
from durable import errors
from tests.waiting import wait_status, wait_until

tenants = durable.Queue("tests.start.tenants", partition_concurrency=1)

_running: dict[str, int] = {}
_peak: dict[str, int] = {}


@durable.step(name="tests.start.busy")
async def busy(partition: str) -> None:
    _running[partition] = _running.get(partition, 0) + 1
    _peak[partition] = max(_peak.get(partition, 0), _running[partition])
    try:
        await asyncio.sleep(0.05)  # long enough for runs claimed together to overlap
    finally:
        _running[partition] -= 1


@durable.workflow(name="tests.start.tenant_job", queue=tenants)
async def tenant_job(partition: str, index: int) -> int:
    await busy(partition)
    return index


@durable.workflow(name="tests.start.echo")
async def echo(value: Any) -> Any:
    return value


@durable.workflow(name="tests.start.waits")
async def waits() -> Any:
    return await durable.recv("go")


@durable.workflow(name="tests.start.parent")
async def parent(detached_id: str, attached_id: str) -> str:
    await durable.start_child(waits, workflow_id=detached_id, detached=True)
    await durable.start_child(waits, workflow_id=attached_id)
    return str(await durable.recv("go"))


@durable.workflow(name="tests.start.short_parent")
async def short_parent(child_id: str) -> str:
    got = await durable.start_child(waits, workflow_id=child_id, detached=True)
    return str(await got)


# -- by name ---------------------------------------------------------------------------


async def test_start_by_name_without_the_code_then_a_worker_runs_it(make_engine: Any) -> None:
    name = f"tests.start.later_{uuid.uuid4().hex[:8]}"
    starter = await make_engine(execute=False)
    run = await starter.start(name, 20, 1, workflow_id="by-name")
    assert await run.status() is durable.Status.PENDING
    assert (await starter.list(name=name))[0].id == "by-name"

    @durable.workflow(name=name)  # the worker's process imports the code
    async def later(a: int, b: int) -> int:
        return a + b

    worker = await make_engine()
    assert await worker.get("by-name").result(timeout=20) == 21


@pytest.mark.parametrize("bad", ["", "myapp.flows:crawl", "has space", "tab\tname", "x" * 201])
async def test_a_malformed_name_is_refused_and_nothing_is_written(
    make_engine: Any, bad: str
) -> None:
    engine = await make_engine(execute=False)
    with pytest.raises(errors.InvalidStart, match="journal name"):
        await engine.start(bad, workflow_id="never")
    with pytest.raises(errors.WorkflowNotFound):
        await engine.get("never").status()


# -- partitions ------------------------------------------------------------------------


async def test_partition_concurrency_holds_across_engines(make_engine: Any) -> None:
    _running.clear()
    _peak.clear()
    starter = await make_engine(execute=False)
    runs = [
        await starter.start(tenant_job, partition, i, partition_key=partition)
        for i in range(4)
        for partition in ("t1", "t2")
    ]
    await starter.start(tenant_job, "none", 9)  # no partition key: not limited by it
    workers = [await make_engine(concurrency=8) for _ in range(2)]
    results = [await run.result(timeout=30) for run in runs]
    assert sorted(results) == sorted([0, 1, 2, 3] * 2)
    assert _peak["t1"] == 1 and _peak["t2"] == 1
    assert len(workers) == 2


async def test_queue_rejects_a_partition_limit_below_one() -> None:
    with pytest.raises(ValueError, match="partition_concurrency"):
        durable.Queue("tests.start.bad_partition", partition_concurrency=0)


# -- dedup keys ------------------------------------------------------------------------


async def test_a_second_start_with_the_key_returns_the_unfinished_run(make_engine: Any) -> None:
    engine = await make_engine()
    first = await engine.start(waits, dedup_key="order-1")
    second = await engine.start(waits, dedup_key="order-1")
    assert second.id == first.id
    assert len(await engine.list(name="tests.start.waits")) == 1
    await engine.send(first.id, "go", "done")
    assert await first.result(timeout=20) == "done"
    # a finished run frees its key: the next start makes a new run
    third = await engine.start(echo, 3, dedup_key="order-1")
    assert third.id != first.id
    assert await third.result(timeout=20) == 3


async def test_concurrent_starts_with_one_key_make_one_run(make_engine: Any) -> None:
    engines = [await make_engine(execute=False) for _ in range(2)]
    starts = [e.start(waits, dedup_key="order-2") for e in engines for _ in range(5)]
    ids = {run.id for run in await asyncio.gather(*starts)}
    assert len(ids) == 1
    assert len(await engines[0].list(name="tests.start.waits")) == 1


@pytest.mark.parametrize(
    "option",
    [
        {"dedup_key": ""},
        {"partition_key": 7},
        {"delay": -1},
        {"delay": float("nan")},
        {"delay": 1, "start_at": 5.0},
        {"start_at": datetime.datetime(2030, 1, 1)},  # naive: refused
        {"start_at": "tomorrow"},
    ],
)
async def test_bad_options_are_refused_naming_the_run(make_engine: Any, option: Any) -> None:
    engine = await make_engine(execute=False)
    with pytest.raises(errors.InvalidStart, match="'bad-1'"):
        await engine.start(echo, 1, workflow_id="bad-1", **option)
    with pytest.raises(errors.WorkflowNotFound):
        await engine.get("bad-1").status()


# -- delayed starts --------------------------------------------------------------------


async def test_a_delayed_run_stays_pending_until_due(make_engine: Any) -> None:
    engine = await make_engine()  # no poll: the dispatcher's timer must claim it
    before = time.time()
    run = await engine.start(echo, "late", delay=0.6)
    info = (await engine.list(name="tests.start.echo"))[0]
    assert info.status is durable.Status.PENDING
    assert info.start_at is not None and info.start_at.timestamp() >= before + 0.6
    assert await run.result(timeout=20) == "late"
    record = await engine.journal.get_run(run.id)
    assert record is not None and record.started_at is not None
    assert record.start_at is not None and record.started_at >= record.start_at


async def test_start_at_a_past_time_runs_at_once(make_engine: Any) -> None:
    engine = await make_engine()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    assert await (await engine.start(echo, 1, start_at=past)).result(timeout=20) == 1


async def test_a_delayed_run_survives_its_starter_and_runs_in_a_later_worker(
    make_engine: Any,
) -> None:
    starter = await make_engine()
    run = await starter.start(echo, "kept", workflow_id="delayed", delay=0.5)
    starter.abandon()  # a crash before it was due
    worker = await make_engine()
    await wait_status(worker, "delayed", durable.Status.SUCCEEDED, timeout=20)
    assert await worker.get(run.id).result() == "kept"
    record = await worker.journal.get_run("delayed")
    assert record is not None and record.attempt == 1  # claimed once: not doubled


# -- detached children -----------------------------------------------------------------


async def test_a_detached_child_survives_its_parents_cancel(make_engine: Any) -> None:
    engine = await make_engine()
    run = await engine.start(parent, "p.free", "p.bound", workflow_id="p")
    for child in ("p.free", "p.bound"):
        await wait_until(lambda c=child: engine.journal.get_run(c), what=f"child {child} to exist")
    await engine.cancel("p")
    with pytest.raises(durable.Cancelled):
        await run.result(timeout=20)
    await wait_status(engine, "p.bound", durable.Status.CANCELLED)
    assert await engine.get("p.free").status() not in {durable.Status.CANCELLED}
    await engine.send("p.free", "go", "still here")
    assert await engine.get("p.free").result(timeout=20) == "still here"
    lineage = await engine.lineage("p")
    assert {kid.id for kid in lineage.children} == {"p.free", "p.bound"}
    free = await engine.journal.get_run("p.free")
    assert free is not None and free.detached and free.parent_id == "p"


async def test_a_parent_ends_while_its_detached_child_runs(make_engine: Any) -> None:
    engine = await make_engine()
    assert await engine.run(short_parent, "s.child") == "s.child"  # the handle gives its id
    unfinished = {durable.Status.PENDING, durable.Status.RUNNING, durable.Status.SLEEPING}
    assert await engine.get("s.child").status() in unfinished
    await engine.send("s.child", "go", 5)
    assert await engine.get("s.child").result(timeout=20) == 5


async def test_resuming_a_run_whose_key_is_held_again_is_refused(make_engine: Any) -> None:
    engine = await make_engine()
    first = await engine.start(waits, dedup_key="order-3")
    await engine.cancel(first.id)
    await wait_status(engine, first.id, durable.Status.CANCELLED)
    second = await engine.start(waits, dedup_key="order-3")
    assert second.id != first.id
    with pytest.raises(errors.InvalidStart, match="held by"):
        await engine.resume(first.id)
    assert await engine.get(first.id).status() is durable.Status.CANCELLED
    await engine.send(second.id, "go", 1)
    assert await second.result(timeout=20) == 1
    await engine.resume(first.id)  # the key is free again
    await engine.send(first.id, "go", 2)
    assert await first.result(timeout=20) == 2
