"""Writes one run's outcomes to its journal, in the order the sequencer hands them back.

Outcomes of one run that complete in the same loop iteration while other calls are
still running are journaled in one write and share one `ord` (a group, delivered
together): a fan-out costs a few commits, not one per step.  Instants (now, uuid4,
random, patched) wait for the run's next write, so nothing that depends on their
values is journaled without them.  A write that fails because the lease is lost or the
journal is unusable stops the run in this process (`abort`), never fails it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from durable import errors
from durable.journal import base
from durable.runtime import signals
from durable.runtime.sequencer import Sequencer

__all__ = ["Recorder"]

T = TypeVar("T")


class Recorder:
    """The journal writes of one run executing here."""

    def __init__(
        self,
        journal: base.Journal,
        owner: str,
        run_id: str,
        sequencer: Sequencer,
        abort: Callable[[BaseException], signals.RunAborted],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
    ) -> None:
        self.journal = journal
        self.owner = owner
        self.run_id = run_id
        self.sequencer = sequencer
        self._abort = abort
        self._spawn = spawn
        self.instants: list[base.EntryRecord] = []
        self._group: list[base.EntryRecord] | None = None
        self._group_written: asyncio.Task[None] | None = None

    def take_instants(self) -> list[base.EntryRecord]:
        """The instants not yet written; the caller writes them before anything else."""
        taken, self.instants = self.instants, []
        return taken

    async def commit(self, entry: base.EntryRecord) -> asyncio.Future[Any]:
        """Journal a live outcome; returns the future that receives it in its turn."""
        outcome = self.sequencer.waiter(entry.seq)  # before delivery can pop it
        written: asyncio.Task[None] | None = None
        try:
            if self._group is None and self.sequencer.sequential:
                await self._write_group([entry])  # the sequential path: no loop hop
            else:
                if self._group is None:
                    self._group = []
                    self._group_written = self._spawn(self._write_pending_group())
                self._group.append(entry)
                written = self._group_written
                assert written is not None
                await asyncio.shield(written)
        except asyncio.CancelledError:
            # given up on (a race, a timeout, a shutdown) while its write was in flight:
            # its place in the delivery order must not hold back the results behind it
            if written is None or written.done():
                self.sequencer.settle(entry.seq, entry)
            else:
                written.add_done_callback(lambda _: self.sequencer.settle(entry.seq, entry))
            raise
        self.sequencer.committed(entry.seq, entry)
        return outcome

    async def _write_pending_group(self) -> None:
        await asyncio.sleep(0)  # let the rest of this loop iteration join the group
        group, self._group = self._group or [], None
        await self._write_group(group)

    async def _write_group(self, group: list[base.EntryRecord]) -> None:
        seqs = [entry.seq for entry in group]
        ord_ = self.sequencer.reserve(seqs)
        for entry in group:
            entry.ord = ord_
        try:
            await self.journal.append_entries(self.owner, [*self.take_instants(), *group])
        except (base.LeaseLost, errors.JournalError) as exc:
            self.sequencer.abandon(seqs)
            raise self._abort(exc) from exc

    async def write_entry(
        self, entry: base.EntryRecord, write: Callable[[base.EntryRecord], Awaitable[T]]
    ) -> T:
        """Run a journal operation that writes `entry` itself (a message taken, an
        event set), with the entry's place in the delivery order reserved; a failure
        gives the place back and stops the run."""
        entry.ord = self.sequencer.reserve([entry.seq])
        try:
            if self.instants:
                await self.journal.append_entries(self.owner, self.take_instants())
            return await write(entry)
        except (base.LeaseLost, errors.JournalError) as exc:
            self.sequencer.abandon([entry.seq])
            raise self._abort(exc) from exc
        except BaseException:
            self.sequencer.abandon([entry.seq])
            raise

    async def durably(self, write: Coroutine[Any, Any, T]) -> T:
        """Await a journal write (after the pending instants); a failure stops the run."""
        try:
            if self.instants:
                await self.journal.append_entries(self.owner, self.take_instants())
            return await write
        except (base.LeaseLost, errors.JournalError) as exc:
            raise self._abort(exc) from exc
        finally:
            write.close()  # never started when the instants failed: no "never awaited"

    async def write_timer(self, seq: int, wake_at: float) -> None:
        """Journal the deadline of call `seq`, so a restart keeps it."""
        timer = base.TimerRecord(run_id=self.run_id, seq=seq, wake_at=wake_at)
        await self.durably(self.journal.set_timer(self.owner, timer))

    async def set_status(self, status: base.Status, wake_at: float | None) -> None:
        """Journal the run's status (SLEEPING until `wake_at`, RUNNING again)."""
        update = base.RunUpdate(run_id=self.run_id, status=status, at=time.time(), wake_at=wake_at)
        await self.durably(self.journal.update_run(self.owner, update))
