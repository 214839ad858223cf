"""`Telemetry`: the `runtime.hooks.EngineHooks` of an engine with telemetry on.

It joins the spans (`tracing`), the metrics (`metrics`), the trace context a run keeps
from its starter (`inject`), the periodic count of waiting runs, and the trace ids on
durable's log records.  Importing this module imports OpenTelemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from typing import Any

from opentelemetry import metrics, trace

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import signals
from durable.runtime.calls import Call
from durable.runtime.executor import Executor
from durable.runtime.kinds import Kind
from durable.telemetry import Config, ids
from durable.telemetry.metrics import Metrics
from durable.telemetry.tracing import Tracing

__all__ = ["Telemetry"]

logger = logging.getLogger(__name__)

_STEP_KINDS = frozenset({Kind.STEP, Kind.TRANSACTION})


class Telemetry:
    """Traces and measures what one engine executes (see the module docstring)."""

    def __init__(self, config: Config, codec: codec_mod.Codec) -> None:
        tracer_provider = config.tracer_provider or trace.get_tracer_provider()
        meter_provider = config.meter_provider or metrics.get_meter_provider()
        self.config = config
        self.tracing = Tracing(tracer_provider, codec)
        self.metrics = Metrics(meter_provider)
        self._journal: base.Journal | None = None
        self._watcher: asyncio.Task[None] | None = None
        # set by `abandon` (a simulated crash): what is cut off then is not exported
        self.abandoned = False
        if not self.tracing.deterministic:
            logger.warning(
                "telemetry: the tracer provider %r is not OpenTelemetry's SDK: span ids "
                "are random, so a call executed again after a crash gets a new span",
                type(tracer_provider).__name__,
                extra={"action": "telemetry", "workflow_id": None},
            )
        _TraceIds.install(self)

    # -- the engine's life --------------------------------------------------------------

    def start(self, journal: base.Journal) -> None:
        """Begin the periodic count of waiting runs (in the running loop)."""
        self._journal = journal
        if self.config.queue_depth_interval > 0:
            self._watcher = asyncio.create_task(self._watch_queues(), name="durable-telemetry")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None

    def abandon(self) -> None:
        """The engine drops everything as a SIGKILL would: export nothing more."""
        self.abandoned = True
        if self._watcher is not None:
            self._watcher.cancel()

    async def refresh_queue_depth(self) -> None:
        """Count the runs waiting to be claimed now (``durable.queue.depth``)."""
        if self._journal is not None:
            await self.metrics.refresh_depths(self._journal, self.config.queue_depth_limit)

    async def _watch_queues(self) -> None:
        while True:
            try:
                await self.refresh_queue_depth()
            except errors.JournalError as exc:
                logger.debug(
                    "telemetry: counting waiting runs failed: %s",
                    exc,
                    extra={"action": "telemetry", "workflow_id": None},
                )
            await asyncio.sleep(self.config.queue_depth_interval)

    def inject(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """`metadata` with the current span as the run's starter (unless it names one)."""
        if ids.TRACEPARENT in metadata:
            return metadata
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return metadata
        metadata = dict(metadata)
        metadata[ids.TRACEPARENT] = ids.format_traceparent(
            context.trace_id, context.span_id, context.trace_flags
        )
        if context.trace_state:
            metadata["tracestate"] = context.trace_state.to_header()
        return metadata

    # -- runtime.hooks.EngineHooks ------------------------------------------------------

    def segment_started(self, executor: Executor) -> object:
        self.tracing.segment_started(executor)
        self.metrics.run_started(executor.run)
        return None

    def segment_ended(self, executor: Executor, status: base.Status | None, token: object) -> None:
        if self.abandoned:  # a killed process ends no span (the engine taking over stands in)
            self.tracing.segments.pop(executor.run.id, None)
            return
        self.tracing.segment_ended(executor, status)
        if status is not None:
            label = status.value
        else:
            label = "released" if executor.suspended else "stopped"
        self.metrics.segment_ended(executor.run, label, final=status is not None)

    def taken_over(self, before: base.RunRecord, claimed: base.RunRecord) -> None:
        self.metrics.taken_over.add(1, {"durable.queue": before.queue or "default"})
        self.tracing.cut_off(before, claimed)

    def schedule_fired(self, schedule_id: str, delay: float) -> None:
        self.metrics.schedule_delay.record(max(0.0, delay), {"durable.schedule": schedule_id})

    def source_lag(self, source: str, lag: float) -> None:
        self.metrics.source_lag.record(max(0.0, lag), {"durable.source": source})

    def call_started(self, call: Call) -> None:
        self.tracing.call_started(call)
        if call.kind in _STEP_KINDS:
            workflow, name = call.executor.run.name, call.name

            def counted(future: asyncio.Future[Any]) -> None:
                if not future.cancelled():  # else never delivered: not counted
                    outcome = getattr(future.result(), "status", None)
                    self.metrics.step_ended(workflow, name, outcome)

            call.outcome().add_done_callback(counted)

    @contextlib.contextmanager
    def attempt(self, call: Call, attempt: int) -> Iterator[None]:
        started = time.perf_counter()
        outcome: str | None = "ok"
        try:
            with self.tracing.attempt(call, attempt):
                yield
        except Exception:
            outcome = "error"
            raise
        except BaseException as stop:
            # a race or timeout gave up on it; else it was cut off and runs again elsewhere
            journaled = isinstance(stop, asyncio.CancelledError) and signals.journaled_cancel(stop)
            outcome = "cancelled" if journaled else None
            raise
        finally:
            if outcome is not None:
                self.metrics.attempt_ended(call.executor.run.name, call.name, outcome, started)

    def retrying(self, call: Call, attempt: int, error: BaseException, delay: float) -> None:
        self.tracing.retrying(call, attempt, delay)
        self.metrics.retried(call.executor.run.name, call.name)


class _TraceIds(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex) to the records of durable's loggers: the
    current span's (a step attempt, a run's segment), else the segment's of the run the
    record names."""

    _installed: _TraceIds | None = None

    def __init__(self) -> None:
        super().__init__()
        self.telemetries: weakref.WeakSet[Telemetry] = weakref.WeakSet()

    @classmethod
    def install(cls, telemetry: Telemetry) -> None:
        if cls._installed is None:
            cls._installed = cls()
            for name, item in list(logging.root.manager.loggerDict.items()):
                if isinstance(item, logging.Logger) and name.split(".")[0] == "durable":
                    item.addFilter(cls._installed)
        cls._installed.telemetries.add(telemetry)

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "trace_id"):
            return True
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
            return True
        run_id = getattr(record, "workflow_id", None)
        for telemetry in self.telemetries:
            segment = telemetry.tracing.segments.get(run_id) if run_id else None
            if segment is None:
                continue
            record.trace_id = f"{segment.run_trace.trace_id:032x}"
            record.span_id = f"{segment.span.get_span_context().span_id:016x}"
            break
        return True
