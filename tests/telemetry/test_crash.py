"""A run started inside the caller's trace, executed by a process that is SIGKILLed
mid-run and finished by another process: one trace, the new segment linked to the lost
one, and no span exported twice (nothing for the calls the second process replayed)."""

from __future__ import annotations

import json
import pathlib
import signal
import uuid
from typing import Any

import durable
from durable.telemetry import ids
from tests.e2e.harness import check_stderr, run_module
from tests.telemetry import driver
from tests.telemetry.conftest import Otel


def spans_in(path: pathlib.Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_sigkill_and_resume_in_another_process_continue_one_trace(
    db_url: str, otel: Otel, tmp_path: pathlib.Path
) -> None:
    run_id = f"flow-{uuid.uuid4().hex}"
    marker = tmp_path / "killed-once"
    tracer = otel.tracer_provider.get_tracer("tests")
    async with durable.Engine(db_url, execute=False, telemetry=otel.config()) as starter:
        with tracer.start_as_current_span("caller") as caller:
            await starter.start(driver.flow, str(marker), workflow_id=run_id)
    trace_id = caller.get_span_context().trace_id
    caller_id = caller.get_span_context().span_id

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    args = ("--db", db_url, "--run", run_id)
    killed = run_module("tests.telemetry.driver", *args, "--spans", str(first))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert marker.exists()
    done = run_module("tests.telemetry.driver", *args, "--spans", str(second))
    assert done.returncode == 0, done.stderr
    check_stderr(done.stderr)
    assert json.loads(done.stdout.splitlines()[-1]) == {"result": ["a", "child 1", "survived", "d"]}

    before, after = spans_in(first), spans_in(second)
    every = before + after
    assert len({s["span_id"] for s in every}) == len(every), every  # nothing twice
    assert {s["trace_id"] for s in every} == {trace_id}
    child_id = f"{run_id}.1"
    segment_1, segment_2 = ids.segment_span(run_id, 1), ids.segment_span(run_id, 2)

    # the killed process exported what ended before its death, under segment 1
    assert {s["span_id"]: s["parent_id"] for s in before} == {
        ids.attempt_span(run_id, 0, 1): segment_1,
        ids.call_span(run_id, 1): segment_1,
        ids.segment_span(child_id, 1): ids.call_span(run_id, 1),
        ids.attempt_span(child_id, 0, 1): ids.segment_span(child_id, 1),
    }
    # the second process: a stand-in for the lost segment, its own segment linked to
    # it, and only the calls it executed (the cut-off step again, under the same id)
    assert {s["span_id"]: s["parent_id"] for s in after} == {
        segment_1: caller_id,
        segment_2: caller_id,
        ids.attempt_span(run_id, 2, 1): segment_2,
        ids.attempt_span(run_id, 3, 1): segment_2,
    }
    found = {s["span_id"]: s for s in after}
    assert found[segment_1]["attributes"]["durable.cut_off"] is True
    assert found[segment_1]["links"] == []
    assert found[segment_2]["links"] == [segment_1]
    assert found[segment_2]["attributes"]["durable.journaled"] == 2
    assert {s["pid"] for s in before}.isdisjoint({s["pid"] for s in after})
