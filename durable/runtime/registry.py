"""What `@workflow` and `@step` register: definitions looked up by their journal names."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from durable.runtime import retry as retry_mod

__all__ = ["StepDef", "WorkflowDef", "lookup_workflow", "register_workflow", "workflow_names"]

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

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)


_workflows: dict[str, WorkflowDef] = {}


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
