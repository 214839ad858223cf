"""`durable.race` and `durable.timeout`: giving up on work, durably.

Both cancel work with an `asyncio.CancelledError` whose message says why
(`signals.RACE_LOST`, `signals.TIMED_OUT`); steps and children cancelled that way
journal a ``cancelled`` entry, so a replay gives up on the same work at the same
point instead of running it again.  The winner of a race and the firing (or not)
of a timeout are journaled entries too, delivered in completion order like any
result: a replay makes the same decision even if timings differ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable.journal import base
from durable.runtime import context, signals

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["Timeout", "race"]


def _current() -> Executor | None:
    executor = context.workflow_code.get()
    if executor is not None and context.current_run.get() is executor:
        return executor
    return None


async def _plain_race(tasks: Sequence[asyncio.Future[Any]]) -> Any:
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    winner = next(task for task in tasks if task in done)
    for task in pending:
        task.cancel(signals.RACE_LOST)
    await asyncio.gather(*pending, return_exceptions=True)
    return winner


async def race(*awaitables: Awaitable[Any]) -> Any:
    """Await all; the first to finish wins and the others are cancelled.

    Running steps get `asyncio.CancelledError` inside their body, child workflows
    become CANCELLED, and the journal records which won.  The winner's result is
    returned (or its exception raised).
    """
    if not awaitables:
        raise ValueError("durable.race needs at least one awaitable")
    executor = _current()
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    if executor is None:
        return (await _plain_race(tasks)).result()
    seq, recorded = executor._issue(
        "race", "race", codec_mod.fingerprint((len(tasks),), {}), (len(tasks),)
    )
    if recorded is not None:
        # the journal names the winner: wait for it, whatever the others do meanwhile
        index = executor._result(recorded)
        if not isinstance(index, int) or not 0 <= index < len(tasks):
            from durable import errors

            raise executor._diverge(
                errors.NonDeterminismError(
                    workflow_id=executor.run.id,
                    seq=seq,
                    expected=f"a race of {len(tasks)} awaitables",
                    recorded=f"a race won by awaitable #{index}",
                )
            )
        outcome = executor.sequencer.replayed(seq, recorded)
        winner = tasks[index]
        await asyncio.wait([winner])
        for task in tasks:
            if task is not winner and not task.done():
                task.cancel(signals.RACE_LOST)
        await asyncio.gather(*(t for t in tasks if t is not winner), return_exceptions=True)
        await outcome
    else:
        winner = await _plain_race(tasks)
        index = tasks.index(winner)
        output = executor.host.codec.encode(index, what="race winner")
        started = time.time()
        fingerprint = codec_mod.fingerprint((len(tasks),), {})
        await executor._journal(
            executor._entry(seq, "race", "race", fingerprint, started, status="ok", output=output)
        )
    return winner.result()


class Timeout:
    """``async with durable.timeout(seconds):`` cancels the work inside when the
    (journaled) deadline passes, and raises `TimeoutError`.  A restart does not reset
    the clock.  Outside a workflow it is `asyncio.timeout`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self._executor: Executor | None = None
        self._plain: asyncio.Timeout | None = None
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[Any] | None = None
        self._seq = -1
        self._fired = False
        self._exited = False
        self._firing = False
        self._armed = False  # the deadline is in the journal
        self._future: asyncio.Future[Any] | None = None

    async def __aenter__(self) -> Timeout:
        executor = _current()
        if executor is None:
            self._plain = asyncio.timeout(self.seconds)
            await self._plain.__aenter__()
            return self
        self._executor = executor
        self._task = asyncio.current_task()
        fingerprint = codec_mod.fingerprint((self.seconds,), {})
        self._seq, recorded = executor._issue("timeout", "timeout", fingerprint, (self.seconds,))
        if recorded is not None:
            future = executor.sequencer.replayed(self._seq, recorded)
        else:
            wake_at = executor.timers.pop(self._seq, None)
            new = wake_at is None
            if wake_at is None:
                wake_at = time.time() + self.seconds
            # the deadline is written in the background: awaiting it here (but not on a
            # replay that finds it) would change how other branches number their calls
            self._watcher = executor.spawn(self._watch(wake_at, new))
            future = executor.sequencer.waiter(self._seq)
        future.add_done_callback(self._delivered)
        self._future = future
        return self

    def _entry(self, fired: bool) -> base.EntryRecord:
        assert self._executor is not None
        fingerprint = codec_mod.fingerprint((self.seconds,), {})
        output = self._executor.host.codec.encode(fired, what="timeout")
        return self._executor._entry(
            self._seq, "timeout", "timeout", fingerprint, time.time(), status="ok", output=output
        )

    async def _watch(self, wake_at: float, new: bool) -> None:
        assert self._executor is not None
        executor = self._executor
        if new:
            try:
                await executor.machinery(executor.write_timer(self._seq, wake_at))
            except signals.RunAborted:
                return  # the run stops executing here
        self._armed = True
        if self._exited:
            return
        await asyncio.sleep(max(0.0, wake_at - time.time()))
        if self._exited:
            return
        self._firing = True
        await executor._commit_outcome(self._entry(True))

    def _delivered(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or self._exited or self._executor is None:
            return
        if self._executor._result(future.result()) and self._task is not None:
            self._fired = True
            self._task.cancel(signals.TIMED_OUT)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._plain is not None:
            await self._plain.__aexit__(exc_type, exc, tb)
            return None
        executor = self._executor
        assert executor is not None and self._task is not None
        self._exited = True
        if not self._fired:
            if self._watcher is not None and not self._firing:
                if self._armed:
                    self._watcher.cancel()
                else:  # let the deadline's write land (a cancel could cut it in half)
                    await asyncio.shield(self._watcher)
                await executor._journal(self._entry(False))
            else:
                if self._watcher is not None:
                    await asyncio.shield(self._watcher)
                assert self._future is not None
                await self._future
            return None
        if self._task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError(
                f"durable.timeout({self.seconds}) expired in workflow {executor.run.id!r}"
            ) from exc
        return None
