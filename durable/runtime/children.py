"""Child workflows: started from workflow code, journaled as one entry of the parent.

A child gets a deterministic id (``<parent id>.<seq>``, unless one is given), the
parent's root and metadata, and is created idempotently, so a parent resumed after a
crash finds the child it started instead of starting another.  The child's outcome
(result, error or cancellation) becomes the parent's entry when the child finishes;
on replay that entry answers the call and the child is not started again.  A child a
race or timeout gives up on is cancelled, and its ``cancelled`` outcome is the entry.

A detached child (``start_child(..., detached=True)``) is marked so in its row: it keeps
its parent and root as lineage, but a cancellation of the parent does not reach it, and
the parent's entry for it is written as soon as it exists (its output: the child's id),
so the parent neither waits for it nor learns its outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable.journal import base
from durable.runtime import generations, registry, signals
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["ChildHandle", "call_child", "start_child"]


class ChildHandle:
    """A child run started with `durable.start_child`: await it (or `.result()`) for its
    result, `.cancel()` it.  Its `.id` is the child's workflow id."""

    def __init__(
        self, call: Call, child_id: str, created: asyncio.Future[None] | None = None
    ) -> None:
        self._call = call
        self.id = child_id
        # taken now: the sequencer forgets a waiter once it has delivered to it
        self._outcome = call.outcome()
        # done once the child's row exists (None: it existed when the call was issued)
        self._created = created

    async def _exists(self) -> None:
        if self._created is not None:
            await asyncio.shield(self._created)

    def __repr__(self) -> str:
        return f"<durable child {self.id!r}>"

    async def result(self) -> Any:
        """The child's result; raises `WorkflowFailed` or `Cancelled` as `Run.result` does."""
        call = self._call
        try:
            entry = await asyncio.shield(self._outcome)
        except asyncio.CancelledError as cancel:
            if signals.journaled_cancel(cancel):
                # a race or a timeout gave up on the child: it is cancelled too, and the
                # parent goes on once the child's outcome is journaled and delivered in its
                # turn (as a replay, cancelled the same way, waits for it too)
                await self._exists()
                await asyncio.shield(call.machinery(call.runs.cancel(self.id)))
                await self._outcome
            raise
        return call.decode(entry)

    def __await__(self) -> Generator[Any, None, Any]:
        return self.result().__await__()

    async def cancel(self) -> None:
        """Cancel the child run (and its own children)."""
        await self._exists()
        await self._call.runs.cancel(self.id)


async def _start(
    call: Call,
    child_id: str,
    definition: registry.WorkflowDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    detached: bool,
) -> ChildHandle:
    if call.recorded is not None:
        handle = ChildHandle(call, child_id)
        call.replay_now()
        return handle
    from durable.runtime.executor import encode_input

    data = encode_input(call.codec, args, kwargs, child_id)
    # The child is created in the background: returning to workflow code only after a
    # database round trip here, but at once on a replay that finds the outcome journaled,
    # would let other branches number their calls differently on the two paths.
    created: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    handle = ChildHandle(call, child_id, created)
    call.spawn(_create_and_watch(call, child_id, definition, data, created, detached))
    return handle


async def _create_and_watch(
    call: Call,
    child_id: str,
    definition: registry.WorkflowDef,
    data: bytes,
    created: asyncio.Future[None],
    detached: bool,
) -> None:
    """Create the child run, wait for it to finish, then journal its outcome as the
    parent's entry (a detached child's entry, its id, as soon as it exists)."""
    start = call.runs.start_child(
        call.executor, call.seq, child_id, definition, data, detached=detached
    )
    try:
        await call.machinery(call.durably(start))
    except signals.RunAborted:
        return  # the parent stops executing here (journal unusable, lease lost)
    except Exception as exc:  # unexpected: stop the parent here rather than leave it waiting
        call.abort(exc)
        return
    finally:
        if not created.done():
            created.set_result(None)
    if detached:
        output = call.codec.encode(child_id, what="a detached child's id", workflow_id=call.run_id)
        await call.commit(call.entry(child_id=child_id, output=output))
        return
    with call.waiting_outside():
        record = await call.runs.wait_finished(child_id)
    fields: dict[str, Any]
    if record.status is base.Status.SUCCEEDED:
        fields = {"status": "ok", "output": record.output}
    elif record.status is base.Status.FAILED:
        fields = {"status": "error", "error": record.error}
    else:
        fields = {"status": "cancelled"}
    await call.commit(call.entry(child_id=child_id, **fields))


def start_child(
    executor: Executor,
    definition: registry.WorkflowDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    workflow_id: str | None = None,
    detached: bool = False,
) -> Coroutine[Any, Any, ChildHandle]:
    """Number the call now; the returned coroutine starts the child and gives its handle."""
    fingerprint = codec_mod.fingerprint(args, kwargs)
    call = executor.issue(Kind.CHILD, definition.name, fingerprint, (*args, *kwargs))
    child_id = workflow_id or f"{generations.child_prefix(executor)}.{call.seq}"
    if call.recorded is not None and call.recorded.child_id:
        child_id = call.recorded.child_id
    return _start(call, child_id, definition, args, kwargs, detached)


async def _call(handle_coro: Coroutine[Any, Any, ChildHandle]) -> Any:
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
