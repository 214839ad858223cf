"""Metric values, read from OpenTelemetry's in-memory metric reader: steps, attempts and
retries, run outcomes, queue depth and wait, leases taken over, and the figures triggers
report; live work only (a resumed run's replayed steps are not counted again)."""

from __future__ import annotations

import uuid
from typing import Any

import durable
from durable import telemetry
from tests.telemetry.conftest import Otel
from tests.telemetry.test_spans import flaky, gated, quick
from tests.waiting import wait_journaled, wait_until

WORKFLOW = "tests.telemetry.metered"
FLAKY, QUICK = "tests.telemetry.flaky", "tests.telemetry.quick"


@durable.workflow(name=WORKFLOW)
async def metered(key: str) -> list[Any]:
    return [await flaky(key), await quick(1)]


def labels(**attributes: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((f"durable.{key}", value) for key, value in attributes.items()))


async def test_steps_retries_and_run_outcomes(traced_engines: Any, otel: Otel) -> None:
    engine = await traced_engines()
    key = uuid.uuid4().hex
    assert await engine.run(metered, key) == [key, 1]

    assert otel.points("durable.step.retries") == {labels(workflow=WORKFLOW, step=FLAKY): 2}
    assert otel.points("durable.step.duration") == {  # one per attempt
        labels(workflow=WORKFLOW, step=FLAKY, outcome="error"): 2,
        labels(workflow=WORKFLOW, step=FLAKY, outcome="ok"): 1,
        labels(workflow=WORKFLOW, step=QUICK, outcome="ok"): 1,
    }
    assert otel.points("durable.steps") == {
        labels(workflow=WORKFLOW, step=FLAKY, outcome="ok"): 1,
        labels(workflow=WORKFLOW, step=QUICK, outcome="ok"): 1,
    }
    finished = {labels(workflow=WORKFLOW, status="SUCCEEDED"): 1}
    assert otel.points("durable.runs.finished") == finished
    assert otel.points("durable.runs.segments") == finished
    assert otel.points("durable.queue.wait") == {labels(queue="default"): 1}


async def test_a_resumed_run_counts_only_its_live_steps(traced_engines: Any, otel: Otel) -> None:
    first = await traced_engines()
    run = await first.start(gated, workflow_id=f"gated-{uuid.uuid4().hex}")
    await wait_journaled(first, run.id, 2)
    first.abandon()
    second = await traced_engines()
    await second.send(run.id, "go", "now")
    assert await second.get(run.id).result(timeout=30) == [1, 2, "now", 3]

    workflow = "tests.telemetry.gated"
    assert otel.points("durable.steps") == {labels(workflow=workflow, step=QUICK, outcome="ok"): 3}
    assert otel.points("durable.leases.taken_over") == {labels(queue="default"): 1}
    # the abandoned segment reports nothing, as a killed process would not
    assert otel.points("durable.runs.segments") == {
        labels(workflow=workflow, status="SUCCEEDED"): 1
    }


async def test_queue_depth_counts_the_runs_waiting(traced_engines: Any, otel: Otel) -> None:
    starter = await traced_engines(execute=False)
    for _ in range(3):
        await starter.start(gated)
    for _ in range(2):
        await starter.start(gated, queue="tests.telemetry.other")
    assert starter.telemetry is not None
    await starter.telemetry.refresh_queue_depth()
    assert otel.points("durable.queue.depth") == {
        labels(queue="default"): 3,
        labels(queue="tests.telemetry.other"): 2,
    }


async def test_queue_depth_is_counted_periodically(traced_engines: Any, otel: Otel) -> None:
    starter = await traced_engines(execute=False, telemetry=otel.config(queue_depth_interval=0.02))
    await starter.start(gated)
    await wait_until(
        lambda: otel.points("durable.queue.depth") == {labels(queue="default"): 1},
        what="the periodic count to see the waiting run",
    )


async def test_triggers_report_their_delays(traced_engines: Any, otel: Otel, db_url: str) -> None:
    engine = await traced_engines(execute=False)
    telemetry.schedule_fired(engine, "nightly", 1.5)
    telemetry.source_lag(engine, "orders", 0.25)
    telemetry.source_lag(engine, "orders", 0.75)
    assert otel.points("durable.schedule.delay") == {labels(schedule="nightly"): 1}
    assert otel.points("durable.source.lag") == {labels(source="orders"): 2}
    async with durable.Engine(db_url, execute=False) as quiet:  # telemetry off: a no-op
        telemetry.schedule_fired(quiet, "nightly", 9.0)
    assert otel.points("durable.schedule.delay") == {labels(schedule="nightly"): 1}
