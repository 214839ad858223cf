"""The loop that fires schedules, one per executing engine (and so per worker).

Leaderless: every engine that executes runs reads the due schedules, plans each one
(`policy.plan`) and commits the plans compare-and-set on the schedules' versions
(`ScheduleStore.advance_schedules`), creating the ticks' runs (ids
``<schedule>@<tick>``) in that transaction.  An engine that loses the race re-reads;
a tick's run can only be created once because the row's version and the run's unique
id both forbid a second.  The runs are nobody's: the dispatchers claim them as usual.

Between rounds the loop sleeps until the next due instant (read from the journal) or
until the journal announces a schedule change (created, edited, paused: Postgres
``NOTIFY``, SQLite's local bus), whichever is first; the sleep is cut in slices of
`SLICE` seconds checked against the wall clock, so a machine that was suspended
fires as soon as it wakes (once: catch-up decides what the missed ticks do).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal import base
from durable.journal import schedule_store as store
from durable.runtime import executor as executor_mod
from durable.runtime import registry
from durable.schedules import policy, spec

if TYPE_CHECKING:
    from durable.worker.scheduler import Scheduler

__all__ = ["Firer", "wants_tick"]

logger = logging.getLogger(__name__)

BATCH = 200  # schedules planned and committed per transaction
SPREAD = 8  # due rows read per batch planned, to pick the batch from
SLICE = 2.0  # seconds of sleep between looks at the wall clock
IDLE = 30.0  # seconds between looks when nothing is due (changes are announced anyway)
STOP_WAIT = 10.0  # seconds `stop` waits for the loop to end
BUFFERED_LOOK = 0.25  # seconds between looks while a tick waits on buffer_one
FAILING_LOOK = 60.0  # seconds before a schedule that failed to plan here is tried again


def wants_tick(fn: Any, nargs: int) -> bool:
    """Whether a workflow takes the tick first: its first parameter is named ``tick`` or
    annotated ``datetime``, or it takes more positional arguments than the `nargs` given."""
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if not params:
        return False
    first = params[0]
    note = (
        first.annotation
        if isinstance(first.annotation, str)
        else getattr(first.annotation, "__name__", "")
    )
    if first.name == "tick" or note in ("datetime", "datetime.datetime"):
        return True
    fixed = [p for p in params if p.kind != p.VAR_POSITIONAL]
    return len(fixed) > nargs and not any(p.kind == p.VAR_POSITIONAL for p in params)


def new_run(
    scheduler: Scheduler, record: store.ScheduleRecord, tick: float, *, reason: str
) -> base.NewRun:
    """The run of `record`'s `tick` (its arguments: the tick first if the workflow takes
    it, then the schedule's args).  Raises `NotRegistered` when whether it takes the tick
    is known neither here (the workflow is not imported) nor from the schedule's creator."""
    codec = scheduler.codec
    rid = policy.run_id(record.id, tick)
    args = list(codec.decode(record.args, what="schedule args", workflow_id=rid))
    definition = registry.lookup_workflow(record.workflow)
    takes = policy.Settings.decode(record.spec).tick
    if definition is not None:
        takes = wants_tick(definition.fn, len(args))
    if takes is None:
        raise errors.NotRegistered(
            f"schedule {record.id!r} starts workflow {record.workflow!r}, which this process "
            "has not imported, so it cannot tell whether the workflow takes the tick; "
            "import its module (-m MODULE) here",
            workflow_id=rid,
            name=record.workflow,
        )
    if takes:
        args.insert(0, spec.tick_datetime(tick))
    metadata = {"schedule": record.id, "tick": spec.format_tick(tick), "fired": reason}
    return base.NewRun(
        id=rid,
        name=record.workflow,
        root_id=rid,
        input=executor_mod.encode_input(codec, tuple(args), {}, rid),
        queue=definition.queue if definition is not None else None,
        metadata=codec.encode(metadata, what="metadata", workflow_id=rid),
        created_at=time.time(),
    )


class Firer:
    """One engine's schedule loop (see the module docstring)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.fired = 0  # runs this engine created for ticks (tests, benchmarks)
        self.lost = 0  # advances another engine committed first
        # seconds from each recently fired tick to its commit (the latest 10,000)
        self.delays: collections.deque[float] = collections.deque(maxlen=10_000)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()  # the loop ends at its next look (see `stop`)
        self._failing: dict[str, float] = {}  # schedule id -> monotonic time to retry

    @property
    def _store(self) -> store.ScheduleStore:
        return store.of(self.scheduler.journal)

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.loop(), name="durable-schedules")

    async def stop(self) -> None:
        """End the loop: it is told (it also ends between two statements of a round at its
        next look, not only by cancellation: a full test run once showed the loop's cancel
        consumed inside its wait, leaving the engine's close waiting for ever)."""
        if self._task is not None:
            self._stopping.set()
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=STOP_WAIT)
            if not done:
                logger.warning(
                    "the schedule loop did not stop within %gs; left behind",
                    STOP_WAIT,
                    extra={"action": "schedule", "workflow_id": None},
                )
            elif not self._task.cancelled():
                self._task.exception()  # retrieved: a loop that ended by itself
            self._task = None

    def abandon(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def loop(self) -> None:
        """Fire until cancelled; a failing journal is retried with backoff."""
        wait = 0.05
        news = self.scheduler.wakeups.news(store.SCHEDULES_WAKEUP)
        while self.scheduler.open and not self._stopping.is_set():
            since = news.count  # before the reads: no announcement falls between
            try:
                more = await self.round()
                if more:
                    continue
                pause = await self._until_due()
                wait = 0.05
            except asyncio.CancelledError:
                raise
            except errors.JournalError as exc:
                logger.warning(
                    "firing schedules failed: %s; retrying in %.2fs",
                    exc,
                    wait,
                    extra={"action": "schedule", "workflow_id": None},
                )
                pause, wait = wait, min(wait * 2, 2.0)
            await self._sleep(pause, since)

    async def _until_due(self) -> float:
        nxt = await self._store.next_schedule_at()
        if nxt is None:
            return IDLE
        return min(IDLE, max(0.0, nxt - self.scheduler.journal.now()))

    async def _sleep(self, pause: float, since: int) -> None:
        """Sleep `pause` wall-clock seconds, or until a schedule change is announced."""
        wakeups = self.scheduler.wakeups
        deadline = time.time() + pause
        news = wakeups.news(store.SCHEDULES_WAKEUP)
        while (left := deadline - time.time()) > 0 and not self._stopping.is_set():
            await wakeups.wait(
                store.SCHEDULES_WAKEUP, min(left, SLICE), since=since, also=self._stopping
            )
            if news.count != since:
                return

    async def round(self) -> bool:
        """Fire what is due now; whether more may be due at once (a full batch)."""
        now = self.scheduler.journal.now()
        found_due = await self._store.due_schedules(now, BATCH * SPREAD)
        # engines reading the same due rows each take a random batch of them: fewer lost
        # races (a batch commits in one transaction: the first to commit takes it all)
        due = random.sample(found_due, min(BATCH, len(found_due)))
        plans = []
        for record in due:
            if self._failing.get(record.id, 0.0) > time.monotonic():
                continue
            try:
                found = await self._plan(record, now)
            except (ValueError, errors.SerializationError, errors.NotRegistered) as exc:
                # another engine (one that imports the workflow) may fire it: look again later
                self._failing[record.id] = time.monotonic() + FAILING_LOOK
                logger.error(
                    "schedule %s cannot fire here: %s; looking again in %gs",
                    record.id,
                    exc,
                    FAILING_LOOK,
                    extra={"action": "schedule", "workflow_id": None},
                )
                continue
            if found is not None:
                plans.append(found)
        if plans:
            await self._commit(plans, now)
        elif due:
            # due rows none of which can go on now (held ticks waiting on their previous
            # runs, schedules failing here): look again shortly, not at once
            await asyncio.sleep(BUFFERED_LOOK)
        return bool(plans) and (len(found_due) > len(due) or len(due) == BATCH)

    async def _plan(self, record: store.ScheduleRecord, now: float) -> policy.Plan | None:
        running = False
        if record.last_run is not None and (record.next_at <= now or record.buffered is not None):
            run = await self.scheduler.journal.get_run(record.last_run)
            running = run is not None and run.status not in base.TERMINAL
        return policy.plan(
            record, now, running, lambda tick: new_run(self.scheduler, record, tick, reason="tick")
        )

    async def _commit(self, plans: list[policy.Plan], now: float) -> None:
        plans.sort(key=lambda p: p.advance.id)  # rows locked in one order: no deadlock
        done = await self._store.advance_schedules([p.advance for p in plans])
        committed = time.time()
        for found, won in zip(plans, done, strict=True):
            if not won:
                self.lost += 1
                continue
            self.fired += len(found.fired)
            self.delays.extend(committed - tick for tick in found.fired if now - tick < 60)
            for tick in found.fired:
                logger.info(
                    "schedule %s fired tick %s",
                    found.advance.id,
                    spec.format_tick(tick),
                    extra={
                        "action": "schedule_fire",
                        "workflow_id": policy.run_id(found.advance.id, tick),
                    },
                )
            if found.cancel is not None:
                try:
                    await self.scheduler.cancel(found.cancel)
                except errors.DurableError as exc:
                    logger.warning("cancelling %s (cancel_other) failed: %s", found.cancel, exc)
        if any(done):
            self.scheduler.dispatcher.want()
