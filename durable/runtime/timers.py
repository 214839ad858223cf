"""Durable calls answered by time and chance: `sleep` (a journaled deadline), and
`now`, `uuid4`, `random` and `patched`, answered at once and journaled with the run's
next write, so nothing that depends on their values is journaled without them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable.journal import base
from durable.runtime import context

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["call_deprecate_patch", "call_instant", "call_patched", "call_sleep"]


def call_sleep(executor: Executor, seconds: float) -> Coroutine[Any, Any, None]:
    """`durable.sleep`: a timer whose deadline is journaled when it is set."""
    fingerprint = codec_mod.fingerprint((float(seconds),), {})
    seq, recorded = executor._issue("sleep", "sleep", fingerprint)
    return _sleep(executor, seq, recorded, seconds, fingerprint)


async def _sleep(
    executor: Executor,
    seq: int,
    recorded: base.EntryRecord | None,
    seconds: float,
    fingerprint: str,
) -> None:
    if recorded is not None:
        executor._result(await executor.sequencer.replayed(seq, recorded))
        return
    started = time.time()
    executor.outstanding += 1
    token = context.workflow_code.set(None)
    try:
        wake_at = executor.timers.pop(seq, None)
        if wake_at is None:
            wake_at = started + max(0.0, float(seconds))
            # fixed before the wait, so a restart resumes the remaining time
            await executor.write_timer(seq, wake_at)
        long_sleep = wake_at - time.time() >= 1.0 and executor.outstanding == 1
        if long_sleep:
            await executor._set_status(base.Status.SLEEPING, wake_at)
            threshold = executor.host.runs.suspend_sleeps
            if threshold is not None and wake_at - time.time() >= threshold:
                raise executor.suspend(f"sleeping until {wake_at:.3f}")
        await asyncio.sleep(max(0.0, wake_at - time.time()))
        if long_sleep:
            await executor._set_status(base.Status.RUNNING, None)
    finally:
        context.workflow_code.reset(token)
        executor.outstanding -= 1
    await executor._journal(
        executor._entry(seq, "sleep", "sleep", fingerprint, started, status="ok")
    )


def call_instant(
    executor: Executor, kind: str, produce: Callable[[], Any], name: str | None = None
) -> Any:
    """`now`, `uuid4`, `random`: answered at once, journaled in the same write order."""
    name = name or kind
    seq, recorded = executor._issue(kind, name, "")
    if recorded is not None:
        return executor._result(recorded)
    value = produce()
    now = time.time()
    entry = base.EntryRecord(
        run_id=executor.run.id,
        seq=seq,
        ord=executor.sequencer.reserve_instant(),
        kind=kind,
        name=name,
        status="ok",
        fingerprint="",
        output=executor.host.codec.encode(value, what=kind, workflow_id=executor.run.id),
        started_at=now,
        finished_at=now,
    )
    executor.instants.append(entry)
    return value


def call_patched(executor: Executor, patch_id: str) -> bool:
    """`durable.patched`: True past the end of this run's journal (the new code path),
    False when the journal was written by code without the patch."""
    seq = executor.next_seq
    recorded = executor.entries.get(seq)
    if recorded is not None:
        if recorded.kind != "patch" or recorded.name != patch_id:
            return False  # the journal predates the patch: no call number is used
        executor._issue("patch", patch_id, "")
        return bool(executor._result(recorded))
    if seq <= executor.journal_end:
        return False
    call_instant(executor, "patch", lambda: True, name=patch_id)
    return True


def call_deprecate_patch(executor: Executor, patch_id: str) -> None:
    """`durable.deprecate_patch`: skip the marker a patched run journaled, if any."""
    recorded = executor.entries.get(executor.next_seq)
    if recorded is not None and recorded.kind == "patch" and recorded.name == patch_id:
        executor._issue("patch", patch_id, "")
