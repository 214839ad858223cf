"""Taking over runs whose holder is gone, and keeping this engine's leases alive."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from durable import errors
from durable.journal import base
from durable.runtime import registry
from durable.worker import leases

if TYPE_CHECKING:
    from durable.engine import Engine

__all__ = ["heartbeat", "poll", "recover"]

logger = logging.getLogger(__name__)


async def _free(engine: Engine, record: base.RunRecord, now: float) -> bool:
    """Whether nobody live holds `record`: no holder, a dead one, or an expired lease;
    a run suspended in a durable sleep is free only once its wake-up time has come."""
    if record.owner is None:
        return record.status is not base.Status.SLEEPING or (record.wake_at or 0) <= now
    if leases.is_dead(record.owner):
        return True
    if record.lease_expires_at is not None and record.lease_expires_at < now:
        return True
    alive = getattr(engine.journal, "owner_alive", None)
    if alive is not None and record.owner != engine.owner:
        return not await alive(record.owner)
    return False


async def recover(engine: Engine) -> int:
    """Take over unfinished runs of registered workflows that no live process holds:
    highest priority first, then oldest; only from the engine's queues (all when None);
    no more than its free slots (`Engine(concurrency=...)`).  Runs of unlimited queues
    are taken over many at a time, so their claims share commits."""
    names = registry.workflow_names()
    taken = 0
    limit = _PAGE
    while names and engine.free_slots() > 0:
        records = await engine.journal.claimable(names, limit=limit)
        taken += await _take_page(engine, records)
        if len(records) < limit:
            break
        limit *= 4  # runs taken over stay listed (unfinished): look further next time
    try:
        await _report_unregistered(engine, set(names))
    except errors.JournalError:
        if engine._open:
            raise
        # the runs taken over closed (or crashed) the engine meanwhile: nothing to report
    return taken


_PAGE = 1000
_BATCH = 64


async def _take_page(engine: Engine, records: list[base.RunRecord]) -> int:
    now = time.time()
    taken = 0
    full: set[str | None] = set()  # limited queues found full in this pass
    batch: list[base.RunRecord] = []
    for record in records:
        if engine.free_slots() - len(batch) <= 0:  # also 0 once the engine is closed
            break
        if record.id in engine._active or record.owner == engine.owner:
            continue
        if engine.queues is not None and (record.queue or "default") not in engine.queues:
            continue
        if record.queue in full or engine.queue_slots(record.queue) <= 0:
            continue
        if not await _free(engine, record, now):
            continue
        if registry.lookup_queue(record.queue) is None:
            batch.append(record)
            if len(batch) >= _BATCH:
                taken += sum(await asyncio.gather(*(engine.take_over(r) for r in batch)))
                batch = []
        elif await engine.take_over(record):  # limits: one claim at a time
            taken += 1
        else:
            full.add(record.queue)
    if batch:
        taken += sum(await asyncio.gather(*(engine.take_over(r) for r in batch)))
    return taken


async def _report_unregistered(engine: Engine, names: set[str]) -> None:
    unfinished = [base.Status.PENDING, base.Status.RUNNING, base.Status.SLEEPING]
    for record in await engine.journal.list_runs(status=unfinished, limit=1000):
        if record.name in names or record.id in engine.unregistered:
            continue
        error = errors.NotRegistered(workflow_id=record.id, name=record.name)
        engine.unregistered[record.id] = error
        logger.warning("%s", error, extra={"action": "unregistered", "workflow_id": record.id})


async def heartbeat(engine: Engine) -> None:
    """Extend this engine's leases every third of a lease."""
    while True:
        await asyncio.sleep(engine.lease / 3)
        try:
            await engine.journal.heartbeat(engine.owner, time.time() + engine.lease)
        except errors.JournalError as exc:
            logger.warning(
                "heartbeat failed: %s", exc, extra={"action": "heartbeat", "workflow_id": None}
            )


async def poll(engine: Engine) -> None:
    """Look for runs to take over every `poll_interval` seconds."""
    while True:
        await asyncio.sleep(engine.poll_interval)
        try:
            await engine.apply_cancellations()
            await recover(engine)
        except errors.JournalError as exc:
            logger.warning(
                "looking for runs to resume failed: %s",
                exc,
                extra={"action": "poll", "workflow_id": None},
            )
