"""Messages between runs and events a run publishes.

A message is a row in the journal's messages table.  `recv` takes the oldest
unconsumed message of its topic and journals it as its entry in one transaction,
so each message is delivered exactly once, in send order.  It takes one only while
it holds every race and timeout around it (`contests`): a `recv` given up on never
consumed anything, and its message stays queued for the next `recv`.  A `send` from a
workflow carries a key made of the sender's id and call number, so a replayed send is
not queued twice; a send to a finished run raises `RunFinished` (journaled, so a replay
raises it again).  Waiting (`waiting.wait_taking`) is woken by the engine when a message
arrives in this process, and by a look at the journal every `poll_interval` otherwise;
a long wait parks the run.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import contests, waiting
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["receive", "send", "set_event"]


async def send(executor: Executor, workflow_id: str, topic: str, value: Any) -> None:
    """`durable.send` from workflow code."""
    fingerprint = codec_mod.fingerprint((workflow_id, topic, value), {})
    call = executor.issue(Kind.SEND, topic, fingerprint, (workflow_id, topic))
    await call.run(lambda call: _send(call, workflow_id, topic, value))


async def _send(call: Call, workflow_id: str, topic: str, value: Any) -> base.EntryRecord:
    data = call.codec.encode(value, what=f"message {topic!r}", workflow_id=call.run_id)
    write = call.journal.send_message(workflow_id, topic, data, key=f"{call.run_id}#{call.seq}")
    try:
        await call.durably(write)
    except (errors.WorkflowNotFound, errors.RunFinished) as undeliverable:
        return call.entry("error", error=call.codec.encode_error(undeliverable))
    call.runs.changed(workflow_id).set()
    return call.entry("ok")


async def receive(executor: Executor, topic: str, timeout: float | None) -> Any:
    """`durable.recv`: the next message of `topic`, or None once `timeout` has passed."""
    fingerprint = codec_mod.fingerprint((timeout,), {})
    call = executor.issue(Kind.RECV, topic, fingerprint, (topic, timeout))
    recorded = call.recorded
    if recorded is not None and recorded.status == "ok" and recorded.attempts != waiting.TIMED_OUT:
        # it took a message before a restart, holding every race around it: it won them
        contests.won()
    return await call.run(
        lambda call: waiting.wait_taking(
            call, lambda c: _take(c, topic), timeout, f"a message on {topic!r}"
        )
    )


def _take(call: Call, topic: str) -> Awaitable[base.EntryRecord | None]:
    """Take the oldest message of `topic` as this call's entry, if one is queued."""
    return waiting.take_entry(
        call, lambda e: call.journal.receive_message(call.owner, call.run_id, topic, e)
    )


async def set_event(executor: Executor, key: str, value: Any) -> None:
    """`durable.set_event`: publish `value` under `key` for `Engine.get_event`."""
    fingerprint = codec_mod.fingerprint((key, value), {})
    call = executor.issue(Kind.EVENT, key, fingerprint, (key,))
    await call.run(lambda call: _set_event(call, key, value))


async def _set_event(call: Call, key: str, value: Any) -> base.EntryRecord:
    data = call.codec.encode(value, what=f"event {key!r}", workflow_id=call.run_id)
    entry = call.entry("ok")
    await call.write_entry(
        entry, lambda e: call.journal.set_event(call.owner, call.run_id, key, data, e)
    )
    call.runs.changed(call.run_id).set()
    return entry
