"""The metrics of one engine, through the OpenTelemetry metrics API.

| instrument | kind | unit | attributes |
| --- | --- | --- | --- |
| ``durable.steps`` | counter | {step} | workflow, step, outcome (ok, error, cancelled) |
| ``durable.step.retries`` | counter | {retry} | workflow, step |
| ``durable.step.duration`` | histogram | s | workflow, step, outcome (per attempt) |
| ``durable.runs.finished`` | counter | {run} | workflow, status |
| ``durable.runs.segments`` | counter | {segment} | workflow, status (final, released, stopped) |
| ``durable.queue.depth`` | gauge | {run} | queue (runs waiting to be claimed) |
| ``durable.queue.wait`` | histogram | s | queue (creation to first start) |
| ``durable.leases.taken_over`` | counter | {run} | queue |
| ``durable.schedule.delay`` | histogram | s | schedule (tick time to run start) |
| ``durable.source.lag`` | histogram | s | source (publication to run start) |

The duration histogram's count is the number of attempts.  Attribute keys are prefixed
``durable.``.  Only live work counts: a call answered from
the journal on replay is not counted again.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics

from durable.journal import base

__all__ = ["Metrics"]

_WAITING = [base.Status.PENDING]


class _Totals:
    """A monotonic count per attribute set, kept here and reported by an asynchronous
    counter when the meter collects: adding to it costs a dict update, not a trip
    through the SDK's aggregation, so the hot path (a step's end) stays cheap."""

    __slots__ = ("keys", "totals")

    def __init__(self, meter: metrics.Meter, name: str, unit: str, text: str, *keys: str):
        self.keys = tuple(f"durable.{key}" for key in keys)
        self.totals: dict[tuple[str, ...], int] = {}
        meter.create_observable_counter(name, [self._observe], unit, text)

    def add(self, *values: str) -> None:
        self.totals[values] = self.totals.get(values, 0) + 1

    def _observe(self, _: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        # list() copies under the GIL: the reader may collect from another thread
        return [
            metrics.Observation(total, dict(zip(self.keys, values, strict=True)))
            for values, total in list(self.totals.items())
        ]


class Metrics:
    """The instruments reported to one meter provider (see the module docstring); the
    engines of a process that share a provider share them (`of`)."""

    _shared: weakref.WeakKeyDictionary[metrics.MeterProvider, Metrics] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, provider: metrics.MeterProvider) -> Metrics:
        """The instruments of `provider`, made once: an asynchronous counter registered
        twice under one name would report only the first registration's totals."""
        try:
            found = cls._shared.get(provider)
        except TypeError:  # a provider that cannot be weakly referenced: not shared
            return cls(provider)
        if found is None:
            found = cls._shared[provider] = cls(provider)
        return found

    def __init__(self, provider: metrics.MeterProvider) -> None:
        from durable.telemetry import VERSION

        meter = provider.get_meter("durable", VERSION)
        self.steps = _Totals(
            meter, "durable.steps", "{step}", "Step calls completed live",
            "workflow", "step", "outcome",
        )  # fmt: skip
        self.retries = _Totals(
            meter, "durable.step.retries", "{retry}", "Failed step attempts that are retried",
            "workflow", "step",
        )  # fmt: skip
        self.duration = meter.create_histogram(
            "durable.step.duration", "s", "Duration of one step attempt"
        )
        self.finished = _Totals(
            meter, "durable.runs.finished", "{run}", "Runs that ended, by final status",
            "workflow", "status",
        )  # fmt: skip
        self.segments = _Totals(
            meter, "durable.runs.segments", "{segment}", "Run segments that ended here",
            "workflow", "status",
        )  # fmt: skip
        self.wait = meter.create_histogram(
            "durable.queue.wait", "s", "Time from a run's creation to its first start"
        )
        self.taken_over = _Totals(
            meter, "durable.leases.taken_over", "{run}",
            "Runs taken over from a holder that is gone", "queue",
        )  # fmt: skip
        self.schedule_delay = meter.create_histogram(
            "durable.schedule.delay", "s", "Delay from a schedule's tick to its run's start"
        )
        self.source_lag = meter.create_histogram(
            "durable.source.lag", "s", "Delay from an event's publication to its run's start"
        )
        self.depths: dict[str, int] = {}
        # attribute sets by (workflow, step, outcome), built once
        self._attributes: dict[tuple[str, str, str], dict[str, str]] = {}
        meter.create_observable_gauge(
            "durable.queue.depth",
            [self._observe_depths],
            "{run}",
            "Runs waiting to be claimed, as of the engine's last look",
        )

    def _observe_depths(self, _: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        return [
            metrics.Observation(count, {"durable.queue": queue})
            for queue, count in sorted(self.depths.items())
        ]

    async def refresh_depths(self, journal: base.Journal, limit: int) -> None:
        """Count the runs waiting to be claimed, per queue (at most `limit` in all)."""
        waiting = await journal.list_runs(status=_WAITING, limit=limit)
        depths = dict.fromkeys(self.depths, 0)  # a queue emptied since reports 0
        for record in waiting:
            queue = record.queue or "default"
            depths[queue] = depths.get(queue, 0) + 1
        self.depths = depths

    def run_started(self, run: base.RunRecord) -> None:
        if run.attempt == 1 and run.started_at is not None:
            waited = max(0.0, run.started_at - run.created_at)
            self.wait.record(waited, {"durable.queue": run.queue or "default"})

    def segment_ended(self, run: base.RunRecord, status: str, final: bool) -> None:
        self.segments.add(run.name, status)
        if final:
            self.finished.add(run.name, status)

    def attempt_ended(self, workflow: str, step: str, outcome: str, started: float) -> None:
        key = (workflow, step, outcome)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes[key] = {
                "durable.workflow": workflow,
                "durable.step": step,
                "durable.outcome": outcome,
            }
        self.duration.record(time.perf_counter() - started, attributes)

    def step_ended(self, workflow: str, step: str, outcome: Any) -> None:
        self.steps.add(workflow, step, outcome if isinstance(outcome, str) else "unknown")

    def retried(self, workflow: str, step: str) -> None:
        self.retries.add(workflow, step)

    def lease_taken_over(self, queue: str | None) -> None:
        self.taken_over.add(queue or "default")
