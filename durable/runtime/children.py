"""Child workflows: started from workflow code, journaled as one entry of the parent.

A child gets a deterministic id (``<parent id>.<seq>``, unless one is given), the
parent's root and metadata, and is created idempotently, so a parent resumed after a
crash finds the child it started instead of starting another.  The child's outcome
(result, error or cancellation) becomes the parent's entry when the child finishes;
on replay that entry answers the call and the child is not started again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable.journal import base
from durable.runtime import registry, signals

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["ChildHandle", "call_child", "start_child"]


class ChildHandle:
    """A child run started with `durable.start_child`: await it (or `.result()`) for its
    result, `.cancel()` it.  Its `.id` is the child's workflow id."""

    def __init__(
        self,
        executor: Executor,
        seq: int,
        child_id: str,
        created: asyncio.Future[None] | None = None,
    ) -> None:
        self._executor = executor
        self._seq = seq
        self.id = child_id
        # taken now: the sequencer forgets a waiter once it has delivered to it
        self._outcome = executor.sequencer.waiter(seq)
        # done once the child's row exists (None: it existed when the call was issued)
        self._created = created

    async def _exists(self) -> None:
        if self._created is not None:
            await asyncio.shield(self._created)

    def __repr__(self) -> str:
        return f"<durable child {self.id!r}>"

    async def result(self) -> Any:
        """The child's result; raises `WorkflowFailed` or `Cancelled` as `Run.result` does."""
        executor = self._executor
        try:
            entry = await asyncio.shield(self._outcome)
        except asyncio.CancelledError as cancel:
            if signals.journaled_cancel(cancel):
                # a race or a timeout gave up on the child: it is cancelled too, and the
                # parent goes on once the child's outcome is journaled and delivered in its
                # turn (as a replay, cancelled the same way, waits for it too)
                await self._exists()
                await asyncio.shield(executor.machinery(executor.host.runs.cancel(self.id)))
                await self._outcome
            raise
        return executor._result(entry)

    def __await__(self) -> Generator[Any, None, Any]:
        return self.result().__await__()

    async def cancel(self) -> None:
        """Cancel the child run (and its own children)."""
        await self._exists()
        await self._executor.host.runs.cancel(self.id)


def _issue(
    executor: Executor,
    definition: registry.WorkflowDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    workflow_id: str | None,
) -> tuple[int, base.EntryRecord | None, str]:
    fingerprint = codec_mod.fingerprint(args, kwargs)
    seq, recorded = executor._issue("child", definition.name, fingerprint, (*args, *kwargs))
    child_id = workflow_id or f"{executor.run.id}.{seq}"
    if recorded is not None and recorded.child_id:
        child_id = recorded.child_id
    return seq, recorded, child_id


async def _start(
    executor: Executor,
    seq: int,
    recorded: base.EntryRecord | None,
    child_id: str,
    definition: registry.WorkflowDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> ChildHandle:
    if recorded is not None:
        handle = ChildHandle(executor, seq, child_id)
        executor.sequencer.replayed(seq, recorded)
        return handle
    from durable.runtime.executor import encode_input

    data = encode_input(executor.host.codec, args, kwargs, child_id)
    # The child is created in the background: returning to workflow code only after a
    # database round trip here, but at once on a replay that finds the outcome journaled,
    # would let other branches number their calls differently on the two paths.
    created: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    handle = ChildHandle(executor, seq, child_id, created)
    fingerprint = codec_mod.fingerprint(args, kwargs)
    executor.spawn(
        _create_and_watch(executor, seq, child_id, definition, data, fingerprint, created)
    )
    return handle


async def _create_and_watch(
    executor: Executor,
    seq: int,
    child_id: str,
    definition: registry.WorkflowDef,
    data: bytes,
    fingerprint: str,
    created: asyncio.Future[None],
) -> None:
    """Create the child run, wait for it to finish, then journal its outcome as the
    parent's entry."""
    started = time.time()
    try:
        await executor.machinery(
            executor._durably(
                executor.host.runs.start_child(executor, seq, child_id, definition, data)
            )
        )
    except signals.RunAborted:
        return  # the parent stops executing here (journal unusable, lease lost)
    except Exception as exc:  # unexpected: stop the parent here rather than leave it waiting
        executor._abort(exc)
        return
    finally:
        if not created.done():
            created.set_result(None)
    watcher = asyncio.current_task()
    assert watcher is not None
    executor.waiting.add(watcher)
    try:
        record = await executor.host.runs.wait_finished(child_id)
    finally:
        executor.waiting.discard(watcher)
    fields: dict[str, Any]
    if record.status is base.Status.SUCCEEDED:
        fields = {"status": "ok", "output": record.output}
    elif record.status is base.Status.FAILED:
        fields = {"status": "error", "error": record.error}
    else:
        fields = {"status": "cancelled"}
    entry = executor._entry(
        seq, "child", definition.name, fingerprint, started, child_id=child_id, **fields
    )
    await executor._commit_outcome(entry)


def start_child(
    executor: Executor,
    definition: registry.WorkflowDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    workflow_id: str | None = None,
) -> Coroutine[Any, Any, ChildHandle]:
    """Number the call now; the returned coroutine starts the child and gives its handle."""
    seq, recorded, child_id = _issue(executor, definition, args, kwargs, workflow_id)
    return _start(executor, seq, recorded, child_id, definition, args, kwargs)


async def _call(handle_coro: Any) -> Any:
    handle = await handle_coro
    return await handle.result()


def call_child(
    executor: Executor,
    definition: registry.WorkflowDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """``await child(...)`` inside a workflow: start the child and wait for its result."""
    return _call(start_child(executor, definition, args, kwargs))
