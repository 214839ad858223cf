"""Driver of the telemetry crash test: an engine whose spans go to a JSON-lines file (one
line per span, written as each span ends, so a SIGKILL loses only unended spans).

``python -m tests.telemetry.driver --db URL --spans FILE --run ID`` executes the runs in
the database until run ID ends and prints its result.  Its workflow kills the process
(SIGKILL) the first time its `fatal` step runs, after a step and a child completed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import durable
from durable.telemetry import Config


class FileExporter(SpanExporter):
    """Appends each span as one JSON line to a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as handle:
            for span in spans:
                handle.write(json.dumps(describe(span)) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def describe(span: ReadableSpan) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace_id": span.context.trace_id,
        "span_id": span.context.span_id,
        "parent_id": None if span.parent is None else span.parent.span_id,
        "links": [link.context.span_id for link in span.links],
        "attributes": dict(span.attributes or {}),
        "pid": os.getpid(),
    }


@durable.step(name="tests.telemetry.driver.work")
async def work(label: str) -> str:
    return label


@durable.step(name="tests.telemetry.driver.fatal")
async def fatal(marker: str) -> str:
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


@durable.workflow(name="tests.telemetry.driver.child")
async def child(value: int) -> str:
    return await work(f"child {value}")


@durable.workflow(name="tests.telemetry.driver.flow")
async def flow(marker: str) -> list[str]:
    first = await work("a")  # seq 0
    second = await child(1)  # seq 1
    third = await fatal(marker)  # seq 2: the process dies here the first time
    return [first, second, third, await work("d")]  # seq 3


async def execute(db: str, spans: str, run_id: str) -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(FileExporter(spans)))
    config = Config(tracer_provider=provider, queue_depth_interval=0)
    async with durable.Engine(db, telemetry=config, poll_interval=0.1) as engine:
        result = await engine.get(run_id).result(timeout=60)
    print(json.dumps({"result": result}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--spans", required=True)
    parser.add_argument("--run", required=True)
    options = parser.parse_args()
    asyncio.run(execute(options.db, options.spans, options.run))


if __name__ == "__main__":
    main()
