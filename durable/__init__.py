"""Durable execution for Python: workflows whose steps are journaled and replayed.

Decorate ``async`` functions with `workflow` and the functions they call with
`step`; run them with an `Engine` over SQLite (embedded) or Postgres.  After a
crash, a run replays its journal up to its last finished step and carries on.
"""

from __future__ import annotations

from durable.api import (
    ChildHandle,
    Queue,
    Step,
    Workflow,
    context,
    deprecate_patch,
    now,
    patched,
    race,
    random,
    recv,
    send,
    set_event,
    sleep,
    start_child,
    step,
    timeout,
    transaction,
    uuid4,
    workflow,
)
from durable.blobs.refs import Ref
from durable.engine import Engine, HistoryEntry, LineageNode, Run, RunInfo
from durable.errors import (
    BlobError,
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
from durable.sources.topic import Topic

__all__ = [
    "BlobError",
    "Cancelled",
    "ChildHandle",
    "DurableError",
    "Engine",
    "ExecutionContext",
    "HistoryEntry",
    "JournalError",
    "LineageNode",
    "NonDeterminismError",
    "NotRegistered",
    "Queue",
    "Ref",
    "Retry",
    "Run",
    "RunInfo",
    "SerializationError",
    "Status",
    "Step",
    "Topic",
    "Workflow",
    "WorkflowFailed",
    "WorkflowNotFound",
    "context",
    "deprecate_patch",
    "now",
    "patched",
    "race",
    "random",
    "recv",
    "send",
    "set_event",
    "sleep",
    "start_child",
    "step",
    "timeout",
    "transaction",
    "uuid4",
    "workflow",
]

__version__ = "0.1.0"
