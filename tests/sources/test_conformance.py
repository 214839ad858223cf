"""The conformance suite of event sources: every source (journal topic on SQLite and
Postgres, Redis Streams, NATS JetStream, objects in a folder and in S3, as files and as
rows) must start exactly one run per record, hand batches over as lists, and find the
runs of records that were committed but never acknowledged."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import durable
from durable.runtime import registry
from durable.sources import consumer as consumer_mod
from durable.sources import registry as sources_registry
from tests.waiting import wait_until


async def _runs(engine: durable.Engine, name: str) -> list[durable.RunInfo]:
    return await engine.list(name=name, limit=10_000)


async def _results(engine: durable.Engine, name: str) -> list[Any]:
    return [await engine.get(r.id).result() for r in await _runs(engine, name)]


async def _all_done(engine: durable.Engine, name: str, count: int) -> bool:
    runs = await _runs(engine, name)
    return len(runs) >= count and all(r.status is durable.Status.SUCCEEDED for r in runs)


async def test_each_record_starts_exactly_one_run(harness, subscribe, engines) -> None:
    async def handle(value: Any) -> int:
        return harness.n_of(value)

    wf = subscribe(handle)
    await harness.produce([1, 2, 3, 4, 5])
    engine = await engines()
    harness.engine = engine
    await wait_until(lambda: _all_done(engine, wf.name, 5), what="5 runs", timeout=30)
    await harness.produce([6, 7])  # while consuming
    await wait_until(lambda: _all_done(engine, wf.name, 7), what="7 runs", timeout=30)
    results = await _results(engine, wf.name)
    assert sorted(results) == [1, 2, 3, 4, 5, 6, 7]
    source = sources_registry.subscriptions()[wf.name]
    for run in await _runs(engine, wf.name):
        assert run.id.startswith(f"{wf.name}@{source.key}/")
    await wait_until(lambda: _nothing_left(harness), what="every record acknowledged", timeout=15)


async def _nothing_left(harness) -> bool:
    return await harness.unacknowledged() == 0


async def test_batches_hand_a_workflow_a_list(harness, subscribe, engines) -> None:
    async def handle(values: list[Any]) -> list[int]:
        assert isinstance(values, list)
        return [harness.n_of(value) for value in values]

    wf = subscribe(handle, batch_size=3, max_wait=0.3)
    await harness.produce(list(range(1, 8)))
    engine = await engines()
    harness.engine = engine

    async def seven() -> bool:
        runs = await _runs(engine, wf.name)
        if not runs or any(r.status is not durable.Status.SUCCEEDED for r in runs):
            return False
        return sum(len(batch) for batch in await _results(engine, wf.name)) >= 7

    await wait_until(seven, what="7 records in batches", timeout=30)
    batches = await _results(engine, wf.name)
    numbers = [n for batch in batches for n in batch]
    assert sorted(numbers) == list(range(1, 8))  # none lost, none twice
    assert max(len(batch) for batch in batches) > 1
    assert all(len(batch) <= 3 for batch in batches)


async def test_records_committed_and_not_acknowledged_find_their_runs(
    harness, subscribe, engines
) -> None:
    """A process that died between the runs' commit and the ack: the records are handed
    out again and find their runs; no record gets a second one."""

    async def handle(value: Any) -> int:
        return harness.n_of(value)

    wf = subscribe(handle)
    await harness.produce([1, 2, 3])
    inspector = await engines(execute=False)
    harness.engine = inspector
    source = copy.deepcopy(sources_registry.subscriptions()[wf.name])
    first = consumer_mod.Consumer(inspector.scheduler, registry.lookup_workflow(wf.name), source)
    await first._open()
    records: list[Any] = []

    async def read_all() -> bool:
        records.extend(await source.read(10, 0.5))
        return len(records) >= 3

    await wait_until(read_all, what="the 3 records read", timeout=15)
    await first.commit(records, ack=False)  # committed; the ack never goes out
    assert len(await _runs(inspector, wf.name)) == 3
    await first.close()

    engine = await engines()
    await wait_until(lambda: _all_done(engine, wf.name, 3), what="3 runs", timeout=30)
    await wait_until(lambda: _nothing_left(harness), what="the records acknowledged", timeout=30)
    runs = await _runs(engine, wf.name)
    assert len(runs) == 3
    assert Counter(await _results(engine, wf.name)) == Counter([1, 2, 3])
