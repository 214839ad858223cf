"""Engine behaviour on both backends: determinism, retries, operations, bad input."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import durable
from durable import testing
from tests.waiting import wait_journaled, wait_status, wait_until

calls: list[str] = []


@durable.step(name="tests.sem.record")
async def record(label: str) -> str:
    calls.append(label)
    return label


@durable.workflow(name="tests.sem.ordered")
async def ordered_v1() -> list[str]:
    first = await record("a")
    second = await record("b")
    await durable.sleep(30)
    return [first, second]


async def test_changed_call_order_is_a_nondeterminism_error(make_engine) -> None:
    first = await make_engine()
    await first.start(ordered_v1, workflow_id="det")
    await wait_journaled(first, "det", 2)
    testing.crash(first)
    inspector = await make_engine(execute=False)
    before = await inspector.history("det")
    assert [h.output for h in before] == ["a", "b"]

    @durable.workflow(name="tests.sem.ordered")
    async def ordered_v2() -> list[str]:  # the two calls swapped
        second = await record("b")
        first = await record("a")
        await durable.sleep(30)
        return [first, second]

    try:
        second = await make_engine()
        with pytest.raises(durable.WorkflowFailed) as failure:
            await second.get("det").result(timeout=10)
        cause = failure.value.__cause__
        assert isinstance(cause, durable.NonDeterminismError)
        assert cause.workflow_id == "det" and cause.seq == 0
        assert "'tests.sem.record'" in str(cause) and "det" in str(cause)
        assert await second.get("det").status() is durable.Status.FAILED
        after = await inspector.history("det")
        assert after == before, "the journal changed"
    finally:
        durable.workflow(name="tests.sem.ordered")(ordered_v1.definition.fn)


attempts: dict[str, list[float]] = {}


@durable.step(
    name="tests.sem.unreliable",
    retry=durable.Retry(max_attempts=4, initial=0.05, backoff=2.0, jitter=0),
)
async def unreliable(key: str, failures: int) -> str:
    seen = attempts.setdefault(key, [])
    seen.append(time.monotonic())
    if len(seen) <= failures:
        raise ConnectionError(f"attempt {len(seen)} of {key} failed")
    return f"{key} after {len(seen)}"


@durable.workflow(name="tests.sem.retrying")
async def retrying(key: str, failures: int) -> str:
    return await unreliable(key, failures)


async def test_retries_with_backoff_then_succeeds(engine) -> None:
    key = uuid.uuid4().hex
    assert await engine.run(retrying, key, 2, workflow_id=key) == f"{key} after 3"
    gaps = [b - a for a, b in zip(attempts[key], attempts[key][1:], strict=False)]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095  # 0.05 then 0.1, no jitter
    (entry,) = await engine.history(key)
    assert entry.attempts == 3 and entry.status == "ok"


async def test_retries_exhausted_fail_the_run_with_the_last_error(engine) -> None:
    key = uuid.uuid4().hex
    run = await engine.start(retrying, key, 10, workflow_id=key)
    with pytest.raises(durable.WorkflowFailed) as failure:
        await run.result()
    assert isinstance(failure.value.__cause__, ConnectionError)
    assert str(failure.value.__cause__) == f"attempt 4 of {key} failed"
    assert len(attempts[key]) == 4
    (entry,) = await engine.history(key)
    assert entry.attempts == 4 and entry.status == "error"


async def test_resume_after_failure_reruns_the_failed_step(engine) -> None:
    key = uuid.uuid4().hex
    run = await engine.start(retrying, key, 5, workflow_id=key)
    with pytest.raises(durable.WorkflowFailed):
        await run.result()
    resumed = await engine.resume(key)
    assert await resumed.result() == f"{key} after 6"  # attempt 5 fails, 6 succeeds
    (entry,) = await engine.history(key)
    assert entry.status == "ok"


async def test_starting_an_existing_id_returns_that_run(engine) -> None:
    calls.clear()
    runs = await asyncio.gather(*(engine.start(ordered_once, workflow_id="once") for _ in range(5)))
    assert {run.id for run in runs} == {"once"}
    assert [await run.result() for run in runs] == ["x"] * 5
    assert calls == ["x"]
    again = await engine.start(ordered_once, workflow_id="once")
    assert await again.result() == "x" and calls == ["x"]


@durable.workflow(name="tests.sem.once")
async def ordered_once() -> str:
    return await record("x")


@durable.workflow(name="tests.sem.three")
async def three(tag: str) -> list[str]:
    return [await record(f"{tag}1"), await record(f"{tag}2"), await record(f"{tag}3")]


async def test_fork_reuses_results_before_the_step_and_reruns_the_rest(engine) -> None:
    calls.clear()
    assert await engine.run(three, "f", workflow_id="base") == ["f1", "f2", "f3"]
    fork = await engine.fork("base", from_step=2)
    assert fork.id != "base"
    assert await fork.result() == ["f1", "f2", "f3"]
    assert calls == ["f1", "f2", "f3", "f3"]
    restarted = await engine.restart("base")
    assert await restarted.result() == ["f1", "f2", "f3"]
    assert calls == ["f1", "f2", "f3", "f3", "f1", "f2", "f3"]
    assert len(await engine.history(fork.id)) == 3


@durable.workflow(name="tests.sem.instants")
async def instants() -> list[str]:
    moment, ident, chance = durable.now(), durable.uuid4(), durable.random()
    await durable.sleep(0.4)
    return [moment.isoformat(), str(ident), repr(chance), durable.context().workflow_id]


async def test_now_uuid_random_replay_the_same_values(make_engine) -> None:
    first = await make_engine()
    await first.start(instants, workflow_id="inst")

    async def instants_journaled() -> bool:
        return (
            await first.get("inst").status() is durable.Status.RUNNING
            and len(await first.history("inst")) >= 3
        )

    await wait_until(
        instants_journaled, what="run 'inst' to journal now, uuid and random, still running"
    )
    testing.crash(first)
    inspector = await make_engine(execute=False)
    journaled = [h.output for h in await inspector.history("inst")]
    assert [h.kind for h in await inspector.history("inst")] == ["now", "uuid", "random"]
    second = await make_engine()
    result = await second.get("inst").result(timeout=10)
    assert result == [journaled[0].isoformat(), str(journaled[1]), repr(journaled[2]), "inst"]


async def test_unserializable_result_with_pickle_off(make_engine) -> None:
    engine = await make_engine(pickle=False)
    run = await engine.start(returns_lock, workflow_id="lock")
    with pytest.raises(durable.WorkflowFailed) as failure:
        await run.result()
    cause = failure.value.__cause__
    assert isinstance(cause, durable.SerializationError)
    assert "pickling is off" in str(cause) and "'lock'" in str(cause)


@durable.step(name="tests.sem.lock")
async def lock_step() -> object:
    return asyncio.Lock()


@durable.workflow(name="tests.sem.returns_lock")
async def returns_lock() -> object:
    return asyncio.Lock()


@durable.workflow(name="tests.sem.makes_lock")
async def makes_lock() -> str:
    try:
        await lock_step()
    except durable.SerializationError:
        return "raised at the call"
    return "not raised"


async def test_serialization_error_is_raised_at_the_call(make_engine) -> None:
    engine = await make_engine(pickle=False)
    assert await engine.run(makes_lock) == "raised at the call"


@durable.workflow(name="tests.sem.sleepy")
async def sleepy() -> str:
    await record("before")
    await durable.sleep(60)
    return "woke"


async def test_cancel_and_resume(engine) -> None:
    run = await engine.start(sleepy, workflow_id="zz")
    await wait_status(engine, "zz", durable.Status.SLEEPING)
    await run.cancel()
    with pytest.raises(durable.Cancelled) as cancelled:
        await run.result(timeout=5)
    assert cancelled.value.workflow_id == "zz"
    assert await run.status() is durable.Status.CANCELLED


async def test_unknown_id_is_workflow_not_found(engine) -> None:
    with pytest.raises(durable.WorkflowNotFound) as missing:
        await engine.get("nope").status()
    assert missing.value.workflow_id == "nope"
    with pytest.raises(durable.WorkflowNotFound):
        await engine.history("nope")


@durable.step(name="tests.sem.sync")
def sync_step(x: int) -> dict[str, int]:
    return {"x": x, "ctx": len(durable.context().workflow_id)}


@durable.workflow(name="tests.sem.uses_sync")
async def uses_sync() -> dict[str, int]:
    return await sync_step(3)


async def test_sync_steps_run_in_a_thread_with_context(engine) -> None:
    assert await engine.run(uses_sync, workflow_id="abcd") == {"x": 3, "ctx": 4}


async def test_steps_outside_a_workflow_are_plain_calls() -> None:
    calls.clear()
    assert await record("plain") == "plain"
    assert calls == ["plain"]


@durable.step(name="tests.sem.slow", timeout=0.05)
async def slow() -> str:
    await asyncio.sleep(5)
    return "late"


@durable.workflow(name="tests.sem.times_out")
async def times_out() -> str:
    try:
        await slow()
    except TimeoutError:
        return "timed out"
    return "no timeout"


async def test_step_timeout(engine) -> None:
    assert await engine.run(times_out) == "timed out"
