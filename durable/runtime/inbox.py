"""`recv_any` and request/reply (`recv_request`, `Request.reply`, `Request.reject`).

`recv_any` is `recv` over several topics: it takes the oldest message of any of them
(send order across the topics) and journals it with the topic's position (its entry's
``attempts``, from 1; 0 when the timeout passed), so a replay hands back the same
(topic, value) and consumes nothing.

A request is taken by a ``request`` entry (its value is the entry's output) and
answered by one ``reply`` or ``reject`` entry, each written in the transaction that
records the answer on the request.  A crash between the two leaves the request taken
and unanswered: the restarted run replays the ``request`` entry, gets the same request,
and its live answer is the one written; a replayed answer writes nothing.  The caller
(`durable.requests.call`) reads the answer from the request's row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import contests, context, waiting
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["Request", "receive_any", "receive_request"]


async def _receive(call: Call, take: waiting.Take, timeout: float | None, what: str) -> Any:
    """Run a wait call; its value and its entry (journaled now or before)."""
    recorded = call.recorded
    if recorded is not None and recorded.status == "ok" and recorded.attempts != waiting.TIMED_OUT:
        contests.won()  # it took something before a restart, holding every race around it
    taken: list[base.EntryRecord] = []

    async def live(call: Call) -> base.EntryRecord:
        entry = await waiting.wait_taking(call, take, timeout, what)
        taken.append(entry)
        return entry

    value = await call.run(live)
    return value, recorded if recorded is not None else taken[0]


async def receive_any(
    executor: Executor, topics: Sequence[str], timeout: float | None
) -> tuple[str | None, Any]:
    """`durable.recv_any`: (topic, value) of the oldest message of any of `topics`."""
    wanted = list(topics)
    if not wanted or not all(isinstance(topic, str) for topic in wanted):
        raise TypeError(f"durable.recv_any() takes one or more topic names (str), got {topics!r}")
    fingerprint = codec_mod.fingerprint((wanted, timeout), {})
    call = executor.issue(Kind.RECV_ANY, "|".join(wanted), fingerprint, (wanted, timeout))

    def take(call: Call) -> Awaitable[base.EntryRecord | None]:
        return waiting.take_entry(
            call, lambda e: call.journal.receive_any(call.owner, call.run_id, wanted, e)
        )

    value, entry = await _receive(call, take, timeout, f"a message on {wanted!r}")
    if entry.attempts == waiting.TIMED_OUT:
        return None, None
    return wanted[entry.attempts - 1], value


async def receive_request(executor: Executor, name: str, timeout: float | None) -> Request | None:
    """`durable.recv_request`: the oldest request `name` sent to this run."""
    fingerprint = codec_mod.fingerprint((timeout,), {})
    call = executor.issue(Kind.REQUEST, name, fingerprint, (name, timeout))

    def take(call: Call) -> Awaitable[base.EntryRecord | None]:
        return waiting.take_entry(
            call, lambda e: call.journal.take_request(call.owner, call.run_id, name, e)
        )

    value, entry = await _receive(call, take, timeout, f"request {name!r}")
    if entry.attempts == waiting.TIMED_OUT:
        return None
    return Request(executor, name, value, (entry.seq, entry.started_at))


class Request:
    """A request sent to this run with `Engine.request`, taken by `durable.recv_request`.

    Answer it once, from the workflow's code: `reply` hands `Engine.request` a value,
    `reject` makes it raise `durable.Rejected`.  Both are journaled: a replay answers
    nothing twice.

    Attributes
    ----------
    name:
        The request's name (the one `recv_request` waited for).
    value:
        What the caller sent.
    """

    __slots__ = ("_answered", "_executor", "_taken", "name", "value")

    def __init__(self, executor: Executor, name: str, value: Any, taken: tuple[int, float]) -> None:
        self._executor = executor
        self._taken = taken  # the receiving entry's (seq, started_at): the request's key
        self._answered = False
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"<Request {self.name!r} of run {self._executor.run.id!r}: {self.value!r}>"

    async def reply(self, value: Any) -> None:
        """Answer the request with `value`: the caller's `Engine.request` returns it."""
        await self._answer(Kind.REPLY, "replied", value)

    async def reject(self, message: str) -> None:
        """Refuse the request: the caller's `Engine.request` raises `durable.Rejected`
        with `message`.  Only the rejection is journaled."""
        await self._answer(Kind.REJECT, "rejected", str(message))

    async def _answer(self, kind: Kind, state: str, value: Any) -> None:
        executor = self._executor
        if context.workflow_code.get() is not executor:
            raise errors.DurableError(
                f"request {self.name!r} of run {executor.run.id!r} can only be answered from "
                "that run's workflow code (not from a step, another run or outside)",
                workflow_id=executor.run.id,
            )
        if self._answered:
            raise errors.RequestAnswered(workflow_id=executor.run.id, name=self.name)
        self._answered = True
        fingerprint = codec_mod.fingerprint((self._taken[0], value), {})
        call = executor.issue(kind, self.name, fingerprint, (self.name,))
        await call.run(lambda call: _write_answer(call, self._taken, state, value))


async def _write_answer(
    call: Call, taken: tuple[int, float], state: str, value: Any
) -> base.EntryRecord:
    what = f"the answer to request {call.name!r}"
    data = call.codec.encode(value, what=what, workflow_id=call.run_id)
    entry = call.entry("ok", output=data)
    await call.write_entry(
        entry, lambda e: call.journal.answer_request(call.owner, taken, state, data, e)
    )
    call.runs.changed(call.run_id).set()  # a caller in this process waits on the run's news
    return entry
