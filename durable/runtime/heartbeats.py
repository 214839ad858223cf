"""Step heartbeats: `durable.heartbeat(details)` in a step body, the watchdog of
``@step(heartbeat_timeout=s)``, and the details handed to the next attempt.

Each attempt of a step has an `Attempt`, visible to its body through a context variable
(copied into the thread of a sync step).  A heartbeat is a few attribute writes, safe
from any thread; it raises `asyncio.CancelledError` once the attempt was stopped (its run
cancelled, a race lost, the heartbeat timeout passed), which is how a sync step running
in a thread learns it must stop.  The details are journaled at most once per `THROTTLE`
seconds, from the event loop (a write is scheduled by the beat that finds the last one
old enough), and once more when the attempt fails, so the next attempt gets them even
after a crash, up to the last `THROTTLE` seconds of beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from durable import errors
from durable.journal import base
from durable.journal import generations as gens

if TYPE_CHECKING:
    from durable.runtime.calls import Call

__all__ = ["THROTTLE", "Attempt", "current", "heartbeat", "previous_details", "watched"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

THROTTLE = 1.0
"""Seconds between two journal writes of one attempt's heartbeat details, at most."""

_current: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "durable_step_attempt", default=None
)


class Attempt:
    """One attempt of a step, as its body's heartbeats see it."""

    __slots__ = (
        "_writing",
        "_written_at",
        "call",
        "details",
        "dirty",
        "last_beat",
        "loop",
        "number",
        "previous",
        "stopped",
    )

    def __init__(self, call: Call, number: int, previous: Any) -> None:
        self.call = call
        self.number = number
        self.previous = previous  # the details the attempt before passed last
        self.details: Any = previous
        self.dirty = False
        self.last_beat = time.monotonic()
        self.stopped: str | None = None  # why the body must stop, once it must
        self.loop = asyncio.get_running_loop()
        self._written_at = 0.0
        self._writing = False

    def beat(self, details: Any) -> None:
        """A heartbeat from the body (any thread)."""
        if self.stopped is not None:
            raise asyncio.CancelledError(self.stopped)
        self.last_beat = now = time.monotonic()
        if details is None:
            return
        self.details, self.dirty = details, True
        if not self._writing and now - self._written_at >= THROTTLE:
            self._writing = True
            try:
                self.loop.call_soon_threadsafe(self._spawn_write)
            except RuntimeError:  # the loop is closed: the engine is gone, nothing to write
                self._writing = False

    def stop(self, why: str) -> None:
        """The body must stop: its next heartbeat raises `asyncio.CancelledError`."""
        if self.stopped is None:
            self.stopped = why

    def _spawn_write(self) -> None:
        self.call.spawn(self._write())

    async def _write(self) -> None:
        try:
            await self.flush()
        finally:
            self._writing = False

    async def flush(self) -> None:
        """Journal the latest details if they changed since the last write.  A journal
        that cannot take them only loses them (logged): the step goes on."""
        if not self.dirty:
            return
        call, self.dirty = self.call, False
        self._written_at = time.monotonic()
        try:
            encoded = call.codec.encode(
                self.details,
                what=f"heartbeat details of step seq {call.seq}",
                workflow_id=call.run_id,
            )
            beat = gens.StepHeartbeat(seq=call.seq, attempt=self.number, details=encoded)
            await call.journal.save_step_heartbeat(call.owner, call.run_id, beat, time.time())
        except (errors.DurableError, base.LeaseLost) as exc:
            logger.warning(
                "run %s: heartbeat details of step seq %d not journaled: %s",
                call.run_id,
                call.seq,
                exc,
                extra={"action": "heartbeat", "workflow_id": call.run_id},
            )


def current() -> Attempt | None:
    """The attempt whose body is running, if any."""
    return _current.get()


@contextlib.contextmanager
def entered(attempt: Attempt) -> Iterator[None]:
    """Make `attempt` the one its body (and what it runs) sees."""
    token = _current.set(attempt)
    try:
        yield
    finally:
        _current.reset(token)


def heartbeat(details: Any = None) -> None:
    """A heartbeat of the running step's attempt (see `durable.heartbeat`)."""
    attempt = _current.get()
    if attempt is not None:
        attempt.beat(details)


async def previous_details(call: Call, number: int) -> tuple[int, Any]:
    """The attempt number to run and the details journaled by the attempts before it: read
    once per run execution, and only by a run executed before (a restart)."""
    executor = call.executor
    if executor.run.attempt <= 1:
        return number, None
    if executor.step_heartbeats is None:
        beats = await call.durably(call.journal.step_heartbeats(call.run_id))
        executor.step_heartbeats = {beat.seq: beat for beat in beats}
    beat = executor.step_heartbeats.pop(call.seq, None)
    if beat is None or beat.details is None:
        return number, None
    try:
        details = call.codec.decode(
            beat.details, what="heartbeat details", workflow_id=call.run_id, seq=call.seq
        )
    except errors.DurableError as exc:
        logger.warning(
            "run %s: heartbeat details of step seq %d unreadable (%s): not handed on",
            call.run_id,
            call.seq,
            exc,
            extra={"action": "heartbeat", "workflow_id": call.run_id},
        )
        return number, None
    # the attempt that heartbeat was cut short by the crash: it counts
    return max(number, beat.attempt + 1), details


async def watched(work: Awaitable[T], attempt: Attempt, timeout: float, name: str) -> T:
    """Await `work`, failing it with `TimeoutError` once `timeout` seconds pass without a
    heartbeat (counted from the attempt's start)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            left = attempt.last_beat + timeout - time.monotonic()
            if left <= 0:
                attempt.stop("durable: the attempt missed its heartbeat timeout")
                task.cancel()
                await asyncio.wait({task})
                if not task.cancelled():
                    task.exception()  # retrieved: the attempt's outcome is the timeout
                raise TimeoutError(
                    f"step {name!r} (seq {attempt.call.seq}, attempt {attempt.number}) sent "
                    f"no heartbeat for {timeout:g}s (heartbeat_timeout={timeout:g})"
                )
            await asyncio.wait({task}, timeout=left)
            if task.done():
                return task.result()
    except asyncio.CancelledError:
        task.cancel()
        raise
