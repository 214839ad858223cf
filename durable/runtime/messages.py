"""Messages between runs and events a run publishes.

A message is a row in the journal's messages table.  `recv` takes the oldest
unconsumed message of its topic and journals it as its entry in one transaction,
so each message is delivered exactly once, in send order.  A `send` from a
workflow carries a key made of the sender's id and call number, so a replayed
send is not queued twice.  Waiting is woken by the engine when a message arrives
in this process, and by a look at the journal every `poll_interval` otherwise.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import context

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["receive", "send", "set_event"]


async def send(executor: Executor, workflow_id: str, topic: str, value: Any) -> None:
    """`durable.send` from workflow code."""
    fingerprint = codec_mod.fingerprint((workflow_id, topic, value), {})
    seq, recorded = executor._issue("send", topic, fingerprint, (workflow_id, topic))
    if recorded is not None:
        executor._result(await executor.sequencer.replayed(seq, recorded))
        return
    started = time.time()
    data = executor.host.codec.encode(value, what=f"message {topic!r}", workflow_id=executor.run.id)
    token = context.workflow_code.set(None)
    try:
        await executor.host.journal.send_message(
            workflow_id, topic, data, key=f"{executor.run.id}#{seq}"
        )
        fields: dict[str, Any] = {"status": "ok"}
    except errors.WorkflowNotFound as missing:
        fields = {"status": "error", "error": executor.host.codec.encode_error(missing)}
    except (base.LeaseLost, errors.JournalError) as exc:
        raise executor._abort(exc) from exc
    finally:
        context.workflow_code.reset(token)
    executor.host.runs.changed(workflow_id).set()
    await executor._journal(executor._entry(seq, "send", topic, fingerprint, started, **fields))


async def receive(executor: Executor, topic: str, timeout: float | None) -> Any:
    """`durable.recv`: the next message of `topic`, or None once `timeout` has passed."""
    fingerprint = codec_mod.fingerprint((timeout,), {})
    seq, recorded = executor._issue("recv", topic, fingerprint, (topic, timeout))
    if recorded is not None:
        return executor._result(await executor.sequencer.replayed(seq, recorded))
    started = time.time()
    token = context.workflow_code.set(None)
    try:
        entry = await _wait_for_message(executor, seq, topic, timeout, fingerprint, started)
    finally:
        context.workflow_code.reset(token)
    return executor._result(await executor.sequencer.committed(seq, entry))


async def _deadline(executor: Executor, seq: int, timeout: float | None) -> float | None:
    if timeout is None:
        return None
    wake_at = executor.timers.pop(seq, None)
    if wake_at is None:
        wake_at = time.time() + max(0.0, timeout)
        await executor.write_timer(seq, wake_at)
    return wake_at


async def _wait_for_message(
    executor: Executor,
    seq: int,
    topic: str,
    timeout: float | None,
    fingerprint: str,
    started: float,
) -> base.EntryRecord:
    """Poll-and-wait until a message is taken (and journaled) or the deadline passes."""
    journal, runs = executor.host.journal, executor.host.runs
    wake_at = await _deadline(executor, seq, timeout)
    while True:
        runs.changed(executor.run.id).clear()
        entry = executor._entry(seq, "recv", topic, fingerprint, started, status="ok")
        entry.ord = executor.sequencer.reserve([seq])
        try:
            taken = await journal.receive_message(
                executor.host.owner, executor.run.id, topic, entry
            )
        except (base.LeaseLost, errors.JournalError) as exc:
            executor.sequencer.abandon([entry.seq])
            raise executor._abort(exc) from exc
        if taken is not None:
            return taken
        executor.sequencer.abandon([entry.seq])
        remaining = None if wake_at is None else wake_at - time.time()
        if remaining is not None and remaining <= 0:
            entry = executor._entry(
                seq,
                "recv",
                topic,
                fingerprint,
                started,
                status="ok",
                output=executor.host.codec.encode(None),
            )
            entry.ord = executor.sequencer.reserve([seq])
            try:
                await journal.append_entries(
                    executor.host.owner, [*executor._take_instants(), entry]
                )
            except (base.LeaseLost, errors.JournalError) as exc:
                executor.sequencer.abandon([entry.seq])
                raise executor._abort(exc) from exc
            return entry
        poll = runs.poll_interval if runs.poll_interval > 0 else 0.5
        wait = poll if remaining is None else min(poll, remaining)
        await runs.wait_changed(executor.run.id, max(wait, 0.01))


async def set_event(executor: Executor, key: str, value: Any) -> None:
    """`durable.set_event`: publish `value` under `key` for `Engine.get_event`."""
    fingerprint = codec_mod.fingerprint((key, value), {})
    seq, recorded = executor._issue("event", key, fingerprint, (key,))
    if recorded is not None:
        executor._result(await executor.sequencer.replayed(seq, recorded))
        return
    data = executor.host.codec.encode(value, what=f"event {key!r}", workflow_id=executor.run.id)
    entry = executor._entry(seq, "event", key, fingerprint, time.time(), status="ok")
    entry.ord = executor.sequencer.reserve([seq])
    token = context.workflow_code.set(None)
    try:
        if executor.instants:
            await executor.host.journal.append_entries(
                executor.host.owner, executor._take_instants()
            )
        await executor.host.journal.set_event(
            executor.host.owner, executor.run.id, key, data, entry
        )
    except (base.LeaseLost, errors.JournalError) as exc:
        executor.sequencer.abandon([entry.seq])
        raise executor._abort(exc) from exc
    finally:
        context.workflow_code.reset(token)
    executor.host.runs.changed(executor.run.id).set()
    executor._result(await executor.sequencer.committed(seq, entry))
