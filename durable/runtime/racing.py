"""`durable.race` and `durable.timeout`: giving up on work, durably.

Both cancel work with an `asyncio.CancelledError` whose message says why
(`signals.RACE_LOST`, `signals.TIMED_OUT`); every call cancelled that way journals a
``cancelled`` entry in its turn (`Call.run`), so a replay gives up on the same work at
the same point instead of running it again.  The winner of a race and the firing (or
not) of a timeout are journaled entries too, delivered in completion order like any
result: a replay makes the same decision even if timings differ.  Each race and
timeout is a `contests.Contest`, so a call that consumes (a `recv`) does so only while
it has not been given up on, and is never given up on while it consumes.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable import errors
from durable.runtime import contests, context, signals
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["Timeout", "race"]


def _current() -> Executor | None:
    executor = context.workflow_code.get()
    if executor is not None and context.current_run.get() is executor:
        return executor
    return None


async def _give_up(tasks: Sequence[asyncio.Future[Any]], message: str | None) -> None:
    """Cancel the tasks not done yet and wait until they have ended."""
    for task in tasks:
        if not task.done():
            task.cancel(message)
    await asyncio.gather(*tasks, return_exceptions=True)


async def _plain_race(tasks: Sequence[asyncio.Future[Any]]) -> Any:
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    winner = next(task for task in tasks if task in done)
    await _give_up([t for t in tasks if t is not winner], signals.RACE_LOST)
    return winner


def _contestant(item: Awaitable[Any], contest: contests.Contest, party: int) -> asyncio.Future[Any]:
    """`item` as a task that runs inside `contest` as `party`."""
    if asyncio.isfuture(item):
        return item  # already running: it consumes nothing through this race
    ctx = contextvars.copy_context()
    ctx.run(context.contests.set, (*context.contests.get(), (contest, party)))
    coro = item if asyncio.iscoroutine(item) else _awaited(item)
    return asyncio.get_running_loop().create_task(coro, context=ctx)


async def _awaited(item: Awaitable[Any]) -> Any:
    return await item


async def race(*awaitables: Awaitable[Any]) -> Any:
    """Await all; the first to finish wins and the others are cancelled.

    Running steps get `asyncio.CancelledError` inside their body, child workflows
    become CANCELLED, a `recv` that loses takes no message, and the journal records
    which won.  The winner's result is returned (or its exception raised).
    """
    if not awaitables:
        raise ValueError("durable.race needs at least one awaitable")
    executor = _current()
    if executor is None:
        return (await _plain_race([asyncio.ensure_future(a) for a in awaitables])).result()
    fingerprint = codec_mod.fingerprint((len(awaitables),), {})
    try:
        call = executor.issue(Kind.RACE, "race", fingerprint, (len(awaitables),))
    except BaseException:
        for item in awaitables:  # the run stops here: nothing of the race will run
            if asyncio.iscoroutine(item):
                item.close()
        raise
    contest = contests.Contest(decisive=True)
    tasks = [_contestant(item, contest, i) for i, item in enumerate(awaitables)]
    if call.recorded is not None:
        return await _replay(call, tasks, contest)
    try:
        winner = await _decide(call, tasks, contest)
    except asyncio.CancelledError as cancel:
        # the race itself was given up on (an outer race, a timeout) or stopped
        await _give_up(tasks, cancel.args[0] if cancel.args else None)
        if not signals.journaled_cancel(cancel):
            raise
        reason = codec_mod.frame(cancel.args[0].encode())
        call.decode(await (await call.commit(call.entry("cancelled", output=reason))))
        raise
    output = call.codec.encode(tasks.index(winner), what="race winner")
    call.decode(await (await call.commit(call.entry("ok", output=output))))
    return winner.result()


async def _decide(call: Call, tasks: list[asyncio.Future[Any]], contest: contests.Contest) -> Any:
    """The winner: the first to finish, unless a contestant consuming meanwhile wins;
    once it has finished, the others are given up on.  While a consumer's write decides
    it, nothing is delivered to the run: a replay, which knows the winner, gives up on the
    others at once, and they must not have moved on live either."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    first = next(task for task in tasks if task in done)
    with call.deliveries_paused():
        index = await contest.decide(tasks.index(first))
    winner = tasks[index]
    if not winner.done():
        await asyncio.wait([winner])
    await _give_up([t for t in tasks if t is not winner], signals.RACE_LOST)
    return winner


async def _replay(call: Call, tasks: list[asyncio.Future[Any]], contest: contests.Contest) -> Any:
    """Follow the journaled decision: wait for the winner, then give up on the others."""
    assert call.recorded is not None
    future = call.replay_now()
    if call.recorded.status != "ok":  # the race itself was given up on
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError as cancel:
            await _give_up(tasks, cancel.args[0] if cancel.args else None)
            if not signals.journaled_cancel(cancel):
                raise
        return call.decode(await future)
    index = call.decode(call.recorded)
    if not isinstance(index, int) or not 0 <= index < len(tasks):
        raise call.diverge(
            errors.NonDeterminismError(
                workflow_id=call.run_id,
                seq=call.seq,
                expected=f"a race of {len(tasks)} awaitables",
                recorded=f"a race won by awaitable #{index}",
            )
        )
    contest.winner = index
    winner = tasks[index]
    try:
        await asyncio.wait([winner])
    except asyncio.CancelledError as cancel:
        await _give_up(tasks, cancel.args[0] if cancel.args else None)
        raise
    await _give_up([t for t in tasks if t is not winner], signals.RACE_LOST)
    call.decode(await future)
    return winner.result()


class Timeout:
    """``async with durable.timeout(seconds):`` cancels the work inside when the
    (journaled) deadline passes, and raises `TimeoutError`.  A restart does not reset
    the clock.  Outside a workflow it is `asyncio.timeout`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self._call: Call | None = None
        self._plain: asyncio.Timeout | None = None
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[Any] | None = None
        self._contest = contests.Contest(decisive=False)
        self._scope: contextvars.Token[Any] | None = None
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
        self._task = asyncio.current_task()
        fingerprint = codec_mod.fingerprint((self.seconds,), {})
        call = self._call = executor.issue(Kind.TIMEOUT, "timeout", fingerprint, (self.seconds,))
        self._scope = context.contests.set(
            (*context.contests.get(), (self._contest, contests.BODY))
        )
        if call.recorded is not None:
            future = call.replay_now()
        else:
            wake_at = call.pending_deadline()
            new = wake_at is None
            if wake_at is None:
                wake_at = time.time() + self.seconds
            # the deadline is written in the background: awaiting it here (but not on a
            # replay that finds it) would change how other branches number their calls
            self._watcher = call.spawn(self._watch(wake_at, new))
            future = call.outcome()
        future.add_done_callback(self._delivered)
        self._future = future
        return self

    def _entry(self, fired: bool) -> Any:
        assert self._call is not None
        return self._call.entry("ok", output=self._call.codec.encode(fired, what="timeout"))

    async def _watch(self, wake_at: float, new: bool) -> None:
        call = self._call
        assert call is not None
        if new:
            try:
                await call.machinery(call.write_deadline(wake_at))
            except signals.RunAborted:
                return  # the run stops executing here
        self._armed = True
        if self._exited:
            return
        await asyncio.sleep(call.remaining(wake_at, self.seconds))
        if self._exited or await self._contest.decide(contests.DEADLINE) != contests.DEADLINE:
            return
        self._firing = True
        await call.commit(self._entry(True))

    def _delivered(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or self._exited or self._call is None:
            return
        if self._call.decode(future.result()) and self._task is not None:
            self._fired = True
            self._contest.winner = contests.DEADLINE
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
        call = self._call
        assert call is not None and self._task is not None and self._scope is not None
        context.contests.reset(self._scope)
        self._exited = True
        if not self._fired:
            await self._end_unfired(call)
            return None
        if self._task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError(
                f"durable.timeout({self.seconds}) expired in workflow {call.run_id!r}"
            ) from exc
        return None

    async def _end_unfired(self, call: Call) -> None:
        """The body ended first: journal that the timeout did not fire (or, when its
        firing is already on its way, wait for it in its turn)."""
        if self._watcher is not None and not self._firing:
            if self._contest.winner is None:
                self._contest.winner = contests.BODY
            if self._armed:
                self._watcher.cancel()
            else:  # let the deadline's write land (a cancel could cut it in half)
                await asyncio.shield(self._watcher)
            call.decode(await (await call.commit(self._entry(False))))
            return
        if self._watcher is not None:
            await asyncio.shield(self._watcher)
        assert self._future is not None
        await self._future
