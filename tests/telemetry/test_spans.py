"""The spans of runs, read from OpenTelemetry's in-memory exporter: the tree of a run with
a retried step, a child and a race; a run resumed by another engine after a (simulated)
crash; a starter's trace context given explicitly."""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

import durable
from durable.telemetry import ids
from tests.telemetry.conftest import Otel
from tests.waiting import wait_journaled

failures: dict[str, int] = collections.defaultdict(int)


@durable.step(
    name="tests.telemetry.flaky",
    retry=durable.Retry(max_attempts=3, initial=0.01, backoff=2.0, jitter=0),
)
async def flaky(key: str) -> str:
    failures[key] += 1
    if failures[key] < 3:
        raise ValueError(f"attempt {failures[key]} of {key}")
    return key


@durable.step(name="tests.telemetry.quick")
async def quick(value: Any) -> Any:
    return value


@durable.workflow(name="tests.telemetry.leaf")
async def leaf(value: int) -> int:
    await durable.sleep(0.01)
    return int(await quick(value)) * 2


@durable.workflow(name="tests.telemetry.tree")
async def tree(key: str) -> list[Any]:
    first = await flaky(key)  # seq 0, three attempts
    doubled = await leaf(21)  # seq 1, a child
    won = await durable.race(quick("fast"), durable.sleep(30))  # seqs 2 and 3, race 4
    await durable.send(durable.context().workflow_id, "note", "hi")  # seq 5
    note = await durable.recv("note")  # seq 6
    return [first, doubled, won, note]


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    ids_seen = [span.context.span_id for span in spans]
    shown = [(span.name, dict(span.attributes or {})) for span in spans]
    assert len(ids_seen) == len(set(ids_seen)), f"a span id was exported twice: {shown}"
    return {span.context.span_id: span for span in spans}


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


async def test_span_tree_of_a_run_with_retries_a_child_and_a_race(
    traced_engines: Any, otel: Otel
) -> None:
    engine = await traced_engines()
    key = uuid.uuid4().hex
    tracer = otel.tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span("caller") as caller:
        run = await engine.start(tree, key, workflow_id=f"tree-{key}")
    assert await run.result(timeout=30) == [key, 42, "fast", "hi"]

    spans = by_id(otel.spans())
    run_id, child_id = run.id, f"{run.id}.1"
    trace_id = caller.get_span_context().trace_id
    assert {span.context.trace_id for span in spans.values()} == {trace_id}

    segment = spans[ids.segment_span(run_id, 1)]
    assert segment.name == "run tests.telemetry.tree"
    assert parent_of(segment) == caller.get_span_context().span_id
    assert segment.attributes["durable.status"] == "SUCCEEDED"
    assert segment.attributes["durable.segment"] == 1
    assert segment.links == ()

    seg = segment.context.span_id
    attempts = [spans[ids.attempt_span(run_id, 0, n)] for n in (1, 2, 3)]
    assert [a.attributes["durable.attempt"] for a in attempts] == [1, 2, 3]
    assert {parent_of(a) for a in attempts} == {seg}
    assert [a.status.status_code for a in attempts] == [
        trace.StatusCode.ERROR,
        trace.StatusCode.ERROR,
        trace.StatusCode.UNSET,
    ]
    assert [a.attributes.get("durable.retry.delay") for a in attempts] == [0.01, 0.02, None]
    assert [e.name for e in attempts[0].events] == ["exception"]

    child_call = spans[ids.call_span(run_id, 1)]
    assert (child_call.name, parent_of(child_call)) == ("child tests.telemetry.leaf", seg)
    assert child_call.attributes["durable.child_id"] == child_id
    child_segment = spans[ids.segment_span(child_id, 1)]
    assert parent_of(child_segment) == child_call.context.span_id
    child_seg = child_segment.context.span_id
    assert parent_of(spans[ids.call_span(child_id, 0)]) == child_seg  # its sleep
    assert parent_of(spans[ids.attempt_span(child_id, 1, 1)]) == child_seg  # its step

    assert parent_of(spans[ids.attempt_span(run_id, 2, 1)]) == seg  # the race's winner
    loser = spans[ids.call_span(run_id, 3)]
    assert (loser.name, loser.attributes["durable.outcome"]) == ("sleep sleep", "cancelled")
    race = spans[ids.call_span(run_id, 4)]
    assert (race.name, race.attributes["durable.outcome"]) == ("race race", "ok")
    send, recv = spans[ids.call_span(run_id, 5)], spans[ids.call_span(run_id, 6)]
    assert (send.name, send.kind) == ("send note", trace.SpanKind.PRODUCER)
    assert (recv.name, recv.kind) == ("recv note", trace.SpanKind.CONSUMER)

    # the caller, 2 segments, 3 + 1 + 1 attempts, child, 2 sleeps, race, send, recv
    assert len(spans) == 14


@durable.workflow(name="tests.telemetry.gated")
async def gated() -> list[Any]:
    first = await quick(1)  # seq 0
    second = await quick(2)  # seq 1
    go = await durable.recv("go")  # seq 2: the crash comes while it waits
    return [first, second, go, await quick(3)]  # seq 3


async def test_a_resumed_run_emits_nothing_for_its_replayed_calls(
    traced_engines: Any, otel: Otel
) -> None:
    first = await traced_engines()
    run = await first.start(gated, workflow_id=f"gated-{uuid.uuid4().hex}")
    await wait_journaled(first, run.id, 2)
    first.abandon()  # as a SIGKILL would leave it
    exported_before = {span.context.span_id for span in otel.spans()}

    second = await traced_engines()
    await second.send(run.id, "go", "now")
    assert await second.get(run.id).result(timeout=30) == [1, 2, "now", 3]

    spans = by_id(otel.spans())
    assert exported_before == {ids.attempt_span(run.id, 0, 1), ids.attempt_span(run.id, 1, 1)}
    new = {span_id: span for span_id, span in spans.items() if span_id not in exported_before}
    cut_off = new.pop(ids.segment_span(run.id, 1))
    assert cut_off.attributes["durable.cut_off"] is True
    assert cut_off.attributes["durable.holder"] == first.owner
    assert cut_off.status.status_code is trace.StatusCode.ERROR
    resumed = new.pop(ids.segment_span(run.id, 2))
    assert [link.context.span_id for link in resumed.links] == [ids.segment_span(run.id, 1)]
    assert resumed.attributes["durable.journaled"] == 2
    # only the calls made live after the crash: the recv (cut off before) and the last step
    assert set(new) == {ids.call_span(run.id, 2), ids.attempt_span(run.id, 3, 1)}
    assert {parent_of(span) for span in new.values()} == {resumed.context.span_id}
    assert len({span.context.trace_id for span in spans.values()}) == 1
    assert next(iter(spans.values())).context.trace_id == ids.trace_of_root(run.id)


async def test_an_explicit_traceparent_in_the_metadata_is_the_starter(
    traced_engines: Any, otel: Otel
) -> None:
    engine = await traced_engines()
    parent = ids.format_traceparent(0x1234, 0x99, 1)
    run = await engine.start(
        leaf, 4, workflow_id=f"leaf-{uuid.uuid4().hex}", metadata={"traceparent": parent}
    )
    assert await run.result(timeout=30) == 8
    segment = by_id(otel.spans())[ids.segment_span(run.id, 1)]
    assert segment.context.trace_id == 0x1234
    assert parent_of(segment) == 0x99


@durable.workflow(name="tests.telemetry.mixed")
async def mixed(key: str) -> list[Any]:
    fanned = await asyncio.gather(*(quick(i) for i in range(5)))
    try:
        async with durable.timeout(0.05):
            await durable.recv("never")
    except TimeoutError:
        timed_out = True
    won = await durable.race(leaf(1), durable.sleep(30))
    return [list(fanned), timed_out, won, await flaky(key)]


async def test_telemetry_changes_nothing_a_run_journals(
    traced_engines: Any, otel: Otel, make_engine: Any
) -> None:
    plain = await make_engine()
    traced = await traced_engines()
    journals = []
    for engine in (plain, traced):
        run = await engine.start(mixed, uuid.uuid4().hex)
        result = await run.result(timeout=30)
        assert result[:3] == [[0, 1, 2, 3, 4], True, 2]
        history = await engine.history(run.id)
        journals.append([(h.seq, h.kind, h.name, h.status, h.attempts) for h in history])
    assert journals[0] == journals[1]
    assert otel.spans()  # the traced one did report


@durable.transaction(name="tests.telemetry.select_one")
async def select_one(conn: Any) -> int:
    cursor = await conn.execute("select 1")
    row = await cursor.fetchone()
    return int(row[0])


@durable.workflow(name="tests.telemetry.transacting")
async def transacting() -> int:
    return await select_one()


async def test_a_transaction_attempt_has_its_span(traced_engines: Any, otel: Otel) -> None:
    engine = await traced_engines()
    run = await engine.start(transacting)
    assert await run.result(timeout=30) == 1
    spans = by_id(otel.spans())
    attempt = spans[ids.attempt_span(run.id, 0, 1)]
    assert attempt.name == "step tests.telemetry.select_one"
    assert attempt.parent is not None
    assert attempt.parent.span_id == ids.segment_span(run.id, 1)
