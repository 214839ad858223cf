"""What `@workflow` and `@step` register: definitions looked up by their journal names."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from durable.runtime import retry as retry_mod

__all__ = [
    "QueueDef",
    "StepDef",
    "WorkflowDef",
    "catalog",
    "lookup_queue",
    "lookup_workflow",
    "register_queue",
    "register_workflow",
    "workflow_names",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkflowDef:
    """A registered workflow function."""

    name: str
    fn: Callable[..., Any]
    queue: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class StepDef:
    """A step function and how it is called."""

    name: str
    fn: Callable[..., Any]
    retry: retry_mod.Retry = retry_mod.NO_RETRY
    timeout: float | None = None
    transaction: bool = False
    # an attempt that sends no `durable.heartbeat` for this long fails with TimeoutError
    heartbeat_timeout: float | None = None
    # whether `fn` is a coroutine function (else it runs in a thread): known once
    is_async: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.fn))


@dataclass(frozen=True)
class QueueDef:
    """A named queue's limits (see `durable.Queue`)."""

    name: str
    concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_limit: int | None = None
    period: float = 60.0
    partition_concurrency: int | None = None

    @property
    def limited(self) -> bool:
        """Whether claims on this queue must check limits shared by all processes."""
        limits = (self.concurrency, self.rate_limit, self.partition_concurrency)
        return any(limit is not None for limit in limits)


_workflows: dict[str, WorkflowDef] = {}
_queues: dict[str, QueueDef] = {}


def register_queue(definition: QueueDef) -> None:
    """Make a queue's limits known in this process (the last definition wins)."""
    _queues[definition.name] = definition


def lookup_queue(name: str | None) -> QueueDef | None:
    """The limits of queue `name`, if this process declared them."""
    return None if name is None else _queues.get(name)


def default_name(fn: Callable[..., Any]) -> str:
    """``module.qualname``: the journal name of a function decorated without ``name=``."""
    return f"{fn.__module__}.{fn.__qualname__}"


def register_workflow(definition: WorkflowDef) -> None:
    """Make a workflow resumable by name in this process (the last definition wins)."""
    previous = _workflows.get(definition.name)
    if previous is not None and previous.fn is not definition.fn:
        logger.debug(
            "workflow %r registered again; the newer definition wins",
            definition.name,
            extra={"action": "register", "workflow_name": definition.name},
        )
    _workflows[definition.name] = definition


def lookup_workflow(name: str) -> WorkflowDef | None:
    """The workflow registered under `name`, if this process imported it."""
    return _workflows.get(name)


def workflow_names() -> list[str]:
    """Every workflow name registered in this process."""
    return sorted(_workflows)


def catalog() -> list[tuple[str, str | None]]:
    """Every workflow registered in this process with its queue, by name (what an
    executing engine records in the journal's catalog)."""
    return [(name, _workflows[name].queue) for name in sorted(_workflows)]


def limited_queue_names() -> list[str]:
    """The queues with limits (global or per worker) that every claim must check."""
    return sorted(
        name for name, queue in _queues.items() if queue.limited or queue.worker_concurrency
    )
