"""Durable execution for Python: workflows whose steps are journaled and replayed.

Decorate ``async`` functions with `workflow` and the functions they call with
`step`; run them with an `Engine` over SQLite (embedded) or Postgres.  After a
crash, a run replays its journal up to its last finished step and carries on.
"""

from __future__ import annotations

from durable.api import (
    Step,
    Workflow,
    context,
    now,
    random,
    sleep,
    step,
    transaction,
    uuid4,
    workflow,
)
from durable.engine import Engine, HistoryEntry, Run, RunInfo
from durable.errors import (
    Cancelled,
    DurableError,
    JournalError,
    NonDeterminismError,
    NotRegistered,
    SerializationError,
    WorkflowFailed,
    WorkflowNotFound,
)
from durable.journal.base import Status
from durable.runtime.context import ExecutionContext
from durable.runtime.retry import Retry

__all__ = [
    "Cancelled",
    "DurableError",
    "Engine",
    "ExecutionContext",
    "HistoryEntry",
    "JournalError",
    "NonDeterminismError",
    "NotRegistered",
    "Retry",
    "Run",
    "RunInfo",
    "SerializationError",
    "Status",
    "Step",
    "Workflow",
    "WorkflowFailed",
    "WorkflowNotFound",
    "context",
    "now",
    "random",
    "sleep",
    "step",
    "transaction",
    "uuid4",
    "workflow",
]

__version__ = "0.1.0"
