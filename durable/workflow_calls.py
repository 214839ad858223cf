"""The durable functions workflow code calls (`sleep`, `now`, `uuid4`, `random`,
`context`, children, messages, requests, events, streams, patches, `continue_as_new`,
`heartbeat`): each one a call of the run executing the caller, or its plain
counterpart outside a workflow.  Re-exported by `durable` and `durable.api`.
"""

from __future__ import annotations

import asyncio
import datetime
import random as _random
import uuid as _uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from durable import errors
from durable.runtime import (
    children,
    generations,
    heartbeats,
    inbox,
    messages,
    racing,
    streams,
    timers,
)
from durable.runtime import context as context_mod
from durable.runtime import executor as executor_mod
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.api import Workflow

P = ParamSpec("P")
R = TypeVar("R")


def executor_for_workflow_code() -> executor_mod.Executor | None:
    """The run whose *workflow code* is executing now (None in step bodies and outside)."""
    executor = context_mod.workflow_code.get()
    if executor is not None and context_mod.current_run.get() is executor:
        return executor
    return None


def sleep(seconds: float) -> Coroutine[Any, Any, None]:
    """Sleep durably: the deadline is journaled, so a restart only waits what is left.

    Outside a workflow it is `asyncio.sleep`.

    Examples
    --------
    >>> asyncio.run(sleep(0))
    """
    executor = executor_for_workflow_code()
    if executor is None:
        return asyncio.sleep(seconds)
    return timers.call_sleep(executor, seconds)


def now() -> datetime.datetime:
    """The current time (UTC, timezone-aware), journaled so replay sees the same value.

    Examples
    --------
    >>> now().tzinfo is not None
    True
    """
    executor = executor_for_workflow_code()
    if executor is None:
        return datetime.datetime.now(datetime.UTC)
    value: datetime.datetime = timers.call_instant(executor, Kind.NOW, executor_mod.instant_now)
    return value


def uuid4() -> _uuid.UUID:
    """A random UUID, journaled so replay sees the same value.

    Examples
    --------
    >>> uuid4().version
    4
    """
    executor = executor_for_workflow_code()
    if executor is None:
        return _uuid.uuid4()
    value: _uuid.UUID = timers.call_instant(executor, Kind.UUID, executor_mod.instant_uuid)
    return value


def random() -> float:
    """A random float in [0, 1), journaled so replay sees the same value.

    Examples
    --------
    >>> 0 <= random() < 1
    True
    """
    executor = executor_for_workflow_code()
    if executor is None:
        return _random.random()
    value: float = timers.call_instant(executor, Kind.RANDOM, executor_mod.instant_random)
    return value


def context() -> context_mod.ExecutionContext:
    """The execution context of the workflow or step running now.

    Raises `DurableError` outside any run.
    """
    executor = context_mod.current_run.get()
    if executor is None:
        raise errors.DurableError(
            "durable.context() was called outside a workflow or step; it describes the "
            "run executing the caller"
        )
    return executor.execution_context()


def _require_workflow(name: str) -> executor_mod.Executor:
    executor = executor_for_workflow_code()
    if executor is None:
        raise errors.DurableError(
            f"durable.{name}() can only be called from workflow code (not outside a workflow, "
            "not inside a step)"
        )
    return executor


async def start_child(
    wf: Workflow[P, R],
    /,
    *args: Any,
    workflow_id: str | None = None,
    detached: bool = False,
    **kwargs: Any,
) -> children.ChildHandle:
    """Start a child workflow and return its handle without waiting for it.

    The child's id is ``<parent id>.<call number>`` unless `workflow_id` is given; it
    inherits the parent's root and metadata.  ``await handle`` (or
    ``await handle.result()``) gives its result; many children run concurrently.

    A `detached` child survives its parent: cancelling the parent (or its root) does not
    cancel it, and the parent may end while it runs.  Its lineage still names the
    parent.  ``await handle`` then gives the child's id once it exists, not its result
    (``engine.get(id).result()`` waits for that, outside the workflow).
    """
    executor = _require_workflow("start_child")
    return await children.start_child(
        executor, wf.definition, args, kwargs, workflow_id, detached=detached
    )


def timeout(seconds: float) -> racing.Timeout:
    """``async with durable.timeout(s):`` bounds the work inside with a durable deadline.

    When it passes, the work inside is cancelled (running steps get
    `asyncio.CancelledError`) and `TimeoutError` is raised; a restart does not reset
    the clock.  Outside a workflow it behaves as `asyncio.timeout`.
    """
    return racing.Timeout(seconds)


async def send(workflow_id: str, topic: str, value: Any) -> None:
    """Send `value` to run `workflow_id` on `topic`, exactly once (from workflow code).

    Raises `WorkflowNotFound` when no run has that id.
    """
    executor = _require_workflow("send")
    await messages.send(executor, workflow_id, topic, value)


async def recv(topic: str, timeout: float | None = None) -> Any:
    """The next message sent to this run on `topic`, in send order, exactly once.

    Returns None once `timeout` seconds have passed without one (a durable deadline).
    """
    executor = _require_workflow("recv")
    return await messages.receive(executor, topic, timeout)


async def recv_any(*topics: str, timeout: float | None = None) -> tuple[str | None, Any]:
    """The next message sent to this run on any of `topics`: ``(topic, value)``.

    The oldest of them in send order is taken, exactly once; the others stay queued.
    Returns ``(None, None)`` once `timeout` seconds have passed without one.

    Examples
    --------
    >>> import asyncio, durable
    >>> @durable.workflow(name="doc.first_of")
    ... async def first_of() -> list:
    ...     return list(await durable.recv_any("submit", "exit"))
    >>> async def main():
    ...     async with durable.Engine("sqlite://:memory:") as engine:
    ...         run = await engine.start(first_of)
    ...         await engine.send(run.id, "other", 1)   # not waited for: stays queued
    ...         await engine.send(run.id, "exit", 2)
    ...         return await run.result()
    >>> asyncio.run(main())
    ['exit', 2]
    """
    executor = _require_workflow("recv_any")
    return await inbox.receive_any(executor, topics, timeout)


async def recv_request(name: str, timeout: float | None = None) -> inbox.Request | None:
    """The next request `name` sent to this run with `Engine.request`, in send order.

    Answer it with ``await request.reply(value)`` or ``await request.reject(message)``.
    Returns None once `timeout` seconds have passed without one.
    """
    executor = _require_workflow("recv_request")
    return await inbox.receive_request(executor, name, timeout)


async def set_event(key: str, value: Any) -> None:
    """Publish `value` under `key`, for `Engine.get_event` callers (the last value wins)."""
    executor = _require_workflow("set_event")
    await messages.set_event(executor, key, value)


async def write_stream(key: str, value: Any) -> None:
    """Append `value` to this run's durable stream `key` (workflow code or a step body).

    Readers (`Engine.read_stream`, the HTTP API) see it at once.  Written from workflow
    code it is written once, replay or not; from a step body, each attempt writes its
    own chunks, marked with its attempt numbers (see `durable.StreamChunk`).  A plain
    (thread) step cannot await it: write from an ``async def`` step.

    Parameters
    ----------
    key:
        The stream's name within the run (a non-empty string).
    value:
        The chunk, encoded by the engine's codec like a step's result.
    """
    await streams.write_stream(key, value)


async def close_stream(key: str) -> None:
    """Close this run's stream `key`: readers end after its last chunk (they also end
    once the run has finished)."""
    await streams.close_stream(key)


def patched(patch_id: str) -> bool:
    """Whether this run takes the new code path of patch `patch_id`.

    True for runs that reach this point after the patch was deployed (the decision is
    journaled), False for runs whose journal was written by the code before it, so
    they replay the old path.  Once no old run remains, replace the check with
    `deprecate_patch(patch_id)` and keep only the new path.

    Examples
    --------
    >>> patched("retry-with-fallback")  # outside a workflow: always the new path
    True
    """
    executor = executor_for_workflow_code()
    if executor is None:
        return True
    return timers.call_patched(executor, patch_id)


def deprecate_patch(patch_id: str) -> None:
    """Mark where `patched(patch_id)` was, once every run takes the new path: runs that
    journaled the patch decision still replay, and new runs journal nothing."""
    executor = executor_for_workflow_code()
    if executor is not None:
        timers.call_deprecate_patch(executor, patch_id)


# -- generations and heartbeats ------------------------------------------------------------


def continue_as_new(*args: Any, **kwargs: Any) -> NoReturn:
    """End the run's journal generation and start the workflow again with these
    arguments, under the same id; never returns.

    The old journal stays readable as a past generation
    (``engine.history(id, generation=n)``); the new one starts empty, so a long-lived
    loop replays only its current generation.  Await every call in flight first.  The
    signal that unwinds the workflow is a `BaseException`: do not catch it.

    Parameters
    ----------
    *args, **kwargs:
        The arguments of the workflow's next generation.
    """
    generations.continue_as_new(_require_workflow("continue_as_new"), args, kwargs)


def heartbeat(details: Any = None) -> None:
    """Tell the engine the running step is alive, from its body (async or sync).

    Resets the step's ``heartbeat_timeout``; `details` (when not None) are handed to the
    step's next attempt as ``durable.context().heartbeat_details`` and journaled at most
    once a second.  Raises `asyncio.CancelledError` once the step must stop (its run was
    cancelled, it lost a race, it missed its heartbeat timeout).  Outside a step body it
    does nothing.

    Examples
    --------
    >>> heartbeat({"done": 10})
    """
    heartbeats.heartbeat(details)
