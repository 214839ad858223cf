"""A record handed out more than `max_deliveries` times without its run becomes a FAILED
run of its workflow that `durable list` shows (a dead letter), never a silent drop; once
the cause is fixed, `engine.resume` runs it with the record."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import durable
from durable.sources import JetStream, RedisStream
from durable.sources import registry as sources_registry
from tests.waiting import wait_status, wait_until

executed: list[Any] = []


@pytest.fixture
async def engine(tmp_path: Any) -> AsyncIterator[durable.Engine]:
    engine = durable.Engine(f"sqlite:///{tmp_path}/journal.db", poll_interval=0)
    yield engine
    if engine.is_open:
        await engine.close()


@pytest.fixture
def names() -> Any:
    made: list[str] = []
    yield made
    for name in made:
        sources_registry.unregister(name)


async def _handle(value: Any) -> Any:
    executed.append(value)
    return value


async def _wait_failed(engine: durable.Engine, run_id: str) -> None:
    async def failed() -> bool:
        try:
            return await engine.get(run_id).status() is durable.Status.FAILED
        except durable.WorkflowNotFound:
            return False

    await wait_until(failed, what=f"dead-letter run {run_id}", timeout=20)


async def _check_dead_letter(engine: durable.Engine, name: str, value: Any) -> str:
    failed = await engine.list(status="FAILED", name=name)
    assert len(failed) == 1, failed
    run_id = failed[0].id
    with pytest.raises(durable.WorkflowFailed) as caught:
        await engine.get(run_id).result()
    assert "max_deliveries=5" in str(caught.value.__cause__)
    assert executed == []  # the workflow never ran for it
    await engine.resume(run_id)  # the cause fixed: the record's run goes on
    await wait_status(engine, run_id, durable.Status.SUCCEEDED, timeout=15)
    assert await engine.get(run_id).result() == value
    assert len(await engine.list(name=name)) == 1
    return run_id


async def test_redis_entry_delivered_too_often_becomes_a_failed_run(
    redis_url: str, engine: durable.Engine, names: list[str]
) -> None:
    import redis.asyncio as redis_asyncio

    executed.clear()
    stream = f"durable-test-{uuid.uuid4().hex[:10]}"
    client = redis_asyncio.from_url(redis_url, decode_responses=True)
    try:
        entry = await client.xadd(stream, {"n": "1"})
        await client.xgroup_create(stream, "durable", id="0")
        # a consumer that keeps dying after reading it: handed out 6 times, no run
        await client.xreadgroup("durable", "ghost", {stream: ">"})
        for _ in range(5):
            await client.xclaim(stream, "durable", "ghost", 0, [entry])
        name = f"dead.redis.{uuid.uuid4().hex[:8]}"
        names.append(name)
        source = RedisStream(redis_url, stream, consumer="live", claim_idle=0.2)
        durable.workflow(name=name, on=source)(_handle)
        await engine.open()
        await _wait_failed(engine, f"{name}@redis:{stream}/{entry}")
        assert (await client.xpending(stream, "durable"))["pending"] == 0  # acknowledged
        await _check_dead_letter(engine, name, {"n": "1"})
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_jetstream_message_delivered_too_often_becomes_a_failed_run(
    nats_url: str, engine: durable.Engine, names: list[str]
) -> None:
    import nats
    from nats.js import api

    executed.clear()
    tag = uuid.uuid4().hex[:10]
    stream, subject = f"DEAD{tag}".upper(), f"dead{tag}.>"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await js.add_stream(name=stream, subjects=[subject])
        await js.publish(f"dead{tag}.x", json.dumps({"n": 1}).encode())
        name = f"dead.nats.{tag}"
        names.append(name)
        source = JetStream(nats_url, stream, subject=subject, ack_wait=3.0)
        durable_name = name.replace(".", "_")
        config = api.ConsumerConfig(
            durable_name=durable_name,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=3.0,
            max_deliver=6,
            filter_subject=subject,
        )
        ghost = await js.pull_subscribe(subject, durable=durable_name, stream=stream, config=config)
        for _ in range(5):  # a consumer that keeps giving it back: handed out 5 times
            (message,) = await ghost.fetch(1, timeout=5)
            await message.nak()
        await ghost.unsubscribe()
        durable.workflow(name=name, on=source)(_handle)
        await engine.open()
        run_id = f"{name}@nats:{stream}/1"
        await _wait_failed(engine, run_id)
        await _check_dead_letter(engine, name, {"n": 1})
        info = await js.consumer_info(stream, durable_name)
        assert info.num_ack_pending == 0 and info.num_pending == 0
    finally:
        await js.delete_stream(stream)
        await nc.close()
