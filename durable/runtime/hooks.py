"""`Hooks`: what the runtime tells an observer of live work (telemetry), and nothing else.

The engine hands an implementation to its executors (`executor.Host.hooks`); it is None
unless telemetry is on, and every call site checks that first, so a run without it pays
one attribute test per call.  Only *live* work is reported: a call answered from the
journal on replay reaches none of these methods, so an observer never sees it twice.

- `call_started(call)`: a call was numbered and the journal does not answer it; its
  outcome arrives on ``call.outcome()`` in its turn (a call cut off by a crash or a
  suspension never gets one).
- `attempt(call, attempt, work)`: one attempt of a step: the awaitable of its body (within
  its timeout), wrapped so that the body runs inside whatever the observer sets up (a
  span that what the body observes nests under).
- `retrying(call, attempt, error, delay)`: that attempt failed and the step is retried
  after `delay` seconds.

`EngineHooks` adds what the engine's scheduler reports of whole runs: each *segment*
(one stretch of a run executing in one process, from its claim to its end or release),
runs taken over from a holder that is gone, and the figures of triggers (schedules,
event sources) for whoever builds them.

The implementation lives in `durable.telemetry`; the runtime never imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from durable.journal import base
    from durable.runtime.calls import Call
    from durable.runtime.executor import Executor

__all__ = ["EngineHooks", "Hooks"]

T = TypeVar("T")


class Hooks(Protocol):
    """Observes the live work of runs (see the module docstring)."""

    def call_started(self, call: Call) -> None:
        """A live call was issued."""

    def attempt(self, call: Call, attempt: int, work: Awaitable[T]) -> Awaitable[T]:
        """`work`, attempt number `attempt` (from 1) of step call `call`, wrapped."""

    def retrying(self, call: Call, attempt: int, error: BaseException, delay: float) -> None:
        """Attempt `attempt` of `call` failed with `error`; the next one in `delay` s."""


class EngineHooks(Hooks, Protocol):
    """`Hooks`, and what an engine reports of whole runs (see the module docstring)."""

    def segment_started(self, executor: Executor) -> object:
        """A segment of `executor`'s run starts in this task; returns what
        `segment_ended` takes back."""

    def segment_ended(self, executor: Executor, status: base.Status | None, token: object) -> None:
        """The segment ended: with the run's final `status`, or None when it stopped here
        unfinished (``executor.aborted`` says why)."""

    def taken_over(self, before: base.RunRecord, claimed: base.RunRecord) -> None:
        """This engine claimed a run from holder ``before.owner``, which is gone."""

    def schedule_fired(self, schedule_id: str, delay: float) -> None:
        """A schedule's tick started its run `delay` seconds after the tick's time."""

    def source_lag(self, source: str, lag: float) -> None:
        """A record of event source `source` started its run `lag` seconds after it
        was published."""
