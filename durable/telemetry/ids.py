"""Trace and span ids derived from what the journal knows, and W3C ``traceparent`` text.

A span's id is a hash of the run id and the call number (and the attempt, for a step
attempt; the segment number, for a run segment), so a call executed again after a crash
gets the id it had before instead of forking the trace.  A run started outside any trace
gets a trace id hashed from its root run's id: every run of a tree, in any process, is
in one trace.  Nothing here imports OpenTelemetry.

Examples
--------
>>> call_span("run-1", 3) == call_span("run-1", 3) != call_span("run-1", 4)
True
>>> parse_traceparent(format_traceparent(0xABC, 0x12, 1))
(2748, 18, 1)
>>> parse_traceparent("00-zz-01-01") is None
True
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TRACEPARENT",
    "RunTrace",
    "attempt_span",
    "call_span",
    "format_traceparent",
    "parse_traceparent",
    "run_trace",
    "segment_span",
    "trace_of_root",
]

# the metadata key under which a run keeps its starter's trace context
TRACEPARENT = "traceparent"
SAMPLED = 0x01

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


def _hash(size: int, *parts: object) -> int:
    text = "\x1f".join(str(part) for part in parts).encode()
    value = int.from_bytes(hashlib.blake2b(text, digest_size=size).digest(), "big")
    return value or 1  # 0 is the invalid id


def segment_span(run_id: str, segment: int) -> int:
    """The span id of segment `segment` (the run's claim count) of run `run_id`."""
    return _hash(8, "segment", run_id, segment)


def call_span(run_id: str, seq: int) -> int:
    """The span id of call number `seq` of run `run_id` (a child's segments hang from it)."""
    return _hash(8, "call", run_id, seq)


def attempt_span(run_id: str, seq: int, attempt: int) -> int:
    """The span id of attempt `attempt` (from 1) of step call `seq` of run `run_id`."""
    return _hash(8, "attempt", run_id, seq, attempt)


def trace_of_root(root_id: str) -> int:
    """The trace id of a tree of runs started outside any trace."""
    return _hash(16, "trace", root_id)


def parse_traceparent(text: object) -> tuple[int, int, int] | None:
    """``(trace_id, span_id, flags)`` of a W3C ``traceparent``, or None if it is not one."""
    if not isinstance(text, str):
        return None
    match = _TRACEPARENT.match(text.strip().lower())
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(match.group(4), 16)


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """The W3C ``traceparent`` of a span context."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & 0xFF:02x}"


@dataclass(frozen=True)
class RunTrace:
    """Where a run's spans go: its trace, the span its segments hang from (None: they
    are the trace's roots), and the starter's sampling flags and trace state."""

    trace_id: int
    parent_span: int | None
    flags: int = SAMPLED
    trace_state: str = ""


def run_trace(
    metadata: dict[str, Any], root_id: str, parent_id: str | None, parent_seq: int | None
) -> RunTrace:
    """The trace of a run: its starter's (``metadata["traceparent"]``, inherited by
    children) or its root's; a child's segments hang from its parent's call span."""
    started = parse_traceparent(metadata.get(TRACEPARENT))
    state = metadata.get("tracestate")
    state = state if isinstance(state, str) else ""
    if started is None:
        trace_id, parent, flags = trace_of_root(root_id), None, SAMPLED
    else:
        trace_id, parent, flags = started
    if parent_id is not None and parent_seq is not None:
        parent = call_span(parent_id, parent_seq)
    return RunTrace(trace_id, parent, flags, state)
