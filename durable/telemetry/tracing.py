"""Spans of live work: one per run segment, per step attempt and per other durable call.

Every span is started with an id from `durable.telemetry.ids` (the tracer's id
generator is wrapped so that it hands out the id chosen here, and random ids to any
other use of the tracer), and with an explicit parent: the run's segment for its calls,
the starter's span (or the parent run's call span, for a child) for a segment.  A span
ends when its work's outcome is journaled and handed to the workflow; work cut off (a
crash, a suspension, the engine stopping) leaves its span unended, so it is never
exported, and the segment that carries the work on exports it under the same id.

A segment cut off by the death of its process is not exported by it: the engine that
takes the run over exports a stand-in with the lost segment's id (`cut_off`), from the
run's last claim to the take-over, so the spans that process did export keep a parent.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import id_generator

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import signals
from durable.runtime.calls import Call
from durable.runtime.executor import Executor
from durable.runtime.kinds import Kind
from durable.telemetry import ids

__all__ = ["Tracing"]

# (trace id, span id) for the span being started in this context
_NEXT: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "durable_next_span", default=None
)
# what the callbacks on a call's outcome run in: not the run's workflow code, which the
# sequencer would otherwise see as still busy while they wait in the event loop
_OUTSIDE = contextvars.Context()
# how many earlier segments a segment links to at most
_LINKS = 16
_STEP_KINDS = frozenset({Kind.STEP, Kind.TRANSACTION})
_SPAN_KIND = {
    Kind.SEND: trace.SpanKind.PRODUCER,
    Kind.RECV: trace.SpanKind.CONSUMER,
    Kind.RECV_ANY: trace.SpanKind.CONSUMER,
    Kind.REQUEST: trace.SpanKind.CONSUMER,
}


class _ChosenIds(id_generator.IdGenerator):
    """Hands out the ids chosen by `Tracing._start`, else those of `fallback`."""

    def __init__(self, fallback: id_generator.IdGenerator) -> None:
        self.fallback = fallback

    def generate_span_id(self) -> int:
        chosen = _NEXT.get()
        return self.fallback.generate_span_id() if chosen is None else chosen[1]

    def generate_trace_id(self) -> int:
        chosen = _NEXT.get()
        return self.fallback.generate_trace_id() if chosen is None else chosen[0]


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


@dataclass
class _Segment:
    """A segment executing here: its span and its run's trace."""

    span: trace.Span
    run_trace: ids.RunTrace
    context: otel_context.Context
    token: object = None
    # failed attempts whose span waits for the retry decision, by seq
    failed: dict[int, trace.Span] = field(default_factory=dict)


class Tracing:
    """Emits the spans of one engine (see the module docstring)."""

    def __init__(self, provider: trace.TracerProvider, codec: codec_mod.Codec) -> None:
        from durable.telemetry import VERSION

        self.tracer = provider.get_tracer("durable", VERSION)
        self.codec = codec
        # whether span ids are ours: only an SDK tracer lets its ids be chosen
        self.deterministic = _choose_ids(self.tracer)
        self.segments: dict[str, _Segment] = {}

    # -- starting spans ---------------------------------------------------------------

    def _start(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent: otel_context.Context,
        *,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: dict[str, Any] | None = None,
        links: list[trace.Link] | None = None,
        start: float | None = None,
    ) -> trace.Span:
        token = _NEXT.set((trace_id, span_id))
        try:
            return self.tracer.start_span(
                name,
                context=parent,
                kind=kind,
                attributes=attributes,
                links=links,
                start_time=None if start is None else _ns(start),
            )
        finally:
            _NEXT.reset(token)

    def _run_trace(self, run: base.RunRecord) -> ids.RunTrace:
        try:
            metadata = self.codec.decode(run.metadata, what="metadata", workflow_id=run.id)
        except errors.DurableError:
            metadata = None  # the executor reports it; the run still gets its root's trace
        return ids.run_trace(
            metadata if isinstance(metadata, dict) else {}, run.root_id, run.parent_id,
            run.parent_seq,
        )  # fmt: skip

    @staticmethod
    def _remote(run_trace: ids.RunTrace, span_id: int) -> trace.SpanContext:
        return trace.SpanContext(
            run_trace.trace_id,
            span_id,
            is_remote=True,
            trace_flags=trace.TraceFlags(run_trace.flags),
            trace_state=trace.TraceState.from_header([run_trace.trace_state])
            if run_trace.trace_state
            else None,
        )

    def _segment_parent(self, run_trace: ids.RunTrace) -> otel_context.Context:
        """The context a segment starts in: its parent span, or none (a root span)."""
        if run_trace.parent_span is None:
            return otel_context.Context()
        remote = trace.NonRecordingSpan(self._remote(run_trace, run_trace.parent_span))
        return trace.set_span_in_context(remote, otel_context.Context())

    def _segment_span(
        self,
        run: base.RunRecord,
        run_trace: ids.RunTrace,
        attributes: dict[str, Any],
        start: float | None = None,
    ) -> tuple[trace.Span, otel_context.Context]:
        segment = run.attempt
        links = [
            trace.Link(self._remote(run_trace, ids.segment_span(run.id, earlier)))
            for earlier in range(max(1, segment - _LINKS), segment)
        ]
        span = self._start(
            f"run {run.name}",
            run_trace.trace_id,
            ids.segment_span(run.id, segment),
            self._segment_parent(run_trace),
            links=links,
            attributes={
                "durable.run_id": run.id,
                "durable.workflow": run.name,
                "durable.segment": segment,
                "durable.root_id": run.root_id,
                "durable.queue": run.queue or "default",
                **({"durable.parent_id": run.parent_id} if run.parent_id else {}),
                **attributes,
            },
            start=start,
        )
        return span, trace.set_span_in_context(span, otel_context.Context())

    # -- segments ---------------------------------------------------------------------

    def segment_started(self, executor: Executor) -> None:
        """Start the segment's span and make it current for the run's workflow code."""
        run = executor.run
        run_trace = self._run_trace(run)
        span, ctx = self._segment_span(run, run_trace, {"durable.journaled": len(executor.entries)})
        segment = _Segment(span, run_trace, ctx)
        segment.token = otel_context.attach(ctx)
        self.segments[run.id] = segment

    def segment_ended(self, executor: Executor, status: base.Status | None) -> None:
        segment = self.segments.pop(executor.run.id, None)
        if segment is None:
            return
        otel_context.detach(segment.token)  # type: ignore[arg-type]  # in `_drive`'s task
        span = segment.span
        if status is not None:
            span.set_attribute("durable.status", status.value)
            if status is base.Status.FAILED:
                span.set_status(trace.StatusCode.ERROR, "the run failed")
        else:
            reason = executor.aborted
            stopped = "released" if executor.suspended else "stopped"
            span.set_attribute("durable.status", stopped)
            if reason is not None:
                span.set_attribute("durable.stopped_because", str(reason))
        span.end()

    def cut_off(self, before: base.RunRecord, claimed: base.RunRecord) -> None:
        """Export a stand-in for segment ``before.attempt``, cut off by its holder's death."""
        if before.attempt < 1:
            return
        run_trace = self._run_trace(before)
        attributes = {
            "durable.status": "cut off",
            "durable.cut_off": True,
            "durable.holder": before.owner or "",
            "durable.taken_over_by": claimed.owner or "",
        }
        start = min(before.updated_at, time.time())
        span, _ = self._segment_span(before, run_trace, attributes, start)
        span.set_status(trace.StatusCode.ERROR, "its holder died; another engine took it over")
        span.end()

    # -- calls ------------------------------------------------------------------------

    def call_started(self, call: Call) -> None:
        """Start the span of a live call; it ends when its outcome is delivered."""
        segment = self.segments.get(call.run_id)
        if segment is None or call.kind.instant:
            return
        if call.kind in _STEP_KINDS:
            return  # its attempts have spans; `step_done` ends the last failed one
        span = self._start(
            f"{call.kind.value} {call.name}",
            segment.run_trace.trace_id,
            ids.call_span(call.run_id, call.seq),
            segment.context,
            kind=_SPAN_KIND.get(call.kind, trace.SpanKind.INTERNAL),
            attributes={
                "durable.run_id": call.run_id,
                "durable.seq": call.seq,
                "durable.kind": call.kind.value,
                "durable.name": call.name,
            },
            start=call.started,
        )
        call.outcome().add_done_callback(lambda future: _call_done(span, future), context=_OUTSIDE)

    def step_done(self, run_id: str, seq: int) -> None:
        """A step's outcome arrived: its last failed attempt, if any, was not retried."""
        segment = self.segments.get(run_id)
        span = None if segment is None else segment.failed.pop(seq, None)
        if span is not None:
            span.set_attribute("durable.retry.exhausted", True)
            span.end()

    def start_attempt(self, call: Call, attempt: int) -> tuple[trace.Span, object] | None:
        """Start the span of one attempt of a step and make it current (its body runs in
        it); None when the run's segment is not traced here."""
        segment = self.segments.get(call.run_id)
        if segment is None:
            return None
        span = self._start(
            f"step {call.name}",
            segment.run_trace.trace_id,
            ids.attempt_span(call.run_id, call.seq, attempt),
            segment.context,
            attributes={
                "durable.run_id": call.run_id,
                "durable.seq": call.seq,
                "durable.step": call.name,
                "durable.attempt": attempt,
            },
        )
        return span, otel_context.attach(trace.set_span_in_context(span, segment.context))

    def end_attempt(
        self, call: Call, started: tuple[trace.Span, object], error: BaseException | None
    ) -> None:
        """The attempt's body ended (with `error`, or none)."""
        span, token = started
        otel_context.detach(token)  # type: ignore[arg-type]
        if error is None:
            span.end()
        elif isinstance(error, Exception):
            span.record_exception(error)
            span.set_status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}")
            segment = self.segments.get(call.run_id)
            if segment is not None:  # ended by `retrying`, or by the step's outcome
                segment.failed[call.seq] = span
        elif isinstance(error, asyncio.CancelledError) and signals.journaled_cancel(error):
            span.set_attribute("durable.cancelled", str(error.args[0]))  # a race or timeout
            span.end()
        # else cut off here (the engine stopping): carried on elsewhere under the same id

    def retrying(self, call: Call, attempt: int, delay: float) -> None:
        segment = self.segments.get(call.run_id)
        span = None if segment is None else segment.failed.pop(call.seq, None)
        if span is not None:
            span.set_attribute("durable.retry.delay", delay)
            span.set_attribute("durable.retry.at", time.time() + delay)
            span.end()


def _call_done(span: trace.Span, future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return  # never delivered (the run diverged): not exported
    entry = future.result()
    status = getattr(entry, "status", None)
    if isinstance(status, str):
        span.set_attribute("durable.outcome", status)
        if status == "error":
            span.set_status(trace.StatusCode.ERROR)
    child = getattr(entry, "child_id", None)
    if child:
        span.set_attribute("durable.child_id", child)
    span.end()


def _choose_ids(tracer: trace.Tracer) -> bool:
    """Wrap an SDK tracer's id generator so `Tracing._start` chooses span ids."""
    current = getattr(tracer, "id_generator", None)
    if isinstance(current, _ChosenIds):
        return True
    if not isinstance(current, id_generator.IdGenerator):
        return False
    tracer.id_generator = _ChosenIds(current)  # type: ignore[attr-defined]
    return True
