"""`Telemetry`: the `runtime.hooks.EngineHooks` of an engine with telemetry on.

It joins the spans (`tracing`), the metrics (`metrics`), the trace context a run keeps
from its starter (`inject`), the periodic count of waiting runs, and the trace ids on
durable's log records.  Importing this module imports OpenTelemetry.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections.abc import Awaitable
from typing import Any, TypeVar

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

T = TypeVar("T")

_STEP_KINDS = frozenset({Kind.STEP, Kind.TRANSACTION})
# what callbacks on a call's outcome run in (not the run's workflow code)
_OUTSIDE = contextvars.Context()


class Telemetry:
    """Traces and measures what one engine executes (see the module docstring)."""

    def __init__(self, config: Config, codec: codec_mod.Codec) -> None:
        tracer_provider = config.tracer_provider or trace.get_tracer_provider()
        meter_provider = config.meter_provider or metrics.get_meter_provider()
        self.config = config
        self.tracing = Tracing(tracer_provider, codec)
        self.metrics = Metrics.of(meter_provider)
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
        self.metrics.lease_taken_over(before.queue)
        self.tracing.cut_off(before, claimed)

    def schedule_fired(self, schedule_id: str, delay: float) -> None:
        self.metrics.schedule_delay.record(max(0.0, delay), {"durable.schedule": schedule_id})

    def source_lag(self, source: str, lag: float) -> None:
        self.metrics.source_lag.record(max(0.0, lag), {"durable.source": source})

    def call_started(self, call: Call) -> None:
        if call.kind not in _STEP_KINDS:
            self.tracing.call_started(call)
            return
        run_id, seq, workflow, name = call.run_id, call.seq, call.executor.run.name, call.name

        def done(future: asyncio.Future[Any]) -> None:
            if not future.cancelled():  # else never delivered: nothing to report
                self.tracing.step_done(run_id, seq)
                self.metrics.step_ended(workflow, name, getattr(future.result(), "status", None))

        call.outcome().add_done_callback(done, context=_OUTSIDE)

    async def attempt(self, call: Call, attempt: int, work: Awaitable[T]) -> T:
        with _Attempt(self, call, attempt):
            return await work

    def retrying(self, call: Call, attempt: int, error: BaseException, delay: float) -> None:
        self.tracing.retrying(call, attempt, delay)
        self.metrics.retried(call.executor.run.name, call.name)


class _Attempt:
    """One attempt of a step: its span (current while the body runs) and its duration.
    A class rather than a generator-based context manager: every attempt enters one."""

    __slots__ = ("attempt", "call", "span", "started", "telemetry")

    def __init__(self, telemetry: Telemetry, call: Call, attempt: int) -> None:
        self.telemetry = telemetry
        self.call = call
        self.attempt = attempt
        self.span: tuple[Any, object] | None = None
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        self.span = self.telemetry.tracing.start_attempt(self.call, self.attempt)

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        call, telemetry = self.call, self.telemetry
        if self.span is not None:
            telemetry.tracing.end_attempt(call, self.span, error)
        if error is None:
            outcome = "ok"
        elif isinstance(error, Exception):
            outcome = "error"
        elif isinstance(error, asyncio.CancelledError) and signals.journaled_cancel(error):
            outcome = "cancelled"  # a race or timeout gave up on it
        else:
            return  # cut off here: it runs again elsewhere
        telemetry.metrics.attempt_ended(call.executor.run.name, call.name, outcome, self.started)


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
