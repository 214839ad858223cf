"""`Engine`: opens a journal, starts, resumes, inspects and operates runs."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime
import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from durable import codec as codec_mod
from durable import errors, wakeups
from durable import runs as runs_mod
from durable.api import Queue, Workflow, queue_name
from durable.journal import base, open_journal
from durable.runs import HistoryEntry, LineageNode, Run, RunInfo, _when
from durable.runtime import executor as executor_mod
from durable.runtime import registry, replayer, sequencer
from durable.worker import leases, recovery

__all__ = ["Engine", "HistoryEntry", "LineageNode", "Run", "RunInfo"]

logger = logging.getLogger(__name__)

R = TypeVar("R")

DEFAULT_URL = "sqlite:///durable.db"


class Engine:
    """Runs workflows against a journal database.

    Entering the engine creates or migrates the schema and resumes every unfinished
    run in the database whose workflow this process has registered, except runs a
    live process holds.  A holder on this machine that died is known dead at once
    (its pid is gone); anything else is taken over when its lease expires.

    Parameters
    ----------
    url:
        ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite://:memory:``
        or ``postgresql://...``; defaults to ``$DURABLE_DATABASE_URL``, else
        ``sqlite:///durable.db``.
    pickle:
        Whether values msgspec cannot encode fall back to cloudpickle.  With
        ``False`` they raise `SerializationError`, and pickled journal values are
        refused.
    durability:
        ``"process"`` (default): a commit survives the process being killed.
        ``"full"``: it also survives power loss (SQLite ``synchronous=FULL``).
    lease:
        Seconds a run's lease lasts without a heartbeat; only a fallback for holders
        whose death cannot be known (another machine).
    poll_interval:
        Seconds between looks for runs to take over; 0 disables the look.  On a
        journal that notifies changes (Postgres) it is also how often `durable.recv` and
        `get_event` look anyway, in case no notification woke them.
    execute:
        Whether this engine executes runs; ``False`` makes an engine that only
        starts and inspects them.
    concurrency:
        At most this many runs executing here at once (runs it starts itself
        included); None for no limit.  Workers set it.
    queues:
        Take over only runs of these queues (a run without a queue is on
        ``"default"``); None for every queue.
    suspend_sleeps:
        A run whose only pending call is a durable sleep of at least this many
        seconds gives up its slot and its lease; whichever engine is free when it
        is due resumes it.  None keeps sleeping runs in memory.

    Examples
    --------
    >>> import asyncio, durable
    >>> @durable.workflow(name="doc.add")
    ... async def add(a: int, b: int) -> int:
    ...     return a + b
    >>> async def main():
    ...     async with durable.Engine("sqlite://:memory:") as engine:
    ...         return await engine.run(add, 2, 3)
    >>> asyncio.run(main())
    5
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        pickle: bool = True,
        durability: str = "process",
        lease: float = 30.0,
        poll_interval: float = 1.0,
        execute: bool = True,
        concurrency: int | None = None,
        queues: Sequence[str] | None = None,
        suspend_sleeps: float | None = None,
    ) -> None:
        self.url = url or os.environ.get("DURABLE_DATABASE_URL") or DEFAULT_URL
        self.codec = codec_mod.Codec(pickle=pickle)
        self.journal: base.Journal = open_journal(self.url, durability=durability)
        self.lease = lease
        self.poll_interval = poll_interval
        self.execute = execute
        self.concurrency = concurrency
        self.queues = None if queues is None else frozenset(queues)
        self.suspend_sleeps = suspend_sleeps
        self.draining = False
        self.owner = ""
        self.unregistered: dict[str, errors.NotRegistered] = {}
        self._active: dict[str, tuple[executor_mod.Executor, asyncio.Task[None]]] = {}
        self._finished: dict[str, asyncio.Event] = {}
        self._wakeups = wakeups.Wakeups(self.journal)
        self._claiming: dict[str, str | None] = {}  # run id -> queue, while being claimed
        # runs of queues with a worker_concurrency left pending here for want of room:
        # taken over as soon as a run of their queue ends here (queue -> id -> row)
        self._deferred: dict[str | None, dict[str, base.RunRecord]] = {}
        self._background: list[asyncio.Task[None]] = []
        self._open = False

    async def __aenter__(self) -> Engine:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the journal and resume unfinished runs (what ``async with`` does)."""
        await self.journal.open()
        sequencer.count_workflow_tasks(asyncio.get_running_loop())
        self.owner = leases.new_owner_id()
        register = getattr(self.journal, "register_owner", None)
        if register is not None:
            await register(self.owner)
        self._open = True
        if self.execute:
            await self.recover()
            self._background.append(asyncio.create_task(recovery.heartbeat(self)))
            if self.poll_interval > 0:
                self._background.append(asyncio.create_task(recovery.poll(self)))

    async def close(self) -> None:
        """Stop executing (runs stay unfinished and are released to others), close the journal."""
        if not self._open:
            return
        self._open = False
        tasks = [task for task in self._background] + [t for _, t in self._active.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background.clear()
        with contextlib.suppress(errors.JournalError):
            await self.journal.release(self.owner)
        leases.forget(self.owner)
        await self.journal.close()

    def abandon(self) -> None:
        """Drop everything without writing anything, as if the process had been killed.

        For crash tests: the journal is left exactly as a SIGKILL would leave it, and
        this engine's runs become free for another engine at once.
        """
        self._open = False
        for task in [*self._background, *(t for _, t in self._active.values())]:
            task.cancel()
        drop = getattr(self.journal, "abandon", None)
        if drop is not None:
            drop()
        leases.forget(self.owner)

    # -- starting -------------------------------------------------------------------------

    def _definition(self, wf: Workflow[Any, Any] | str) -> registry.WorkflowDef:
        if isinstance(wf, Workflow):
            return wf.definition
        definition = registry.lookup_workflow(wf)
        if definition is None:
            raise errors.NotRegistered(workflow_id=None, name=wf)
        return definition

    async def start(
        self,
        wf: Workflow[..., Any] | str,
        *args: Any,
        workflow_id: str | None = None,
        queue: Queue | str | None = None,
        metadata: dict[str, Any] | None = None,
        priority: int = 0,
        **kwargs: Any,
    ) -> Run:
        """Start a run of `wf` (a `@workflow` function or its registered name).

        Starting an id that already exists returns that run; nothing runs twice.
        Workers take higher `priority` first; each minute a run waits counts as one
        more point, so low priority work is never starved.  `metadata` is visible as
        ``durable.context().metadata`` in the run and its children.
        """
        definition = self._definition(wf)
        run_id = workflow_id or uuid.uuid4().hex
        now = time.time()
        queue = queue_name(queue) or definition.queue
        # a run of a limited queue is claimed like any other, so that its limits hold
        executes = self.execute and self._open and not self._limited(queue)
        new = base.NewRun(
            id=run_id,
            name=definition.name,
            root_id=run_id,
            input=executor_mod.encode_input(self.codec, args, kwargs, run_id),
            queue=queue,
            metadata=self.codec.encode(dict(metadata or {}), what="metadata", workflow_id=run_id),
            owner=self.owner if executes else None,
            lease_expires_at=now + self.lease if executes else None,
            created_at=now,
            status=base.Status.RUNNING if executes else base.Status.PENDING,
            priority=priority,
        )
        record, created = await self.journal.create_run(new)
        if created and executes:
            empty = base.RunLoad(run=record, entries=[], attempts=[], timers=[])
            self._launch(empty, definition)
        elif created and self.execute and self._open and self.queue_slots(queue) > 0:
            await self.take_over(record)
        return Run(self, run_id)

    def _limited(self, queue: str | None) -> bool:
        limits = registry.lookup_queue(queue)
        return limits is not None and (limits.limited or limits.worker_concurrency is not None)

    def queue_slots(self, queue: str | None) -> int:
        """How many more runs of `queue` this engine may execute now (its own limits)."""
        return min(self.free_slots(), self._queue_room(queue))

    def _queue_room(self, queue: str | None) -> int:
        """Runs of `queue` this engine may add under its ``worker_concurrency`` (runs being
        claimed count: their claims are awaited outside the check)."""
        limits = registry.lookup_queue(queue)
        if limits is None or limits.worker_concurrency is None:
            return 1 << 30
        mine = sum(1 for ex, _ in self._active.values() if ex.run.queue == queue)
        mine += sum(1 for claimed in self._claiming.values() if claimed == queue)
        return limits.worker_concurrency - mine

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

    async def run(self, wf: Workflow[..., R] | str, *args: Any, **kwargs: Any) -> Any:
        """Start a run and wait for its result."""
        return await (await self.start(wf, *args, **kwargs)).result()

    def get(self, workflow_id: str) -> Run:
        """A handle on an existing run (not checked until used)."""
        return Run(self, workflow_id)

    # -- executing --------------------------------------------------------------------------

    def _launch(self, load: base.RunLoad, definition: registry.WorkflowDef) -> None:
        logger.info(
            "run %s (%s) starts here, attempt %d",
            load.run.id,
            load.run.name,
            load.run.attempt,
            extra={"action": "start", "workflow_id": load.run.id},
        )
        host = executor_mod.Host(
            journal=self.journal, codec=self.codec, owner=self.owner, runs=self
        )
        executor = executor_mod.Executor(host, load, definition)
        task = asyncio.create_task(self._drive(executor))
        self._active[load.run.id] = (executor, task)

    async def _drive(self, executor: executor_mod.Executor) -> None:
        run_id = executor.run.id
        try:
            await executor.execute()
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception(
                "run %s stopped", run_id, extra={"action": "stop", "workflow_id": run_id}
            )
        finally:
            self._active.pop(run_id, None)
            self._notify_finished(run_id)
            if executor.suspended and self._open:
                with contextlib.suppress(errors.JournalError):
                    await self.journal.release(self.owner, [run_id])
            if self._open:
                await self._take_deferred(executor.run.queue)

    def _notify_finished(self, run_id: str) -> None:
        event = self._finished.pop(run_id, None)
        if event is not None:
            event.set()

    async def take_over(self, record: base.RunRecord) -> bool:
        """Claim `record` from its (dead or absent) holder and execute it here."""
        definition = registry.lookup_workflow(record.name)
        if (
            definition is None
            or record.id in self._active
            or record.id in self._claiming
            or not self._open
            or self._queue_room(record.queue) <= 0
        ):
            return False
        # until launched: no second take-over meanwhile, and it counts against its queue
        self._claiming[record.id] = record.queue
        self._deferred.get(record.queue, {}).pop(record.id, None)
        try:
            return await self._claim_and_launch(record, definition)
        except errors.JournalError:
            if not self._open:  # closed (or crashed) meanwhile: nothing to take over
                return False
            raise
        finally:
            del self._claiming[record.id]

    async def _claim_and_launch(
        self, record: base.RunRecord, definition: registry.WorkflowDef
    ) -> bool:
        limits = registry.lookup_queue(record.queue)
        claimed = await self.journal.claim(
            self.owner,
            record.id,
            expected_owner=record.owner,
            lease_expires_at=time.time() + self.lease,
            limits=None
            if limits is None or not limits.limited
            else base.QueueLimits(
                queue=limits.name,
                concurrency=limits.concurrency,
                rate_limit=limits.rate_limit,
                period=limits.period,
            ),
        )
        if claimed is None:
            return False
        load = await self.journal.load(record.id)
        if load is None:
            return False
        logger.info(
            "resuming run %s (%s), attempt %d",
            record.id,
            record.name,
            claimed.attempt,
            extra={"action": "resume", "workflow_id": record.id},
        )
        self._launch(load, definition)
        return True

    async def _unheld(self, record: base.RunRecord) -> bool:
        """Whether no live engine holds `record` (no holder, or one known dead)."""
        if record.owner is None or leases.is_dead(record.owner):
            return True
        alive = getattr(self.journal, "owner_alive", None)
        return alive is not None and record.owner != self.owner and not await alive(record.owner)

    def free_slots(self) -> int:
        """How many more runs this engine may execute now."""
        if self.draining or not self._open:
            return 0
        if self.concurrency is None:
            return 1 << 30
        return self.concurrency - len(self._active)

    def drain(self) -> None:
        """Stop taking runs; running ones stop at their next durable call (their steps in
        flight finish and are journaled first), then are released to other engines."""
        self.draining = True
        for executor, _ in self._active.values():
            executor.drain()

    async def recover(self) -> int:
        """Take over every unfinished run this process can execute; returns how many."""
        return await recovery.recover(self)

    # -- inspecting ---------------------------------------------------------------------------

    async def _record(self, workflow_id: str) -> base.RunRecord:
        record = await self.journal.get_run(workflow_id)
        if record is None:
            raise errors.WorkflowNotFound(workflow_id=workflow_id)
        return record

    async def _wait_finished(self, workflow_id: str, timeout: float | None) -> base.RunRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if workflow_id in self._active and (left is None or left > 0):
                # executing here: its end (or its release) is signalled, and only then is
                # the journal worth a look
                finished = self._finished.setdefault(workflow_id, asyncio.Event())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), timeout=left)
            since = self.changed(workflow_id).count  # before the read: no news is missed
            record = await self._record(workflow_id)
            if record.status in base.TERMINAL:
                return record
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {workflow_id!r} did not finish within {timeout}s")
            if workflow_id in self._active:
                continue
            wait = delay if left is None else min(delay, left)
            await self.wait_changed(workflow_id, wait, since=since)
            delay = min(delay * 2, 1.0 if self._wakeups.notified else 0.5)

    async def wait_changed(
        self,
        run_id: str,
        timeout: float,
        *,
        also: asyncio.Event | None = None,
        since: int | None = None,
    ) -> None:
        """Wait at most `timeout` seconds for news of `run_id`: a message or event sent
        through this engine, a notification from the journal (Postgres ``LISTEN``), or
        `also`.  News since `since` (``changed(run_id).count`` read before the caller's
        read), else until ``changed(run_id)`` is set.  Callers re-read afterwards."""
        await self._wakeups.wait(run_id, timeout, also=also, since=since)

    async def list(
        self,
        status: base.Status | str | Sequence[base.Status | str] | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> builtins.list[RunInfo]:
        """Runs, newest first, filtered by status(es) and workflow name."""
        statuses: list[base.Status] | None = None
        if status is not None:
            items = [status] if isinstance(status, str | base.Status) else list(status)
            statuses = [base.Status(str(item).upper()) for item in items]
        records = await self.journal.list_runs(status=statuses, name=name, limit=limit)
        return [RunInfo.from_record(record) for record in records]

    async def history(self, workflow_id: str) -> builtins.list[HistoryEntry]:
        """The journal entries of a run, in sequence order.

        A value this process cannot decode shows as a `durable.runs.Undecodable` that
        says why; an event entry shows the value it set while it is its key's latest.
        """
        load = await self.journal.load(workflow_id)
        if load is None:
            raise errors.WorkflowNotFound(workflow_id=workflow_id)
        return await runs_mod.history(self.journal, self.codec, load)

    # -- debugging ------------------------------------------------------------------------------

    async def replay(
        self,
        workflow_id: str,
        *,
        on_call: Any = None,
        break_at: int | None = None,
        on_break: Any = None,
    ) -> replayer.ReplayReport:
        """Re-execute a run's workflow code against its journal, running no step body and
        writing nothing; report the calls matched and the first divergence, if any.

        Parameters
        ----------
        on_call:
            ``on_call(seq, kind, name, matched)`` for each call as it is matched.
        break_at, on_break:
            ``on_break(seq)`` runs just before call number `break_at` is made.
        """
        load = await self.journal.load(workflow_id)
        if load is None:
            raise errors.WorkflowNotFound(workflow_id=workflow_id)
        definition = registry.lookup_workflow(load.run.name)
        if definition is None:
            raise errors.NotRegistered(workflow_id=workflow_id, name=load.run.name)
        return await replayer.replay(
            load, definition, self.codec, on_call=on_call, break_at=break_at, on_break=on_break
        )

    async def check(
        self,
        *,
        name: str | None = None,
        since: datetime.datetime | None = None,
        limit: int = 10_000,
    ) -> builtins.list[replayer.ReplayReport]:
        """Replay every matching run against the current code; return the reports of the
        runs it would break (their divergence), the check to run before deploying."""
        broken = []
        for record in await self.journal.list_runs(name=name, limit=limit):
            if since is not None and record.created_at < since.timestamp():
                continue
            if registry.lookup_workflow(record.name) is None:
                continue
            report = await self.replay(record.id)
            if not report.ok:
                broken.append(report)
        return broken

    # -- operations ---------------------------------------------------------------------------

    async def cancel(self, workflow_id: str) -> None:
        """Cancel a run and its descendants: they become CANCELLED.

        Runs executing in this process stop at once; runs held by another live process
        are flagged in the journal and stop when that process next looks (every
        `poll_interval`); unheld runs are marked CANCELLED here.  Finished runs are left
        as they are.  A cancelled run can be resumed.
        """
        record = await self._record(workflow_id)
        targets = await self._subtree(record)
        unfinished = [r for r in targets if r.status not in base.TERMINAL]
        if not unfinished:
            return
        await self.journal.request_cancel([r.id for r in unfinished])
        for target in unfinished:
            active = self._active.get(target.id)
            if active is not None:
                active[0].cancel()
            elif await self._unheld(target):
                await self._cancel_unheld(target)

    async def _subtree(self, record: base.RunRecord) -> builtins.list[base.RunRecord]:
        family = await self.journal.list_runs(root_id=record.root_id, limit=100_000)
        by_parent: dict[str | None, builtins.list[base.RunRecord]] = {}
        for member in family:
            by_parent.setdefault(member.parent_id, []).append(member)
        found, frontier = [record], [record.id]
        while frontier:
            kids = by_parent.get(frontier.pop(), [])
            found.extend(kids)
            frontier.extend(kid.id for kid in kids)
        return found

    async def _cancel_unheld(self, record: base.RunRecord) -> None:
        claimed = await self.journal.claim(
            self.owner,
            record.id,
            expected_owner=record.owner,
            lease_expires_at=time.time() + self.lease,
        )
        if claimed is not None:
            await self.journal.update_run(
                self.owner,
                base.RunUpdate(run_id=record.id, status=base.Status.CANCELLED, at=time.time()),
            )
            await self.journal.release(self.owner, [record.id])
            self._notify_finished(record.id)

    async def apply_cancellations(self) -> None:
        """Stop the runs of this engine whose cancellation another process requested."""
        for run_id in await self.journal.cancel_requested(self.owner):
            active = self._active.get(run_id)
            if active is not None and not active[0].cancel_requested:
                active[0].cancel()

    async def resume(self, workflow_id: str) -> Run:
        """Carry a failed or cancelled run on from its journal.

        The error entries at the end of the journal (those after its last successful
        entry: the failure that ended the run) are moved to the attempts history, so
        those calls run again; everything before is replayed.
        """
        record = await self._record(workflow_id)
        if record.status in (base.Status.FAILED, base.Status.CANCELLED):
            await self.journal.reopen(workflow_id)
            record = await self._record(workflow_id)
        if record.status in base.TERMINAL or workflow_id in self._active:
            return Run(self, workflow_id)
        if registry.lookup_workflow(record.name) is None:
            raise errors.NotRegistered(workflow_id=workflow_id, name=record.name)
        if record.owner == self.owner or await self._unheld(record):
            await self.take_over(record)
        return Run(self, workflow_id)

    async def fork(self, workflow_id: str, from_step: int) -> Run:
        """A new run of the same workflow and input that reuses the results of the calls
        numbered below `from_step` (those that completed before it) and re-executes the rest.
        """
        record = await self._record(workflow_id)
        new_id = f"{workflow_id}-fork-{uuid.uuid4().hex[:8]}"
        await self._copy_run(
            record, new_id, lambda: self.journal.copy_entries(workflow_id, new_id, from_step)
        )
        return Run(self, new_id)

    async def restart(self, workflow_id: str) -> Run:
        """A new run of the same workflow and input, its journal ignored ("start over")."""
        record = await self._record(workflow_id)
        new_id = f"{workflow_id}-restart-{uuid.uuid4().hex[:8]}"
        await self._copy_run(record, new_id, None)
        return Run(self, new_id)

    async def _copy_run(self, record: base.RunRecord, new_id: str, copy: Any) -> None:
        new = base.NewRun(
            id=new_id,
            name=record.name,
            input=record.input,
            root_id=new_id,
            queue=record.queue,
            metadata=record.metadata,
            created_at=time.time(),
        )
        await self.journal.create_run(new)
        if copy is not None:
            await copy()
        if self.execute and self._open:
            created = await self._record(new_id)
            await self.take_over(created)

    # -- what workflows need (durable.runtime.executor.RunControl) ----------------------------

    async def start_child(
        self,
        parent: executor_mod.Executor,
        seq: int,
        child_id: str,
        definition: registry.WorkflowDef,
        input: bytes,
    ) -> base.RunRecord:
        """Create a child run (idempotent per id) and execute it here unless held elsewhere."""
        now = time.time()
        queue = definition.queue or parent.run.queue
        here = not self._limited(queue)
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
        )
        record, created = await self.journal.create_run(new)
        if created and here:
            self._launch(base.RunLoad(run=record, entries=[], attempts=[], timers=[]), definition)
        elif record.status not in base.TERMINAL and record.id not in self._active:
            if record.owner != self.owner and await self._unheld(record):
                await self._take_child(record)
        return record

    async def wait_finished(self, run_id: str) -> base.RunRecord:
        """Wait until a run is finished; return its row."""
        return await self._wait_finished(run_id, None)

    def changed(self, run_id: str) -> wakeups.News:
        """Set when a message or event for `run_id` arrives through this engine, or the
        journal notifies a change of `run_id` (`durable.wakeups`)."""
        return self._wakeups.news(run_id)

    # -- messages, events, lineage ------------------------------------------------------------

    async def send(self, workflow_id: str, topic: str, value: Any) -> None:
        """Send `value` to run `workflow_id` on `topic` (received with `durable.recv`).

        Raises `WorkflowNotFound` when no run has that id.
        """
        data = self.codec.encode(value, what=f"message {topic!r}", workflow_id=workflow_id)
        await self.journal.send_message(workflow_id, topic, data, key=None)
        self.changed(workflow_id).set()

    async def get_event(self, workflow_id: str, key: str, timeout: float | None = None) -> Any:
        """The value a run published with `durable.set_event(key, ...)`.

        Waits until it is set, at most `timeout` seconds (then returns None).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        safety = 0.5
        if self._wakeups.notified:  # woken by notifications: the look is only a fallback
            safety = self.poll_interval or 2.0
        while True:
            since = self.changed(workflow_id).count  # before the read: no news is missed
            data = await self.journal.get_event(workflow_id, key)
            if data is not None:
                return self.codec.decode(data, what=f"event {key!r}", workflow_id=workflow_id)
            await self._record(workflow_id)  # WorkflowNotFound for an unknown id
            wait = safety if deadline is None else min(safety, deadline - time.monotonic())
            if wait <= 0:
                return None
            await self.wait_changed(workflow_id, wait, since=since)

    async def lineage(self, workflow_id: str) -> LineageNode:
        """The tree of runs under `workflow_id`'s root: ids, names, statuses, timings."""
        record = await self._record(workflow_id)
        family = await self.journal.list_runs(root_id=record.root_id, limit=100_000)
        by_parent: dict[str | None, builtins.list[base.RunRecord]] = {}
        for member in family:
            by_parent.setdefault(member.parent_id, []).append(member)

        def build(member: base.RunRecord) -> LineageNode:
            kids = sorted(by_parent.get(member.id, []), key=lambda r: (r.parent_seq or 0, r.id))
            created = _when(member.created_at)
            assert created is not None
            return LineageNode(
                id=member.id,
                name=member.name,
                status=member.status,
                parent_id=member.parent_id,
                created_at=created,
                finished_at=_when(member.finished_at),
                children=tuple(build(kid) for kid in kids),
            )

        root = next((m for m in family if m.id == record.root_id), record)
        return build(root)
