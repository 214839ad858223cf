"""The names users write inside their code: `@workflow`, `@step`, `@transaction` and
`Queue`, with the durable functions a workflow calls (`sleep`, `now`, `recv`, ...),
which live in `durable.workflow_calls` and are re-exported here.  `Engine` and `Run`
live in `durable.engine`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from durable import errors, workflow_calls
from durable.runtime import (
    children,
    racing,
    registry,
    steps,
)
from durable.runtime.retry import NO_RETRY, Retry
from durable.schedules import declared as schedules_declared
from durable.sources import registry as sources_registry
from durable.workflow_calls import (
    close_stream,
    context,
    continue_as_new,
    deprecate_patch,
    heartbeat,
    now,
    patched,
    random,
    recv,
    recv_any,
    recv_request,
    send,
    set_event,
    sleep,
    start_child,
    timeout,
    uuid4,
    write_stream,
)

__all__ = [
    "ChildHandle",
    "Queue",
    "Step",
    "Workflow",
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

ChildHandle = children.ChildHandle
race = racing.race

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


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
        executor = workflow_calls.executor_for_workflow_code()
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
        executor = workflow_calls.executor_for_workflow_code()
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
