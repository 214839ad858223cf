"""Taking over runs whose holder is gone, keeping this engine's leases alive, and the
fallback poll for what no notification announces.

Pushed work (`dispatch`) covers runs nobody holds.  What is left to look for: runs whose
holder died (known at once on this machine or through Postgres' advisory locks, else
when the lease expires), runs of limited queues (claimed one at a time, limits checked),
released sleeps that came due, and cancellations requested by other processes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from durable import errors
from durable.journal import base
from durable.runtime import registry

if TYPE_CHECKING:
    from durable.worker.scheduler import Scheduler

__all__ = [
    "FULL_LOOK_EVERY",
    "REPORT_EVERY",
    "heartbeat",
    "poll",
    "recover",
    "take_limited",
    "tick",
]

logger = logging.getLogger(__name__)

_PAGE = 1000
_BATCH = 64
# the poll's full look (every unfinished run, for dead holders) every this many ticks;
# the ticks in between only claim what is runnable: an idle engine makes one query a tick
FULL_LOOK_EVERY = 2
# runs of workflows this process does not know are reported every this many ticks
REPORT_EVERY = 60


async def recover(scheduler: Scheduler, *, report: bool = True) -> int:
    """Take over unfinished runs of registered workflows that no live process holds:
    highest priority first, then oldest; only from the engine's queues (all when None);
    no more than its free slots.  Runs of unlimited queues are taken over many at a
    time, so their claims share commits."""
    names = registry.workflow_names()
    taken = 0
    limit = _PAGE
    while names and scheduler.free_slots() > 0:
        records = await scheduler.journal.claimable(names, limit=limit)
        taken += await _take_page(scheduler, records)
        if len(records) < limit:
            break
        limit *= 4  # runs taken over stay listed (unfinished): look further next time
    if not report:
        return taken
    try:
        await _report_unregistered(scheduler, set(names))
    except errors.JournalError:
        if scheduler.open:
            raise
        # the runs taken over closed (or crashed) the engine meanwhile: nothing to report
    return taken


async def take_limited(scheduler: Scheduler, queues: list[str]) -> int:
    """Take over runnable runs of the limited `queues` nobody holds, one claim at a time
    (each checks its queue's limits atomically); returns how many."""
    names = registry.workflow_names()
    if not names or not queues or scheduler.free_slots() <= 0:
        return 0
    wanted = set(queues)
    records = await scheduler.journal.claimable(names, limit=_PAGE)
    return await _take_page(scheduler, [r for r in records if r.queue in wanted and not r.owner])


async def _take_page(scheduler: Scheduler, records: list[base.RunRecord]) -> int:
    now = scheduler.journal.now()
    taken = 0
    # limited queues (or, with a partition limit, partitions of them) found full
    full: set[tuple[str | None, str | None]] = set()
    batch: list[base.RunRecord] = []
    for record in records:
        if scheduler.free_slots() - len(batch) <= 0:  # also 0 once the engine is closed
            break
        if scheduler.executes(record.id) or not scheduler.serves(record.queue):
            continue
        if _fullness(record) in full or scheduler.queue_slots(record.queue) <= 0:
            continue
        if not await scheduler.holder_gone(record, now):
            continue
        if registry.lookup_queue(record.queue) is None:
            batch.append(record)
            if len(batch) >= _BATCH:
                taken += sum(await asyncio.gather(*(scheduler.take_over(r) for r in batch)))
                batch = []
        elif await scheduler.take_over(record):  # limits: one claim at a time
            taken += 1
        else:
            full.add(_fullness(record))
    if batch:
        taken += sum(await asyncio.gather(*(scheduler.take_over(r) for r in batch)))
    return taken


def _fullness(record: base.RunRecord) -> tuple[str | None, str | None]:
    """What a refused limited claim says is full: the run's queue, or, where the queue
    limits partitions, its partition (others of the queue may still have room)."""
    limits = registry.lookup_queue(record.queue)
    if limits is not None and limits.partition_concurrency is not None:
        return record.queue, record.partition_key
    return record.queue, None


async def _report_unregistered(scheduler: Scheduler, names: set[str]) -> None:
    unfinished = [base.Status.PENDING, base.Status.RUNNING, base.Status.SLEEPING]
    for record in await scheduler.journal.list_runs(status=unfinished, limit=1000):
        if record.name in names or record.id in scheduler.unregistered:
            continue
        error = errors.NotRegistered(workflow_id=record.id, name=record.name)
        scheduler.unregistered[record.id] = error
        logger.warning("%s", error, extra={"action": "unregistered", "workflow_id": record.id})


async def heartbeat(scheduler: Scheduler) -> None:
    """Extend this engine's leases every third of a lease (first giving up the runs the
    journal stopped here, so that a lease this engine cannot use is not renewed)."""
    while True:
        await asyncio.sleep(scheduler.lease / 3)
        try:
            if scheduler.unreleased:
                await scheduler.release(sorted(scheduler.unreleased))
            await scheduler.journal.sync_clock()
            lease_until = scheduler.journal.now() + scheduler.lease
            await scheduler.journal.heartbeat(scheduler.owner, lease_until)
        except errors.JournalError as exc:
            logger.warning(
                "heartbeat failed: %s", exc, extra={"action": "heartbeat", "workflow_id": None}
            )


def tick(scheduler: Scheduler) -> float:
    """Seconds between the poll's looks: `poll_interval`, but at least a second where
    the journal announces work (the poll is then only a fallback)."""
    if scheduler.journal.announces_work:
        return max(scheduler.poll_interval, 1.0)
    return scheduler.poll_interval


async def poll(scheduler: Scheduler) -> None:
    """The fallback look, one query a tick: every `FULL_LOOK_EVERY` ticks a look for
    runs whose holder is gone (and any runnable run), else a claim of what is runnable
    (none when no slot is free); cancellations requested elsewhere only with runs here."""
    ticks = 0
    while True:
        await asyncio.sleep(tick(scheduler))
        ticks += 1
        try:
            if scheduler.unreleased:
                await scheduler.release(sorted(scheduler.unreleased))
            await scheduler.apply_cancellations()
            if ticks % FULL_LOOK_EVERY == 0 or not scheduler.journal.announces_work:
                await recover(scheduler, report=ticks % REPORT_EVERY == 0)
            elif scheduler.free_slots() > 0:
                await scheduler.dispatcher.claim()
        except errors.JournalError as exc:
            logger.warning(
                "looking for runs to resume failed: %s",
                exc,
                extra={"action": "poll", "workflow_id": None},
            )
