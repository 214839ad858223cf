"""`Call`: the one interface between the executor and every durable primitive.

The executor numbers a call and matches it against the journal (`Executor.issue`); the
primitive then works only through the `Call` it gets back:

- `Call.run(live)` is the whole life of most calls: a journaled outcome is replayed in
  its turn; otherwise `live(call)` runs as engine work (not workflow code) and returns
  the outcome's entry, which is journaled and handed back in its turn.  A call that a
  race or `durable.timeout` gives up on journals a ``cancelled`` outcome in its turn,
  whatever its kind, and replays that way: the rule for losers lives here, once.
- `entry`, `write_entry`, `commit`, `durably`, `set_deadline` write through the run's
  `Recorder`; a lost lease or an unusable journal stops the run in this process.
- `engine_work()` and `machinery()` mark engine work done on the workflow's behalf, so
  the sequencer neither waits for it nor calls the run stuck meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import context, signals
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["Call"]

T = TypeVar("T")


class Call:
    """One numbered durable call of a run (see the module docstring)."""

    __slots__ = (
        "_written",
        "executor",
        "fingerprint",
        "kind",
        "name",
        "recorded",
        "seq",
        "started",
    )

    def __init__(
        self,
        executor: Executor,
        seq: int,
        kind: Kind,
        name: str,
        fingerprint: str,
        recorded: base.EntryRecord | None,
    ) -> None:
        self.executor = executor
        self.seq = seq
        self.kind = kind
        self.name = name
        self.fingerprint = fingerprint
        self.recorded = recorded
        self.started = time.time()
        self._written: base.EntryRecord | None = None

    # -- what a primitive reads -------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.executor.run.id

    @property
    def codec(self) -> codec_mod.Codec:
        return self.executor.host.codec

    @property
    def journal(self) -> base.Journal:
        return self.executor.host.journal

    @property
    def owner(self) -> str:
        return self.executor.host.owner

    @property
    def runs(self) -> Any:
        """The engine's `RunControl` (children, waits, cancels, wake-ups)."""
        return self.executor.host.runs

    def prior_attempts(self) -> list[base.AttemptRecord] | None:
        """The failed attempts journaled for this call before a restart (taken once)."""
        return self.executor.attempts.pop(self.seq, None)

    # -- the whole call ---------------------------------------------------------------

    async def run(self, live: Callable[..., Awaitable[base.EntryRecord]], *args: Any) -> Any:
        """Replay the journaled outcome, or run ``live(call, *args)`` and journal the
        entry it returns."""
        if self.recorded is not None:
            return await self.replay()
        token = context.workflow_code.set(None)  # what follows is engine work
        try:
            try:
                entry = await live(self, *args)
            except asyncio.CancelledError as cancel:
                if not signals.journaled_cancel(cancel):
                    raise
                reason = codec_mod.frame(str(cancel.args[0]).encode())
                entry = self.entry("cancelled", output=reason)
            if entry is self._written:
                outcome = self.executor.sequencer.committed(self.seq, entry)
            else:
                outcome = await self.executor.recorder.commit(entry)
        finally:
            context.workflow_code.reset(token)
        return self.decode(await outcome)

    async def replay(self) -> Any:
        """The journaled outcome, in its turn.  A call a race or timeout gave up on
        raised only once its ``cancelled`` entry was delivered: its replay, cancelled the
        same way, waits for that turn too, so the calls that follow are numbered as
        they were."""
        assert self.recorded is not None
        future = self.executor.sequencer.replayed(self.seq, self.recorded)
        if self.recorded.status != "cancelled":
            return self.decode(await future)
        try:
            return self.decode(await asyncio.shield(future))
        except asyncio.CancelledError as cancel:
            if not signals.journaled_cancel(cancel):
                raise
            return self.decode(await future)

    def outcome(self) -> asyncio.Future[Any]:
        """The future on which this call's entry is delivered in its turn."""
        return self.executor.sequencer.waiter(self.seq)

    def replay_now(self) -> asyncio.Future[Any]:
        """Mark the journaled outcome as reached without awaiting it (the caller does)."""
        assert self.recorded is not None
        return self.executor.sequencer.reached(self.seq, self.recorded)

    def decode(self, entry: base.EntryRecord) -> Any:
        """The value an entry hands back, or the exception it raises."""
        return self.executor.outcome_of(entry)

    # -- writing ----------------------------------------------------------------------

    def entry(self, status: str = "ok", **fields: Any) -> base.EntryRecord:
        """This call's journal entry with the given outcome."""
        return base.EntryRecord(
            run_id=self.run_id,
            seq=self.seq,
            ord=-1,
            kind=self.kind._value_,
            name=self.name,
            fingerprint=self.fingerprint,
            started_at=self.started,
            finished_at=time.time(),
            status=status,
            **fields,
        )

    async def commit(self, entry: base.EntryRecord) -> asyncio.Future[Any]:
        """Journal `entry` (grouped with concurrent outcomes); the future gets it in turn."""
        with self.engine_work():
            return await self.executor.recorder.commit(entry)

    async def write_entry(
        self, entry: base.EntryRecord, write: Callable[[base.EntryRecord], Awaitable[T]]
    ) -> T:
        """A journal operation that writes `entry` itself; `run` then only delivers it.
        The caller calls `forget` if the operation turned out to write nothing."""
        result = await self.executor.recorder.write_entry(entry, write)
        self._written = entry
        return result

    def reserve(self, entry: base.EntryRecord) -> None:
        """Give `entry` its place in the delivery order before a write that journals it."""
        entry.ord = self.executor.sequencer.reserve([self.seq])
        self._written = entry

    def forget(self) -> None:
        """The reserved entry was not written after all: give its place back."""
        self.executor.sequencer.abandon([self.seq])
        self._written = None

    async def durably(self, write: Coroutine[Any, Any, T]) -> T:
        """Await a journal write on this run's behalf; a failure stops the run."""
        return await self.executor.recorder.durably(write)

    async def set_deadline(self, seconds: float) -> float:
        """The journaled deadline of this call: kept from before a restart, else set now."""
        wake_at = self.executor.timers.pop(self.seq, None)
        if wake_at is None:
            wake_at = time.time() + max(0.0, float(seconds))
            await self.executor.recorder.write_timer(self.seq, wake_at)
        return wake_at

    @staticmethod
    def remaining(wake_at: float, seconds: float) -> float:
        """Seconds left until the journaled deadline `wake_at`, never more than the call's
        whole duration `seconds` (a clock set back must not stretch a wait)."""
        return max(0.0, min(wake_at - time.time(), seconds))

    def pending_deadline(self) -> float | None:
        """The deadline journaled before a restart, if any (taken once)."""
        return self.executor.timers.pop(self.seq, None)

    async def write_deadline(self, wake_at: float) -> None:
        """Journal `wake_at` as this call's deadline."""
        await self.executor.recorder.write_timer(self.seq, wake_at)

    async def set_status(self, status: base.Status, wake_at: float | None) -> None:
        """Journal the run's status (a long sleep makes it SLEEPING)."""
        await self.executor.recorder.set_status(status, wake_at)

    def record_instant(self, value: Any) -> None:
        """Journal an instant's value with the run's next write."""
        now = time.time()
        entry = base.EntryRecord(
            run_id=self.run_id,
            seq=self.seq,
            ord=self.executor.sequencer.reserve_instant(),
            kind=self.kind.value,
            name=self.name,
            status="ok",
            fingerprint=self.fingerprint,
            output=self.codec.encode(value, what=self.kind.value, workflow_id=self.run_id),
            started_at=now,
            finished_at=now,
        )
        self.executor.recorder.instants.append(entry)

    # -- engine work and the run as a whole -------------------------------------------

    @contextlib.contextmanager
    def engine_work(self) -> Iterator[None]:
        """What runs inside is engine work, not workflow code (see `context`)."""
        token = context.workflow_code.set(None)
        try:
            yield
        finally:
            context.workflow_code.reset(token)

    async def machinery(self, work: Coroutine[Any, Any, T]) -> T:
        """Await engine work that resumes workflow code without a delivery (a child's
        creation, a deadline's write): the run is not stuck meanwhile."""
        return await self.executor.machinery(work)  # type: ignore[no-any-return]

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run engine work for this call in the background (cancelled when the run stops
        here)."""
        return self.executor.spawn(work)

    @contextlib.contextmanager
    def deliveries_paused(self) -> Iterator[None]:
        """Nothing is handed back to the run's workflow code while inside."""
        self.executor.sequencer.pause()
        try:
            yield
        finally:
            self.executor.sequencer.unpause()

    def waiting_outside(self) -> contextlib.AbstractContextManager[None]:
        """While inside, the background work only waits for something outside the run (a
        running child): the run's end does not wait for it."""
        return self.executor.waiting_outside()

    def abort(self, reason: BaseException) -> signals.RunAborted:
        """Stop executing the run here without finishing it."""
        return self.executor.abort(reason)

    def diverge(self, error: errors.DurableError) -> errors.DurableError:
        """The run cannot go on: it ends FAILED with `error` whatever the code does."""
        return self.executor.diverge(error)

    def suspend(self, why: str) -> signals.RunAborted:
        """Release the run here on purpose (a long sleep)."""
        return self.executor.suspend(why)

    def in_flight(self) -> contextlib.AbstractContextManager[None]:
        """While inside, this call counts as in flight (a long sleep parks the run only
        when it is the one call in flight)."""
        return self.executor.flight

    @property
    def alone(self) -> bool:
        """Whether this call is the only one in flight."""
        return self.executor.outstanding == 1
