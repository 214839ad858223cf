"""Control-flow signals that user code must not swallow.

They derive from `BaseException` (as `asyncio.CancelledError` does), so an
``except Exception`` in a workflow or step lets them through.
"""

from __future__ import annotations

__all__ = [
    "RACE_LOST",
    "TIMED_OUT",
    "ReplayReachedLive",
    "RunAborted",
    "Suspended",
    "journaled_cancel",
]

# Messages carried by the `asyncio.CancelledError` that `durable.race` and
# `durable.timeout` send, so a step can tell them from a shutdown (which must not
# journal anything).
RACE_LOST = "durable: lost a race"
TIMED_OUT = "durable: timed out"


def journaled_cancel(error: BaseException) -> bool:
    """Whether a cancellation comes from `durable.race` or `durable.timeout`: such a
    cancellation is part of the run's history and is journaled, unlike a shutdown."""
    return bool(error.args) and error.args[0] in (RACE_LOST, TIMED_OUT)


class RunAborted(BaseException):
    """This process stops executing the run (lease lost, journal unusable); it is not failed."""

    def __init__(self, run_id: str, reason: BaseException | None = None) -> None:
        super().__init__(f"run {run_id!r} stopped in this process: {reason}")
        self.run_id = run_id
        self.reason = reason


class ReplayReachedLive(BaseException):
    """Replay for debugging reached a call the journal does not answer: a live run would
    execute it.  Raised at the call, so nothing runs."""

    def __init__(self, seq: int, description: str) -> None:
        super().__init__(f"a live run would continue at seq {seq}: {description}")
        self.seq = seq
        self.description = description


class Suspended(Exception):
    """Why a run stopped here on purpose (draining, a long sleep): it is released, not failed."""
