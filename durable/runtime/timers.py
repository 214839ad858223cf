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
from durable.runtime import signals, waiting
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["call_deprecate_patch", "call_instant", "call_patched", "call_sleep"]


def call_sleep(executor: Executor, seconds: float) -> Coroutine[Any, Any, None]:
    """`durable.sleep`: a timer whose deadline is journaled when it is set."""
    fingerprint = codec_mod.fingerprint((float(seconds),), {})
    call = executor.issue(Kind.SLEEP, "sleep", fingerprint)
    return call.run(lambda call: _sleep(call, float(seconds)))


async def _sleep(call: Call, seconds: float) -> base.EntryRecord:
    with call.in_flight():
        wake_at = await call.set_deadline(seconds)  # before the wait: a restart keeps it
        long_sleep = wake_at - time.time() >= 1.0 and call.alone
        if long_sleep:
            await call.set_status(base.Status.SLEEPING, wake_at)
            threshold = call.runs.suspend_sleeps
            # never inside an undecided race or timeout: it would wake after their deadline
            far = threshold is not None and wake_at - time.time() >= threshold
            if far and not waiting.contested():
                raise call.suspend(f"sleeping until {wake_at:.3f}")
        try:
            await asyncio.sleep(call.remaining(wake_at, seconds))
        except asyncio.CancelledError as cancel:
            if long_sleep and signals.journaled_cancel(cancel):
                await call.set_status(base.Status.RUNNING, None)  # a race or timeout won
            raise
        if long_sleep:
            await call.set_status(base.Status.RUNNING, None)
    return call.entry("ok")


def call_instant(
    executor: Executor, kind: Kind, produce: Callable[[], Any], name: str | None = None
) -> Any:
    """`now`, `uuid4`, `random`: answered at once, journaled in the same write order."""
    call = executor.issue(kind, name or kind.value, "")
    if call.recorded is not None:
        return call.decode(call.recorded)
    value = produce()
    call.record_instant(value)
    return value


def call_patched(executor: Executor, patch_id: str) -> bool:
    """`durable.patched`: True past the end of this run's journal (the new code path),
    False when the journal was written by code without the patch."""
    recorded = executor.peek()
    if recorded is not None:
        if recorded.kind != Kind.PATCH or recorded.name != patch_id:
            return False  # the journal predates the patch: no call number is used
        call = executor.issue(Kind.PATCH, patch_id, "")
        return bool(call.decode(recorded))
    if executor.next_seq <= executor.journal_end:
        return False
    call_instant(executor, Kind.PATCH, lambda: True, name=patch_id)
    return True


def call_deprecate_patch(executor: Executor, patch_id: str) -> None:
    """`durable.deprecate_patch`: skip the marker a patched run journaled, if any."""
    recorded = executor.peek()
    if recorded is not None and recorded.kind == Kind.PATCH and recorded.name == patch_id:
        executor.issue(Kind.PATCH, patch_id, "")
