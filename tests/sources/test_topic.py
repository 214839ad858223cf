"""The journal's own topic: publishing, keys, consumers in several engines, wake-ups by
the journal's notifications (not a poll), back-pressure, bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import durable
from durable.sources import consumer as consumer_mod
from durable.sources import registry as sources_registry
from tests.waiting import wait_until


@pytest.fixture
def topic_name() -> AsyncIterator[str]:
    yield f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def declare() -> Any:
    names: list[str] = []

    def make(fn: Callable[..., Any], source: Any) -> Any:
        name = f"topic.{uuid.uuid4().hex[:8]}"
        names.append(name)
        return durable.workflow(name=name, on=source)(fn)

    yield make
    for name in names:
        sources_registry.unregister(name)


async def _numbers(engine: durable.Engine, name: str) -> Counter[int]:
    found: Counter[int] = Counter()
    for run in await engine.list(name=name, limit=100_000):
        if run.status is durable.Status.SUCCEEDED:
            found[await engine.get(run.id).result()] += 1
    return found


async def _handle(order: dict[str, int]) -> int:
    return order["n"]


async def test_keys_deduplicate_across_and_within_publishes(make_engine, topic_name) -> None:
    engine = await make_engine(execute=False)
    assert await engine.publish(topic_name, [{"n": 1}, {"n": 2}], keys=["a", "b"]) == 2
    assert await engine.publish(topic_name, [{"n": 1}, {"n": 3}], keys=["a", "c"]) == 1
    assert await engine.publish(topic_name, [{"n": 4}, {"n": 4}], keys=["d", "d"]) == 1
    assert await engine.publish(topic_name, [{"n": 5}, {"n": 5}]) == 2  # no keys: both
    rows = await engine.journal.read_topic(topic_name, 0, 100)
    assert [row.key for row in rows] == ["a", "b", "c", "d", None, None]
    positions = [row.position for row in rows]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


async def test_publish_rejects_bad_input_and_writes_nothing(make_engine, topic_name) -> None:
    engine = await make_engine(execute=False, pickle=False)
    with pytest.raises(ValueError, match="2 records but 1 keys"):
        await engine.publish(topic_name, [{"n": 1}, {"n": 2}], keys=["a"])
    with pytest.raises(durable.SerializationError, match=f"record for topic '{topic_name}'"):
        await engine.publish(topic_name, [{"n": 1}, object()])
    assert await engine.journal.read_topic(topic_name, 0, 10) == []


async def _batch(orders: list[dict[str, int]]) -> list[int]:
    return [order["n"] for order in orders]


async def test_two_engines_batches_cover_every_record_once(
    make_engine, topic_name, declare
) -> None:
    wf = declare(_batch, durable.Topic(topic_name, batch_size=5))
    publisher = await make_engine(execute=False)
    await make_engine()
    await make_engine()
    for start in range(0, 200, 20):
        await publisher.publish(topic_name, [{"n": n} for n in range(start, start + 20)])

    async def records() -> Counter[int]:
        found: Counter[int] = Counter()
        for run in await publisher.list(name=wf.name, limit=10_000):
            if run.status is durable.Status.SUCCEEDED:
                found.update(await publisher.get(run.id).result())
        return found

    async def all_done() -> bool:
        return sum((await records()).values()) >= 200

    await wait_until(all_done, what="200 records in runs", timeout=60)
    assert await records() == Counter(range(200))


async def test_consumers_are_woken_by_the_journal_not_a_poll(
    make_engine, topic_name, declare, monkeypatch
) -> None:
    """With the loop's fallback wait at 60 s, a record published by another engine (on
    Postgres: NOTIFY; on SQLite: the local bus) still starts its run at once."""
    monkeypatch.setattr(consumer_mod, "IDLE_WAIT", 60.0)
    wf = declare(_handle, durable.Topic(topic_name))
    consumer = await make_engine()
    publisher = await make_engine(execute=False)
    await asyncio.sleep(0.3)  # the consumer is waiting in its read by now
    await publisher.publish(topic_name, [{"n": 7}])
    await wait_until(
        lambda: _has(consumer, wf.name, 7), what="the run of the published record", timeout=10
    )


async def _has(engine: durable.Engine, name: str, n: int) -> bool:
    return (await _numbers(engine, name))[n] == 1


async def test_reading_stops_while_no_slot_is_free(make_engine, topic_name, declare) -> None:
    """Back-pressure: an engine with 2 slots, each held by a run that waits, creates
    no more than a round of runs beyond them; the rest wait in the topic."""
    release = asyncio.Event()

    async def slow(order: dict[str, int]) -> int:
        await release.wait()
        return order["n"]

    wf = declare(slow, durable.Topic(topic_name))
    engine = await make_engine(concurrency=2)
    await engine.publish(topic_name, [{"n": n} for n in range(20)])

    async def two_running() -> bool:
        runs = await engine.list(name=wf.name, status="RUNNING")
        return len(runs) == 2

    await wait_until(two_running, what="2 runs holding the slots", timeout=10)
    await asyncio.sleep(0.3)
    assert len(await engine.list(name=wf.name, limit=1000)) <= 4
    release.set()
    await wait_until(lambda: _count_done(engine, wf.name, 20), what="all 20 runs", timeout=30)


async def _count_done(engine: durable.Engine, name: str, count: int) -> bool:
    return sum((await _numbers(engine, name)).values()) >= count


async def test_a_record_that_cannot_be_decoded_becomes_a_dead_letter(
    make_engine, topic_name, declare
) -> None:
    wf = declare(_handle, durable.Topic(topic_name))
    engine = await make_engine()
    # bytes no codec wrote (another program writing the table): not decodable
    await engine.journal.publish(topic_name, [b"\xffnot a payload"], [None])
    await engine.publish(topic_name, [{"n": 2}])

    async def settled() -> bool:
        return len(await engine.list(name=wf.name, status=["FAILED", "SUCCEEDED"])) == 2

    await wait_until(settled, what="a dead letter and a run", timeout=10)
    (failed,) = await engine.list(name=wf.name, status="FAILED")
    assert failed.id == f"{wf.name}@topic:{topic_name}/1"
    with pytest.raises(durable.WorkflowFailed) as caught:
        await engine.get(failed.id).result()
    assert "could not be read" in str(caught.value.__cause__)
    assert await engine.get(f"{wf.name}@topic:{topic_name}/2").result() == 2
