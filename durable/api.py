"""The names users write inside their code: `@workflow`, `@step`, `@transaction`,
and the durable functions a workflow calls (`sleep`, `now`, `uuid4`, `random`,
`context`).  `Engine` and `Run` live in `durable.engine`.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import random as _random
import uuid as _uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, Generic, NoReturn, ParamSpec, Protocol, TypeVar, overload

from durable import errors
from durable.runtime import (
    children,
    generations,
    heartbeats,
    inbox,
    messages,
    racing,
    registry,
    steps,
    streams,
    timers,
)
from durable.runtime import context as context_mod
from durable.runtime import executor as executor_mod
from durable.runtime.kinds import Kind
from durable.runtime.retry import NO_RETRY, Retry
from durable.schedules import declared as schedules_declared
from durable.sources import registry as sources_registry

__all__ = [
    "ChildHandle",
    "Queue",
    "Step",
    "Workflow",
    "context",
    "deprecate_patch",
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
]

ChildHandle = children.ChildHandle
race = racing.race

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


def _executor_for_workflow_code() -> executor_mod.Executor | None:
    """The run whose *workflow code* is executing now (None in step bodies and outside)."""
    executor = context_mod.workflow_code.get()
    if executor is not None and context_mod.current_run.get() is executor:
        return executor
    return None


class Step(Generic[P, R]):
    """A function whose result is journaled when a workflow calls it.

    Called from workflow code it returns an awaitable whose result comes from the
    journal on replay.  Called anywhere else (outside any workflow, or from inside
    another step's body) it is a plain call: a coroutine for an ``async def``, the
    value itself for a plain function.
    """

    def __init__(self, definition: registry.StepDef) -> None:
        self.definition = definition
        functools.update_wrapper(self, definition.fn)

    @property
    def name(self) -> str:
        """The step's name in the journal."""
        return self.definition.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        executor = _executor_for_workflow_code()
        if executor is None:
            if self.definition.transaction:
                raise errors.DurableError(
                    f"transaction step {self.name!r} was called outside a workflow; it needs "
                    "the journal's connection, which only a running workflow has"
                )
            return self.definition.fn(*args, **kwargs)  # type: ignore[no-any-return]
        return steps.call_step(executor, self.definition, args, kwargs)


class Workflow(Generic[P, R]):
    """An async function whose runs are journaled and resumed after a crash.

    Start runs with `Engine.start` or `Engine.run`.  Called directly it is a plain
    call of the function (its steps then run as plain calls too).
    """

    def __init__(self, definition: registry.WorkflowDef) -> None:
        self.definition = definition
        functools.update_wrapper(self, definition.fn)

    @property
    def name(self) -> str:
        """The workflow's name in the journal."""
        return self.definition.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        executor = _executor_for_workflow_code()
        if executor is not None:
            # awaited from a workflow: a child run, journaled as one entry of the parent
            return children.call_child(executor, self.definition, args, kwargs)  # type: ignore[no-any-return]
        return self.definition.fn(*args, **kwargs)  # type: ignore[no-any-return]


class Queue:
    """A named queue with limits that hold across every worker sharing the journal.

    Declare it at import time, next to the workflows that use it, and pass it (or
    its name) as ``@workflow(queue=...)`` or ``engine.start(..., queue=...)``.

    Parameters
    ----------
    name:
        The queue's name in the journal.
    concurrency:
        At most this many runs of the queue held at once, by all workers together
        (a run asleep in a long durable sleep holds no slot).
    worker_concurrency:
        At most this many of its runs in one worker, children started from workflows
        included.  A child inherits its parent's queue unless its ``@workflow(queue=)``
        names another: a parent that waits for children of its own limited queue holds
        one of the slots they need, so give such children a queue of their own.
    rate_limit, period:
        At most `rate_limit` runs of the queue started per `period` seconds.
    partition_concurrency:
        At most this many runs of one partition of the queue held at once, by all
        workers together: a run's partition is the ``partition_key`` it was started with
        (``engine.start(wf, x, partition_key="tenant-7")``); runs without one are not
        limited by it.

    Examples
    --------
    >>> llm = Queue("doc.llm", concurrency=4, rate_limit=60, period=60.0)
    >>> llm.name
    'doc.llm'
    """

    def __init__(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        worker_concurrency: int | None = None,
        rate_limit: int | None = None,
        period: float = 60.0,
        partition_concurrency: int | None = None,
    ) -> None:
        for label, value in (
            ("concurrency", concurrency),
            ("worker_concurrency", worker_concurrency),
            ("rate_limit", rate_limit),
            ("partition_concurrency", partition_concurrency),
        ):
            if value is not None and value < 1:
                raise ValueError(f"Queue {name!r}: {label} must be at least 1")
        if period <= 0:
            raise ValueError(f"Queue {name!r}: period must be positive")
        self.name = name
        self.definition = registry.QueueDef(
            name=name,
            concurrency=concurrency,
            worker_concurrency=worker_concurrency,
            rate_limit=rate_limit,
            period=period,
            partition_concurrency=partition_concurrency,
        )
        registry.register_queue(self.definition)

    def __repr__(self) -> str:
        return f"<durable.Queue {self.name!r}>"


def queue_name(queue: Queue | str | None) -> str | None:
    """The name of a queue given as a `Queue` or a string."""
    return queue.name if isinstance(queue, Queue) else queue


class _StepDecorator(Protocol):
    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Step[P, R]: ...

    @overload
    def __call__(self, fn: Callable[P, R], /) -> Step[P, R]: ...


class _WorkflowDecorator(Protocol):
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Workflow[P, R]: ...


def _make_step(
    fn: Callable[..., Any],
    *,
    name: str | None,
    retry: Retry | None,
    timeout: float | None,
    is_transaction: bool = False,
    heartbeat_timeout: float | None = None,
) -> Step[Any, Any]:
    if is_transaction and not asyncio.iscoroutinefunction(fn):
        raise TypeError(f"@durable.transaction needs an async function, got {fn!r}")
    definition = registry.StepDef(
        name=name or registry.default_name(fn),
        fn=fn,
        retry=retry or NO_RETRY,
        timeout=timeout,
        transaction=is_transaction,
        heartbeat_timeout=heartbeat_timeout,
    )
    return Step(definition)


@overload
def step(fn: Callable[P, Coroutine[Any, Any, R]], /) -> Step[P, R]: ...
@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...
@overload
def step(
    *,
    name: str | None = None,
    retry: Retry | None = None,
    timeout: float | None = None,
    heartbeat_timeout: float | None = None,
) -> _StepDecorator: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retry: Retry | None = None,
    timeout: float | None = None,
    heartbeat_timeout: float | None = None,
) -> Any:
    """Mark a function as a step: its result (or final error) is journaled.

    Plain (non-async) functions run in a thread.  Works bare (``@step``) and with
    arguments.

    Parameters
    ----------
    name:
        The stable name in the journal; defaults to ``module.qualname``.  Renaming a
        step makes journals that recorded the old name diverge, so set it when you
        expect to move the function.
    retry:
        A `Retry` policy; by default a step is attempted once.
    timeout:
        Seconds one attempt may take; an attempt over time fails with `TimeoutError`
        (and is retried if the policy says so).  A plain function's thread cannot be
        stopped: it is abandoned.
    heartbeat_timeout:
        Seconds an attempt may go without calling `durable.heartbeat`; one that does
        fails with `TimeoutError` (and is retried if the policy says so).

    Examples
    --------
    >>> @step(retry=Retry(max_attempts=3))
    ... async def fetch(url: str) -> str:
    ...     return "<html>"
    >>> fetch.name.endswith("fetch")
    True
    """
    make = functools.partial(
        _make_step, name=name, retry=retry, timeout=timeout, heartbeat_timeout=heartbeat_timeout
    )
    return make(fn) if fn is not None else make


@overload
def transaction(fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]], /) -> Step[P, R]: ...
@overload
def transaction(
    *, name: str | None = None, retry: Retry | None = None, timeout: float | None = None
) -> Callable[[Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]], Step[P, R]]: ...


def transaction(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retry: Retry | None = None,
    timeout: float | None = None,
) -> Any:
    """Mark an async step whose first parameter receives the journal database's connection.

    The connection is inside the transaction that also journals the step's result,
    so the step's database effects commit exactly once, crash or not.  The caller
    does not pass the connection.  Statements use the backend's parameter style
    (``?`` on SQLite, ``%s`` on Postgres); ``await conn.execute(sql, params)``
    returns a cursor with ``await cur.fetchone()``, ``await cur.fetchall()`` and
    ``cur.rowcount``.

    Parameters
    ----------
    name, retry, timeout:
        As for `step`.  A failed attempt rolls its statements back before a retry.

    Examples
    --------
    >>> @transaction
    ... async def record(conn, topic: str) -> int:
    ...     cur = await conn.execute("insert into notes (topic) values (?)", (topic,))
    ...     return cur.rowcount
    >>> record.definition.transaction
    True
    """

    def decorate(target: Callable[..., Any]) -> Step[Any, Any]:
        return _make_step(target, name=name, retry=retry, timeout=timeout, is_transaction=True)

    return decorate(fn) if fn is not None else decorate


@overload
def workflow(fn: Callable[P, Coroutine[Any, Any, R]], /) -> Workflow[P, R]: ...
@overload
def workflow(
    *,
    name: str | None = None,
    queue: Queue | str | None = None,
    timeout: float | None = None,
    on: Any = None,
    schedule: Any = None,
) -> _WorkflowDecorator: ...


def workflow(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue: Queue | str | None = None,
    timeout: float | None = None,
    on: Any = None,
    schedule: Any = None,
) -> Any:
    """Mark an async function as a workflow: its runs are journaled and resumed.

    The workflow is registered under its name when the module is imported, so an
    engine in a process that imported it resumes its unfinished runs.

    Parameters
    ----------
    name:
        The stable name in the journal; defaults to ``module.qualname``.
    queue:
        The default queue its runs are started on.
    timeout:
        Seconds a run may take in this process before it fails with `TimeoutError`.
    on:
        An event source (`durable.Topic`, `durable.sources.RedisStream`, `JetStream`,
        `Objects`): every executing engine that imported the workflow starts one run
        per record (or batch) of it, exactly once (see `durable.sources`).
    schedule:
        A `durable.Cron` or `durable.Every`: executing engines that imported the
        workflow keep a schedule named like the workflow and start one run per tick
        (see `durable.schedules`).

    Examples
    --------
    >>> @workflow(name="examples.hello")
    ... async def hello(who: str) -> str:
    ...     return f"hello {who}"
    >>> hello.name
    'examples.hello'
    """

    def decorate(target: Callable[..., Any]) -> Workflow[Any, Any]:
        if not asyncio.iscoroutinefunction(target):
            raise TypeError(f"@workflow needs an async function, got {target!r}")
        definition = registry.WorkflowDef(
            name=name or registry.default_name(target),
            fn=target,
            queue=queue_name(queue),
            timeout=timeout,
        )
        registry.register_workflow(definition)
        if on is not None:
            sources_registry.register(definition.name, on)
        if schedule is not None:
            schedules_declared.declare(definition.name, schedule)
        return Workflow(definition)

    return decorate(fn) if fn is not None else decorate


# -- durable functions for workflow code -------------------------------------------------


def sleep(seconds: float) -> Coroutine[Any, Any, None]:
    """Sleep durably: the deadline is journaled, so a restart only waits what is left.

    Outside a workflow it is `asyncio.sleep`.

    Examples
    --------
    >>> asyncio.run(sleep(0))
    """
    executor = _executor_for_workflow_code()
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
    executor = _executor_for_workflow_code()
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
    executor = _executor_for_workflow_code()
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
    executor = _executor_for_workflow_code()
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
    executor = _executor_for_workflow_code()
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
    executor = _executor_for_workflow_code()
    if executor is None:
        return True
    return timers.call_patched(executor, patch_id)


def deprecate_patch(patch_id: str) -> None:
    """Mark where `patched(patch_id)` was, once every run takes the new path: runs that
    journaled the patch decision still replay, and new runs journal nothing."""
    executor = _executor_for_workflow_code()
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
