"""Fixtures of the telemetry tests: OpenTelemetry's SDK with its in-memory span exporter
and metric reader (the real SDK, nothing mocked), and engines reporting to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import durable
from durable.telemetry import Config


@dataclass
class Otel:
    """One tracer and meter provider pair, and what they collected."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def config(self, **options: Any) -> Config:
        options.setdefault("queue_depth_interval", 0)
        return Config(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def points(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """The data points of metric `name`: sorted attribute items -> value (a sum, a
        gauge's value, or a histogram's count)."""
        found: dict[tuple[tuple[str, Any], ...], Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        key = tuple(sorted(point.attributes.items()))
                        found[key] = point.count if hasattr(point, "count") else point.value
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield Otel(tracer_provider, meter_provider, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
async def traced_engines(db_url: str, otel: Otel) -> AsyncIterator[Any]:
    """Open engines on the test's database reporting to `otel`; closed at the end."""
    opened: list[durable.Engine] = []

    async def factory(**options: Any) -> durable.Engine:
        options.setdefault("poll_interval", 0)
        options.setdefault("telemetry", otel.config())
        engine = durable.Engine(db_url, **options)
        await engine.open()
        opened.append(engine)
        return engine

    yield factory
    for engine in reversed(opened):
        if engine.is_open:
            await engine.close()
