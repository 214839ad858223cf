"""`Scheduler`: the runs one engine executes, how it takes them, and what executors ask.

It owns the active runs (their executors and tasks), the slots (`concurrency`, each
queue's ``worker_concurrency``), the claims (a batch for unlimited queues, one at a time
where a queue's limits must be checked), draining, and the callbacks executors use
(`executor.RunControl`: children, waits, cancels, wake-ups).  Work reaches it pushed:
the journal announces runnable runs (`Journal.watch_work`), a run's end frees a slot,
and the dispatcher claims at once; a slow fallback poll (`recovery.poll`) catches what a
notification cannot announce (a holder that died, a sleep that came due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from durable import codec as codec_mod
from durable import errors, wakeups
from durable.journal import backoff, base
from durable.runtime import executor as executor_mod
from durable.runtime import hooks as hooks_mod
from durable.runtime import registry
from durable.worker import dispatch, leases, recovery

__all__ = ["Scheduler"]

logger = logging.getLogger(__name__)

_UNLIMITED = 1 << 30


class Scheduler:
    """What one engine executes (see the module docstring)."""

    def __init__(
        self,
        journal: base.Journal,
        codec: codec_mod.Codec,
        *,
        lease: float,
        poll_interval: float,
        concurrency: int | None,
        queues: Sequence[str] | None,
        suspend_sleeps: float | None,
        cancel: Callable[[str], Awaitable[None]],
    ) -> None:
        self.journal = journal
        self.codec = codec
        self.lease = lease
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.queues = None if queues is None else frozenset(queues)
        self.suspend_sleeps = suspend_sleeps
        self.cancel = cancel  # RunControl: a run and its descendants (the engine's cancel)
        self.owner = ""
        self.open = False
        self.draining = False
        self.unregistered: dict[str, errors.NotRegistered] = {}
        self.wakeups = wakeups.Wakeups(journal)
        self._active: dict[str, tuple[executor_mod.Executor, asyncio.Task[None]]] = {}
        self._finished: dict[str, asyncio.Event] = {}
        self._claiming: dict[str, str | None] = {}  # run id -> queue, while being claimed
        # runs of queues with a worker_concurrency left pending here for want of room:
        # taken over as soon as a run of their queue ends here (queue -> id -> row)
        self._deferred: dict[str | None, dict[str, base.RunRecord]] = {}
        self._background: list[asyncio.Task[None]] = []
        # runs stopped here because the journal failed them: why (for their waiters), and
        # those not released yet (the journal was down): released as soon as it is back
        self._stopped: dict[str, errors.JournalError] = {}
        self.unreleased: set[str] = set()
        # leases that looked expired, with when first seen so (`_unrenewed`)
        self._lease_seen: dict[str, tuple[tuple[str | None, float | None], float]] = {}
        self.dispatcher = dispatch.Dispatcher(self)
        # told of live work and of each run's segments (telemetry); None: nobody is
        self.hooks: hooks_mod.EngineHooks | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self, owner: str) -> None:
        """Begin as `owner`: nothing is executed before this."""
        self.owner = owner
        self.open = True

    def serve(self) -> None:
        """Take runs from the journal from now on: pushed work, heartbeats, the poll."""
        self.dispatcher.start()
        self._background.append(asyncio.create_task(recovery.heartbeat(self)))
        if self.poll_interval > 0:
            self._background.append(asyncio.create_task(recovery.poll(self)))

    async def stop(self) -> None:
        """Stop every run here (they stay unfinished) and the background work."""
        self.open = False
        self.dispatcher.want()  # its loop sees `open` and ends
        tasks = self.tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background.clear()

    def abandon(self) -> None:
        """Stop everything without writing anything (a simulated SIGKILL)."""
        self.open = False
        for task in self.tasks():
            task.cancel()

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Every task this scheduler runs: the runs' and the background ones."""
        return [*self._background, *self.dispatcher.tasks(), *(t for _, t in self._active.values())]

    # -- slots ------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Whether no run executes here and no claim is in flight."""
        return not self._active and not self._claiming

    def running(self) -> list[str]:
        """The ids of the runs executing here."""
        return list(self._active)

    def is_running(self, run_id: str) -> bool:
        """Whether run `run_id` executes here (claims in flight not counted)."""
        return run_id in self._active

    def executes(self, run_id: str) -> bool:
        """Whether run `run_id` executes here (or is being claimed)."""
        return run_id in self._active or run_id in self._claiming

    async def until_idle(self) -> None:
        """Wait until no run executes here."""
        while self._active:
            tasks = [task for _, task in list(self._active.values())]
            await asyncio.gather(*tasks, return_exceptions=True)

    def free_slots(self) -> int:
        """How many more runs this engine may execute now."""
        if self.draining or not self.open:
            return 0
        if self.concurrency is None:
            return _UNLIMITED
        return self.concurrency - len(self._active) - len(self._claiming)

    def queue_slots(self, queue: str | None) -> int:
        """How many more runs of `queue` this engine may execute now."""
        return min(self.free_slots(), self._queue_room(queue))

    def serves(self, queue: str | None) -> bool:
        """Whether this engine takes runs of `queue` (its `queues` filter)."""
        return self.queues is None or (queue or "default") in self.queues

    def _queue_room(self, queue: str | None) -> int:
        """Runs of `queue` this engine may add under its ``worker_concurrency`` (runs being
        claimed count: their claims are awaited outside the check)."""
        limits = registry.lookup_queue(queue)
        if limits is None or limits.worker_concurrency is None:
            return _UNLIMITED
        mine = sum(1 for ex, _ in self._active.values() if ex.run.queue == queue)
        mine += sum(1 for claimed in self._claiming.values() if claimed == queue)
        return limits.worker_concurrency - mine

    @staticmethod
    def limited(queue: str | None) -> bool:
        """Whether `queue` has limits that every claim of its runs must check."""
        limits = registry.lookup_queue(queue)
        return limits is not None and (limits.limited or limits.worker_concurrency is not None)

    # -- executing --------------------------------------------------------------------

    def launch(self, load: base.RunLoad, definition: registry.WorkflowDef) -> None:
        """Execute a run this engine holds."""
        logger.info(
            "run %s (%s) starts here, attempt %d",
            load.run.id,
            load.run.name,
            load.run.attempt,
            extra={"action": "start", "workflow_id": load.run.id},
        )
        host = executor_mod.Host(
            journal=self.journal, codec=self.codec, owner=self.owner, runs=self, hooks=self.hooks
        )
        executor = executor_mod.Executor(host, load, definition)
        self._stopped.pop(load.run.id, None)
        task = asyncio.create_task(self._drive(executor))
        self._active[load.run.id] = (executor, task)

    async def _drive(self, executor: executor_mod.Executor) -> None:
        run_id = executor.run.id
        hooks, segment, status = self.hooks, None, None
        try:
            if hooks is not None:
                segment = hooks.segment_started(executor)
            status = await executor.execute()
            while (load := executor.continued) is not None and self.open:  # the next generation
                before = executor
                executor = executor_mod.Executor(before.host, load, before.definition)
                self._active[run_id] = (executor, self._active[run_id][1])
                if before.cancel_requested:  # asked while the switch was being written
                    executor.cancel()
                if self.draining:
                    executor.drain()
                status = await executor.execute()
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception(
                "run %s stopped", run_id, extra={"action": "stop", "workflow_id": run_id}
            )
        finally:
            if hooks is not None:
                hooks.segment_ended(executor, status, segment)
            self._active.pop(run_id, None)
            failed = executor.aborted
            if isinstance(failed, errors.JournalError):
                self._stopped[run_id] = failed
            self.notify_finished(run_id)
            if self.open and (executor.suspended or isinstance(failed, errors.JournalError)):
                await self.release([run_id])
            if self.open:
                await self._take_deferred(executor.run.queue)
                if not isinstance(failed, errors.JournalError):  # else: the poll retries
                    self.dispatcher.want()  # a slot is free: claim the next run at once

    async def release(self, run_ids: Sequence[str]) -> None:
        """Give runs up for any engine to take (retried later if the journal is down)."""
        try:
            await self.journal.release(self.owner, list(run_ids))
        except errors.JournalError:
            self.unreleased.update(run_ids)
        else:
            self.unreleased.difference_update(run_ids)

    def notify_finished(self, run_id: str) -> None:
        """Wake the waiters of `run_id` in this engine (it ended, or was released)."""
        event = self._finished.pop(run_id, None)
        if event is not None:
            event.set()

    def claimable_here(self, record: base.RunRecord) -> registry.WorkflowDef | None:
        """The workflow of `record` if this engine may claim it now, else None."""
        definition = registry.lookup_workflow(record.name)
        if definition is None or self.executes(record.id) or not self.open:
            return None
        return definition if self._queue_room(record.queue) > 0 else None

    async def take_over(self, record: base.RunRecord) -> bool:
        """Claim `record` from its (dead or absent) holder and execute it here."""
        definition = self.claimable_here(record)
        if definition is None:
            return False
        # until launched: no second take-over meanwhile, and it counts against its queue
        self._claiming[record.id] = record.queue
        self._deferred.get(record.queue, {}).pop(record.id, None)
        try:
            return await self._claim_and_launch(record, definition)
        except errors.JournalError:
            if not self.open:  # closed (or crashed) meanwhile: nothing to take over
                return False
            raise
        finally:
            self._claiming.pop(record.id, None)

    async def _claim_and_launch(
        self, record: base.RunRecord, definition: registry.WorkflowDef
    ) -> bool:
        limits = registry.lookup_queue(record.queue)
        claimed = await self.journal.claim(
            self.owner,
            record.id,
            expected_owner=record.owner,
            lease_expires_at=self.journal.now() + self.lease,
            limits=None
            if limits is None or not limits.limited
            else base.QueueLimits(
                queue=limits.name,
                concurrency=limits.concurrency,
                rate_limit=limits.rate_limit,
                period=limits.period,
                partition_concurrency=limits.partition_concurrency,
            ),
        )
        if claimed is None:
            return False
        if self.hooks is not None and record.owner not in (None, self.owner):
            self.hooks.taken_over(record, claimed)
        return await self.launch_claimed(claimed, definition)

    def hold(self, records: Sequence[base.RunRecord]) -> None:
        """Runs this engine just claimed count as executing here until `launch_claimed`
        (call it in the same step as the claim: no take-over may slip in between)."""
        for record in records:
            self._claiming[record.id] = record.queue

    async def launch_claimed(
        self, record: base.RunRecord, definition: registry.WorkflowDef | None
    ) -> bool:
        """Load a run this engine just claimed (and `hold`s) and execute it.  A run
        claimed for its first attempt was never executed: its journal is empty, and is
        not read."""
        try:
            if definition is None:
                load = None
            elif record.attempt == 1:
                load = base.RunLoad(run=record, entries=[], attempts=[], timers=[])
            else:
                load = await self.journal.load(record.id)
        finally:
            self._claiming.pop(record.id, None)
        if load is None or definition is None:
            return False
        if load.run.owner != self.owner:  # taken by another engine since the claim
            logger.info(
                "run %s was claimed here but is now held by %s: not executed",
                record.id,
                load.run.owner,
                extra={"action": "claim_lost", "workflow_id": record.id},
            )
            return False
        logger.info(
            "resuming run %s (%s), attempt %d",
            record.id,
            record.name,
            record.attempt,
            extra={"action": "resume", "workflow_id": record.id},
        )
        self.launch(load, definition)
        return True

    async def holder_gone(self, record: base.RunRecord, now: float | None = None) -> bool:
        """Whether no live engine holds `record`: no holder (a run suspended in a durable
        sleep only once its wake-up time has come), one known dead, or an expired lease."""
        moment = self.journal.now() if now is None else now
        if record.owner is None:
            if record.start_at is not None and record.start_at > moment:
                return False  # a delayed start not due yet
            return record.status is not base.Status.SLEEPING or (record.wake_at or 0) <= moment
        if record.owner == self.owner:
            return False
        if leases.is_dead(record.owner):
            return True
        expired = record.lease_expires_at is not None and record.lease_expires_at < moment
        if leases.is_alive(record.owner):  # a live process of this machine holds it,
            # whatever the database says (its lock may be re-taken yet): only a paused one
            # is taken over, once its lease has run out and gone unrenewed for a lease
            if not expired:
                self._lease_seen.pop(record.id, None)
                return False
            return self._unrenewed(record)
        if expired:
            return True  # a paused or cut-off holder: its lease has run out
        return not await self.journal.owner_alive(record.owner)

    def _unrenewed(self, record: base.RunRecord) -> bool:
        """Whether `record`'s lease has stayed as it is for a whole lease period, by this
        process's monotonic clock.  A holder that renews its lease is not paused, however
        far its lease looks expired: a wall clock that is off here (or there) moves the
        expiry, not the renewals."""
        seen = (record.owner, record.lease_expires_at)
        now = time.monotonic()
        first = self._lease_seen.get(record.id)
        if first is None or first[0] != seen:
            if len(self._lease_seen) > 10_000:  # runs that finished meanwhile: start over
                self._lease_seen.clear()
            self._lease_seen[record.id] = (seen, now)
            return False
        if now - first[1] < self.lease:
            return False
        del self._lease_seen[record.id]
        return True

    def drain(self) -> None:
        """Stop taking runs; running ones stop at their next durable call, then are released."""
        self.draining = True
        for executor, _ in self._active.values():
            executor.drain()

    def cancel_here(self, run_id: str) -> bool:
        """Cancel run `run_id` if it executes here; whether it did."""
        active = self._active.get(run_id)
        if active is None:
            return False
        if not active[0].cancel_requested:
            active[0].cancel()
        return True

    async def apply_cancellations(self) -> None:
        """Stop the runs of this engine whose cancellation another process requested."""
        if self._active:
            for run_id in await self.journal.cancel_requested(self.owner):
                self.cancel_here(run_id)

    # -- children (executor.RunControl) -----------------------------------------------

    async def start_child(
        self,
        parent: executor_mod.Executor,
        seq: int,
        child_id: str,
        definition: registry.WorkflowDef,
        input: bytes,
        *,
        detached: bool = False,
    ) -> base.RunRecord:
        """Create a child run (idempotent per id) and execute it here unless held elsewhere;
        a `detached` one is left out of its parent's cancellation."""
        now = self.journal.now()
        queue = definition.queue or parent.run.queue
        here = not self.limited(queue)
        new = base.NewRun(
            id=child_id,
            name=definition.name,
            input=input,
            parent_id=parent.run.id,
            parent_seq=seq,
            root_id=parent.run.root_id,
            queue=queue,
            metadata=parent.run.metadata,
            owner=self.owner if here else None,
            lease_expires_at=now + self.lease if here else None,
            created_at=now,
            status=base.Status.RUNNING if here else base.Status.PENDING,
            detached=detached,
        )
        record, created = await self.journal.create_run(new)
        if created and here:
            self.launch(base.RunLoad(run=record, entries=[], attempts=[], timers=[]), definition)
        elif record.status not in base.TERMINAL and record.id not in self._active:
            if await self.holder_gone(record):
                await self._take_child(record)
        return record

    async def _take_child(self, record: base.RunRecord) -> None:
        """Take a child over here, or, while its queue's ``worker_concurrency`` is reached
        here, keep it to take over when a run of that queue ends here.  (The engine-wide
        `concurrency` is not asked: the parent holds a slot while it waits.)"""
        if self._queue_room(record.queue) > 0:
            await self.take_over(record)
        elif not self.draining:
            self._deferred.setdefault(record.queue, {})[record.id] = record

    async def _take_deferred(self, queue: str | None) -> None:
        """A run of `queue` ended here: take over the children of it left pending."""
        waiting = self._deferred.get(queue, {})
        while waiting and self._queue_room(queue) > 0 and not self.draining:
            run_id = next(iter(waiting))
            await self.take_over(waiting.pop(run_id))  # False: taken or finished elsewhere

    # -- waiting (executor.RunControl) ------------------------------------------------

    async def wait_finished(self, run_id: str, timeout: float | None = None) -> base.RunRecord:
        """Wait until a run is SUCCEEDED, FAILED or CANCELLED; return its row.  Raises
        `TimeoutError` after `timeout` seconds, `WorkflowNotFound` for an unknown id."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waits = backoff.Backoff(0.01, 1.0 if self.wakeups.notified else 0.5)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if run_id in self._active and (left is None or left > 0):
                # executing here: its end (or its release) is signalled, and only then is
                # the journal worth a look
                finished = self._finished.setdefault(run_id, asyncio.Event())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), timeout=left)
                stopped = self._stopped.get(run_id)
                if stopped is not None and run_id not in self._active:
                    raise errors.JournalError(
                        f"run {run_id!r} stopped in this process because its journal "
                        f"failed ({stopped}); it was released, and this or another engine "
                        "carries it on once the journal is usable again: wait for it again",
                        workflow_id=run_id,
                    ) from stopped
            since = self.changed(run_id).count  # before the read: no news is missed
            record = await self.journal.get_run(run_id)
            if record is None:
                raise errors.WorkflowNotFound(workflow_id=run_id)
            if record.status in base.TERMINAL:
                return record
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {run_id!r} did not finish within {timeout}s")
            if run_id in self._active:
                continue
            wait = waits.next()
            await self.wait_changed(run_id, wait if left is None else min(wait, left), since=since)

    def changed(self, run_id: str) -> wakeups.News:
        """Set when a message or event for `run_id` arrives through this engine, or the
        journal notifies a change of `run_id` (`durable.wakeups`)."""
        return self.wakeups.news(run_id)

    async def wait_changed(
        self,
        run_id: str,
        timeout: float,
        *,
        also: asyncio.Event | None = None,
        since: int | None = None,
    ) -> None:
        """Wait at most `timeout` seconds for news of `run_id` (see `Wakeups.wait`)."""
        await self.wakeups.wait(run_id, timeout, also=also, since=since)
