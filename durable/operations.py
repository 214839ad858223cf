"""What an operator does to existing runs: cancel, resume, fork and restart them.

`Engine` exposes each as a method; the work is here, written against the engine's
journal and scheduler.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from durable import errors
from durable.journal import base
from durable.runs import read_run
from durable.runtime import registry

if TYPE_CHECKING:
    from durable.engine import Engine

__all__ = ["cancel", "fork", "restart", "resume"]


async def cancel(engine: Engine, workflow_id: str) -> None:
    """`Engine.cancel`: flag the run and its unfinished descendants, stop those that
    execute here, and mark CANCELLED those nobody holds."""
    record = await read_run(engine.journal, workflow_id)
    unfinished = [r for r in await _subtree(engine, record) if r.status not in base.TERMINAL]
    if not unfinished:
        return
    await engine.journal.request_cancel([r.id for r in unfinished])
    scheduler = engine.scheduler
    for target in unfinished:
        if not scheduler.cancel_here(target.id) and await scheduler.holder_gone(target):
            await _cancel_unheld(engine, target)


async def _subtree(engine: Engine, record: base.RunRecord) -> list[base.RunRecord]:
    family = await engine.journal.list_runs(root_id=record.root_id, limit=100_000)
    by_parent: dict[str | None, list[base.RunRecord]] = {}
    for member in family:
        by_parent.setdefault(member.parent_id, []).append(member)
    found, frontier = [record], [record.id]
    while frontier:
        # a detached child (and what it started) is not cancelled with its parent
        kids = [kid for kid in by_parent.get(frontier.pop(), []) if not kid.detached]
        found.extend(kids)
        frontier.extend(kid.id for kid in kids)
    return found


async def _cancel_unheld(engine: Engine, record: base.RunRecord) -> None:
    journal, owner = engine.journal, engine.scheduler.owner
    claimed = await journal.claim(
        owner,
        record.id,
        expected_owner=record.owner,
        lease_expires_at=engine.journal.now() + engine.scheduler.lease,
    )
    if claimed is not None:
        update = base.RunUpdate(run_id=record.id, status=base.Status.CANCELLED, at=time.time())
        await journal.update_run(owner, update)
        await journal.release(owner, [record.id])
        engine.scheduler.notify_finished(record.id)


async def _check_key_free(engine: Engine, record: base.RunRecord) -> None:
    """A run reopened while another unfinished run holds its dedup key would break the
    key's promise (one unfinished run per key): refuse, saying which run holds it."""
    if record.dedup_key is None:
        return
    holder = await engine.journal.dedup_holder(record.dedup_key)
    if holder is not None and holder != record.id:
        raise errors.InvalidStart(
            f"cannot resume run {record.id!r}: its dedup_key {record.dedup_key!r} is held by "
            f"the unfinished run {holder!r}; let that run finish (or cancel it), then resume",
            workflow_id=record.id,
        )


async def resume(engine: Engine, workflow_id: str) -> None:
    """`Engine.resume`: reopen a failed or cancelled run, and take it over here when
    nobody else holds it."""
    record = await read_run(engine.journal, workflow_id)
    if record.status in (base.Status.FAILED, base.Status.CANCELLED):
        await _check_key_free(engine, record)
        await engine.journal.reopen(workflow_id)
        record = await read_run(engine.journal, workflow_id)
    scheduler = engine.scheduler
    if record.status in base.TERMINAL or scheduler.executes(workflow_id):
        return
    if registry.lookup_workflow(record.name) is None:
        raise errors.NotRegistered(workflow_id=workflow_id, name=record.name)
    if await scheduler.holder_gone(record):  # held by this engine: it is being launched
        await scheduler.take_over(record)


async def fork(engine: Engine, workflow_id: str, from_step: int) -> str:
    """`Engine.fork`: a new run reusing the results of the calls numbered below
    `from_step`; returns its id."""
    record = await read_run(engine.journal, workflow_id)
    new_id = f"{workflow_id}-fork-{uuid.uuid4().hex[:8]}"
    await _copy_run(
        engine, record, new_id, lambda: engine.journal.copy_entries(workflow_id, new_id, from_step)
    )
    return new_id


async def restart(engine: Engine, workflow_id: str) -> str:
    """`Engine.restart`: a new run of the same workflow and input; returns its id."""
    record = await read_run(engine.journal, workflow_id)
    if await engine.journal.generations(workflow_id):  # from the first generation's input
        first = await engine.journal.load_generation(workflow_id, 1)
        if first is not None:
            record = first.run
    new_id = f"{workflow_id}-restart-{uuid.uuid4().hex[:8]}"
    await _copy_run(engine, record, new_id, None)
    return new_id


async def _copy_run(
    engine: Engine,
    record: base.RunRecord,
    new_id: str,
    copy: Callable[[], Awaitable[int]] | None,
) -> None:
    """Create the new run held by this engine (so that no worker takes it before its
    copied entries are in), copy, then execute it here or release it to the workers."""
    scheduler = engine.scheduler
    now = time.time()
    new = base.NewRun(
        id=new_id,
        name=record.name,
        input=record.input,
        root_id=new_id,
        queue=record.queue,
        metadata=record.metadata,
        created_at=now,
        owner=scheduler.owner,
        lease_expires_at=now + scheduler.lease,
    )
    await engine.journal.create_run(new)
    if copy is not None:
        await copy()
    definition = registry.lookup_workflow(record.name)
    here = engine.execute and scheduler.open and not scheduler.limited(record.queue)
    load = await engine.journal.load(new_id) if here and definition is not None else None
    if load is not None and definition is not None and scheduler.free_slots() > 0:
        scheduler.launch(load, definition)
    else:
        await engine.journal.release(scheduler.owner, [new_id])
