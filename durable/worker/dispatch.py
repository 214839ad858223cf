"""Push dispatch: an engine claims runnable runs as soon as it hears of them.

`Dispatcher.want()` is called when work may be waiting: the journal announced runnable
runs (another process created, released or reopened one: Postgres ``NOTIFY``, SQLite's
local wake-up sockets), a run ended here and freed a slot, or the fallback poll looked.
The dispatcher then claims, in one statement per batch (`Journal.claim_batch`), as many
runnable runs of unlimited queues as it has free slots, highest priority first, and
launches them; then runs of queues with limits, one claim at a time, each checking
its queue's limits atomically (`recovery.take_limited`).  A run of a queue that ends
announces work too: it freed room in its queue.

A run started with ``start_at``/``delay`` is announced when it is created, but is not
claimable before it is due; so once a claim finds nothing more to take, the dispatcher
asks the journal for the earliest start not yet due (`Journal.next_start`) and sets a
timer for it on the event loop: the run is claimed as it comes due, not at the next poll.
(The fallback poll does not ask: a delayed start whose announcement was lost is found
by the poll's look once it is due, as any unannounced work is.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.runtime import registry
from durable.worker import recovery

if TYPE_CHECKING:
    from durable.worker.scheduler import Scheduler

__all__ = ["Dispatcher"]

logger = logging.getLogger(__name__)

BATCH = 64  # runs claimed by one statement at most


class Dispatcher:
    """Claims pushed work for one scheduler (see the module docstring)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._wanted: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.claims = 0  # statements issued (for the benchmarks' cost figures)
        # the timer set for the earliest delayed start not yet due, and when that is
        self._due: asyncio.TimerHandle | None = None
        self._due_at = float("inf")

    def start(self) -> None:
        """Listen for announced work and claim it until the scheduler stops."""
        self._wanted = asyncio.Event()
        self._scheduler.journal.watch_work(self.want)
        self._task = asyncio.create_task(self._loop(), name="durable-dispatch")
        self.want()

    def tasks(self) -> list[asyncio.Task[Any]]:
        return [] if self._task is None else [self._task]

    def want(self) -> None:
        """Work may be waiting: claim it soon (cheap; call it as often as you like)."""
        if self._wanted is not None:
            self._wanted.set()

    async def _loop(self) -> None:
        try:
            await self._serve()
        finally:
            if self._due is not None:
                self._due.cancel()

    async def _serve(self) -> None:
        assert self._wanted is not None
        while self._scheduler.open:  # ends at stop even if a cancellation got lost below
            await self._wanted.wait()
            self._wanted.clear()
            if not self._scheduler.open:
                return
            try:
                await self.claim(look_ahead=True)
            except errors.JournalError as exc:
                if not self._scheduler.open:
                    return
                logger.warning(
                    "claiming runs failed: %s", exc, extra={"action": "claim", "workflow_id": None}
                )
                await asyncio.sleep(0.5)  # the journal is in trouble: do not spin
                self.want()

    async def claim(self, *, look_ahead: bool = False) -> int:
        """Claim and launch runnable runs of unlimited queues while slots are free;
        returns how many were launched.  With `look_ahead` (pushed work, not the fallback
        poll, which keeps an idle worker at one query a tick), then set the timer for the
        earliest delayed start not yet due."""
        scheduler = self._scheduler
        names = registry.workflow_names()
        skip = registry.limited_queue_names()
        queues = None if scheduler.queues is None else sorted(scheduler.queues)
        launched = 0
        room = 0
        while names and scheduler.open:
            room = min(scheduler.free_slots(), BATCH)
            if room <= 0:
                break
            self.claims += 1
            claimed = await scheduler.journal.claim_batch(
                scheduler.owner,
                names,
                limit=room,
                lease_expires_at=scheduler.journal.now() + scheduler.lease,
                queues=queues,
                skip_queues=skip,
            )
            fresh = [r for r in claimed if not scheduler.is_running(r.id)]
            scheduler.hold(fresh)  # the journal gave them to this claim: they are ours
            launches = [
                scheduler.launch_claimed(record, registry.lookup_workflow(record.name))
                for record in fresh
            ]
            launched += sum(await asyncio.gather(*launches))
            if len(claimed) < room:
                break
        limited = [q for q in skip if scheduler.serves(q)]
        if limited and scheduler.open:
            launched += await recovery.take_limited(scheduler, limited)
        if look_ahead and room > 0 and scheduler.open:  # nothing more runnable: what is due?
            self._arm(await scheduler.journal.next_start(names))
        return launched

    def _arm(self, due: float | None) -> None:
        """Claim again when the earliest delayed start `due` (epoch seconds) comes."""
        if due is None:
            return
        if self._due is not None:
            if self._due_at <= due:
                return  # an earlier (or the same) wake-up is already set
            self._due.cancel()
        self._due_at = due
        delay = max(0.0, due - time.time())
        self._due = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._due, self._due_at = None, float("inf")
        self.want()  # a claim that finds the run not quite due yet sets the timer again
