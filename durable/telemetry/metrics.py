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
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics

from durable.journal import base

__all__ = ["Metrics"]

_WAITING = [base.Status.PENDING]


class Metrics:
    """The instruments of one engine (see the module docstring)."""

    def __init__(self, provider: metrics.MeterProvider) -> None:
        from durable.telemetry import VERSION

        meter = provider.get_meter("durable", VERSION)
        self.steps = meter.create_counter("durable.steps", "{step}", "Step calls completed live")
        self.retries = meter.create_counter(
            "durable.step.retries", "{retry}", "Failed step attempts that are retried"
        )
        self.duration = meter.create_histogram(
            "durable.step.duration", "s", "Duration of one step attempt"
        )
        self.finished = meter.create_counter(
            "durable.runs.finished", "{run}", "Runs that ended, by final status"
        )
        self.segments = meter.create_counter(
            "durable.runs.segments", "{segment}", "Run segments that ended in this engine"
        )
        self.wait = meter.create_histogram(
            "durable.queue.wait", "s", "Time from a run's creation to its first start"
        )
        self.taken_over = meter.create_counter(
            "durable.leases.taken_over", "{run}", "Runs taken over from a holder that is gone"
        )
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
        attributes = {"durable.workflow": run.name, "durable.status": status}
        self.segments.add(1, attributes)
        if final:
            self.finished.add(1, attributes)

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
        outcome = outcome if isinstance(outcome, str) else "unknown"
        key = (workflow, step, outcome)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes[key] = {
                "durable.workflow": workflow,
                "durable.step": step,
                "durable.outcome": outcome,
            }
        self.steps.add(1, attributes)

    def retried(self, workflow: str, step: str) -> None:
        self.retries.add(1, {"durable.workflow": workflow, "durable.step": step})
