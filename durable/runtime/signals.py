"""Control-flow signals that user code must not swallow.

They derive from `BaseException` (as `asyncio.CancelledError` does), so an
``except Exception`` in a workflow or step lets them through.
"""

from __future__ import annotations

__all__ = ["RunAborted"]


class RunAborted(BaseException):
    """This process stops executing the run (lease lost, journal unusable); it is not failed."""

    def __init__(self, run_id: str, reason: BaseException | None = None) -> None:
        super().__init__(f"run {run_id!r} stopped in this process: {reason}")
        self.run_id = run_id
        self.reason = reason
