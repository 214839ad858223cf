"""Trace ids on durable's log records; telemetry off by default, costing no import of
OpenTelemetry; ``telemetry=True`` reporting to the global providers."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest

import durable
from durable.telemetry import ids
from tests.e2e.harness import ROOT
from tests.telemetry.conftest import Otel
from tests.telemetry.test_metrics import metered


async def test_log_records_carry_the_trace_and_span_ids(
    traced_engines: Any, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await traced_engines()
    caplog.set_level(logging.INFO, logger="durable")
    tracer = otel.tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span("caller") as caller:
        run = await engine.start(metered, uuid.uuid4().hex)
    await run.result(timeout=30)
    trace_id = f"{caller.get_span_context().trace_id:032x}"
    segment = f"{ids.segment_span(run.id, 1):016x}"
    retries = [r for r in caplog.records if getattr(r, "action", None) == "retry"]
    assert [(r.workflow_id, r.seq) for r in retries] == [(run.id, 0), (run.id, 0)]
    assert {(r.trace_id, r.span_id) for r in retries} == {(trace_id, segment)}
    finish = [r for r in caplog.records if getattr(r, "action", None) == "finish"]
    assert [(r.trace_id, r.span_id) for r in finish] == [(trace_id, segment)]


def test_a_bad_telemetry_option_is_refused() -> None:
    with pytest.raises(TypeError, match=r"telemetry=\.\.\.\) takes True, False or"):
        durable.Engine("sqlite://:memory:", telemetry="yes")  # type: ignore[arg-type]


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PROGRAM = """
    import asyncio, sys
    import durable

    @durable.step(name="off.step")
    async def work(x):
        return x + 1

    @durable.workflow(name="off.flow")
    async def flow(x):
        return await work(x)

    async def main():
        async with durable.Engine("sqlite://:memory:") as engine:
            assert await engine.run(flow, 1) == 2
        print("off imports opentelemetry:", "opentelemetry" in sys.modules)
        {after}

    asyncio.run(main())
"""


def test_off_by_default_without_importing_opentelemetry() -> None:
    global_providers = """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        async with durable.Engine("sqlite://:memory:", telemetry=True) as engine:
            assert await engine.run(flow, 1) == 2
        print("on:", sorted(span.name for span in exporter.get_finished_spans()))
    """
    code = PROGRAM.replace("{after}", textwrap.indent(textwrap.dedent(global_providers), " " * 8))
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "off imports opentelemetry: False",
        "on: ['run off.flow', 'step off.step']",
    ]


def test_telemetry_without_opentelemetry_installed_says_what_to_install() -> None:
    missing = """
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
        try:
            async with durable.Engine("sqlite://:memory:", telemetry=True):
                pass
        except durable.DurableError as exc:
            print("refused:", "pip install 'durable[otel]'" in str(exc))
    """
    done = python(PROGRAM.replace("{after}", textwrap.indent(textwrap.dedent(missing), " " * 8)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["off imports opentelemetry: False", "refused: True"]
