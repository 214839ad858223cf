"""The caller's side of request/reply: `Engine.request` (and the HTTP API's requests).

It needs none of the workflow's code: the request is a row of the run's inbox, and the
answer is read from that row.  The caller queues the request (idempotent per
`request_id`), then waits for news of the run (this engine's own, and the journal's
notifications) and looks at the row, until it is answered, the run finishes without
answering it, or the timeout passes.

A timeout leaves the request queued (or taken, if the run has it): the run answers it
all the same, and a call with the same `request_id` gets that answer.  A caller whose
wait is cancelled (``asyncio.CancelledError``) withdraws the request if the run has not
taken it yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal import backoff, base
from durable.journal.requests import RequestState

if TYPE_CHECKING:
    from durable.engine import Engine

__all__ = ["Outcome", "call", "outcome"]


class Outcome:
    """A request's answer as the HTTP API reports it: `state` and the encoded answer."""

    __slots__ = ("answer", "key", "state")

    def __init__(self, key: str, state: str, answer: bytes | None) -> None:
        self.key = key
        self.state = state  # "replied", "rejected", or "queued"/"taken" (no answer in time)
        self.answer = answer


async def call(
    engine: Engine,
    workflow_id: str,
    name: str,
    value: Any,
    *,
    timeout: float | None,
    request_id: str | None,
) -> Any:
    """`Engine.request`: the reply's value; `Rejected`, `RunFinished`, `TimeoutError`."""
    done = await outcome(engine, workflow_id, name, value, timeout=timeout, request_id=request_id)
    if done.state == "replied":
        assert done.answer is not None
        return engine.codec.decode(
            done.answer, what=f"the reply to request {name!r}", workflow_id=workflow_id
        )
    if done.state == "rejected":
        assert done.answer is not None
        reason = engine.codec.decode(done.answer, what="a rejection", workflow_id=workflow_id)
        raise errors.Rejected(workflow_id=workflow_id, name=name, reason=str(reason))
    raise TimeoutError(
        f"run {workflow_id!r} did not answer request {name!r} within {timeout}s; the "
        f"request stays queued and will be answered: call again with "
        f"request_id={done.key!r} to wait for its answer"
    )


async def outcome(
    engine: Engine,
    workflow_id: str,
    name: str,
    value: Any,
    *,
    timeout: float | None,
    request_id: str | None,
) -> Outcome:
    """Send the request and wait at most `timeout` seconds for its answer; an `Outcome`
    whose state is ``queued`` or ``taken`` when none came in time."""
    key = request_id or uuid.uuid4().hex
    data = engine.codec.encode(value, what=f"request {name!r}", workflow_id=workflow_id)
    runner = engine.scheduler
    since = runner.changed(workflow_id).count
    state = await engine.journal.send_request(workflow_id, name, data, key)
    runner.changed(workflow_id).set()  # a run of this engine waiting in recv_request
    try:
        return await _wait(engine, workflow_id, name, key, state, since, timeout)
    except asyncio.CancelledError:
        with contextlib.suppress(errors.JournalError):
            await asyncio.shield(engine.journal.withdraw_request(workflow_id, key))
        raise


async def _wait(
    engine: Engine,
    workflow_id: str,
    name: str,
    key: str,
    state: RequestState,
    since: int,
    timeout: float | None,
) -> Outcome:
    runner = engine.scheduler
    deadline = None if timeout is None else time.monotonic() + timeout
    # woken by this engine's news and the journal's notifications: the look is a fallback
    waits = backoff.Backoff(0.002, 1.0 if engine.journal.notifies_changes else 0.1)
    while True:
        if state.state in ("replied", "rejected"):
            return Outcome(key, state.state, state.answer)
        if base.Status(state.run_status) in base.TERMINAL:
            raise errors.RunFinished(
                f"run {workflow_id!r} finished ({state.run_status}) without answering "
                f"request {name!r}; start a new run (or `engine.resume({workflow_id!r})` a "
                "failed or cancelled one) and send the request again",
                workflow_id=workflow_id,
                status=state.run_status,
            )
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return Outcome(key, state.state or "queued", None)
        wait = waits.next() if left is None else min(waits.next(), left)
        await runner.wait_changed(workflow_id, wait, since=since)
        since = runner.changed(workflow_id).count  # before the read: no news is missed
        state = await engine.journal.request_state(workflow_id, key)
