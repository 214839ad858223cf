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
    close_stream,
    context,
    continue_as_new,
    deprecate_patch,
    heartbeat,
    now,
    patched,
    race,
    random,
    recv,
    recv_any,
    recv_request,
    send,
    set_event,
    sleep,
    start_child,
    step,
    timeout,
    transaction,
    uuid4,
    workflow,
    write_stream,
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
    Rejected,
    RunFinished,
    SerializationError,
    WorkflowFailed,
    WorkflowNotFound,
)
from durable.journal.base import Status
from durable.runtime.context import ExecutionContext
from durable.runtime.inbox import Request
from durable.runtime.retry import Retry
from durable.schedules.spec import Cron, Every
from durable.sources.topic import Topic
from durable.streams import StreamChunk

__all__ = [
    "BlobError",
    "Cancelled",
    "ChildHandle",
    "Cron",
    "DurableError",
    "Engine",
    "Every",
    "ExecutionContext",
    "HistoryEntry",
    "JournalError",
    "LineageNode",
    "NonDeterminismError",
    "NotRegistered",
    "Queue",
    "Ref",
    "Rejected",
    "Request",
    "Retry",
    "Run",
    "RunFinished",
    "RunInfo",
    "SerializationError",
    "Status",
    "Step",
    "StreamChunk",
    "Topic",
    "Workflow",
    "WorkflowFailed",
    "WorkflowNotFound",
    "close_stream",
    "context",
    "continue_as_new",
    "deprecate_patch",
    "heartbeat",
    "now",
    "patched",
    "race",
    "random",
    "recv",
    "recv_any",
    "recv_request",
    "send",
    "set_event",
    "sleep",
    "start_child",
    "step",
    "timeout",
    "transaction",
    "uuid4",
    "workflow",
    "write_stream",
]

__version__ = "0.1.0"
