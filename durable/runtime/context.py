"""Which run the running code belongs to, and what `durable.context()` shows of it.

Two context variables:

- `current_run` is set for everything a run executes, workflow code and step
  bodies alike, so `durable.context()` works in both;
- `workflow_code` is set only while *workflow* code runs (not step bodies, not the
  engine's own waits).  The sequencer reads it to tell whether the workflow still
  has work queued in the event loop before it hands back the next result.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = [
    "ExecutionContext",
    "contests",
    "current_attempt",
    "current_run",
    "current_step",
    "workflow_code",
]

current_run: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "durable_current_run", default=None
)
workflow_code: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "durable_workflow_code", default=None
)
# the sequence number of the step whose body is running (None in workflow code)
current_step: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "durable_current_step", default=None
)
# the attempt (from 1) of the step whose body is running (None in workflow code)
current_attempt: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "durable_current_attempt", default=None
)


@dataclass(frozen=True)
class ExecutionContext:
    """What a workflow or step knows about the run it executes in.

    Attributes
    ----------
    workflow_id:
        The run's id.
    name:
        The workflow's registered name.
    parent_id, root_id:
        The run that started this one as a child (None for a top-level run), and the
        top of the tree (the run itself for a top-level run).
    attempt:
        How many times this run has been taken up for execution (1 on the first).
    step:
        In a step body, that step's sequence number; in workflow code, the number
        the next durable call will get.
    metadata:
        The dict given to `engine.start(..., metadata=...)`, inherited by children.
    step_attempt:
        In a step body, the attempt of that step (1 for its first); 0 in workflow code.
    heartbeat_details:
        In a step body, the last details the step's previous attempts passed to
        `durable.heartbeat` (journaled, so they survive a crash), else None.
    """

    workflow_id: str
    name: str
    parent_id: str | None
    root_id: str
    attempt: int
    step: int
    metadata: dict[str, Any] = field(default_factory=dict)
    step_attempt: int = 0
    heartbeat_details: Any = None


# the races and timeouts enclosing the running code, outermost first, each with the
# party the code plays in it (see `durable.runtime.contests`)
contests: contextvars.ContextVar[tuple[tuple[Any, int], ...]] = contextvars.ContextVar(
    "durable_contests", default=()
)
