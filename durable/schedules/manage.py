"""`engine.schedules`: creating, inspecting and operating on schedules.

Every change is a compare-and-set on the schedule's row (retried on a lost race), so
it composes with the engines firing it: a pause committed before a tick's advance
makes that tick ``paused``; one committed after it leaves the tick's run in place.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal import base
from durable.journal import schedule_store as store
from durable.runs import Run
from durable.runtime import registry
from durable.schedules import declared, firing, policy, spec

if TYPE_CHECKING:
    from durable.api import Workflow
    from durable.engine import Engine

__all__ = ["MAX_BACKFILL", "ScheduleInfo", "Schedules", "SkippedTick"]

MAX_BACKFILL = 10_000  # ticks one backfill may start
SHOWN_SKIPS = 50


def _utc(ts: float | None) -> datetime.datetime | None:
    return None if ts is None else spec.tick_datetime(ts)


@dataclasses.dataclass(frozen=True, slots=True)
class SkippedTick:
    """A tick that did not run: `reason` is ``overlap``, ``catch-up`` or ``paused``."""

    tick: datetime.datetime
    reason: str
    detail: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A schedule as `Schedules.get` and `list` return it."""

    id: str
    workflow: str
    cron: str | None
    every: float | None
    tz: str
    args: list[Any]
    overlap: str
    catchup: str
    catchup_window: float
    jitter: float
    paused: bool
    note: str | None
    cursor: datetime.datetime | None
    next_tick: datetime.datetime | None
    buffered: datetime.datetime | None
    last_run: str | None
    origin: str
    created_at: datetime.datetime | None
    updated_at: datetime.datetime | None
    skipped: list[SkippedTick] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As the CLI's ``--json`` and the HTTP API show it (times in ISO 8601 UTC)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime.datetime):
                value = spec.format_tick(value.timestamp())
            out[field.name] = value
        out["skipped"] = [
            {"tick": spec.format_tick(s.tick.timestamp()), "reason": s.reason, "detail": s.detail}
            for s in self.skipped
        ]
        return out


class Schedules:
    """The schedules of an engine's journal (``engine.schedules``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def _store(self) -> store.ScheduleStore:
        return store.of(self._engine.journal)

    def _now(self) -> float:
        return self._engine.journal.now()

    async def _record(self, schedule_id: str) -> store.ScheduleRecord:
        record = await self._store.get_schedule(schedule_id)
        if record is None:
            raise errors.ScheduleNotFound(schedule_id=schedule_id)
        return record

    def _info(self, record: store.ScheduleRecord, skips: Sequence[store.Skip] = ()) -> ScheduleInfo:
        settings = policy.Settings.decode(record.spec)
        codec = self._engine.codec
        try:
            args = list(codec.decode(record.args, what="schedule args"))
        except errors.SerializationError as exc:
            args = [f"<undecodable: {exc}>"]
        return ScheduleInfo(
            id=record.id,
            workflow=record.workflow,
            cron=settings.cron,
            every=settings.every,
            tz=settings.tz,
            args=args,
            overlap=settings.overlap,
            catchup=settings.catchup,
            catchup_window=settings.catchup_window,
            jitter=settings.jitter,
            paused=record.paused,
            note=record.note,
            cursor=_utc(record.cursor),
            next_tick=_utc(record.next_at),
            buffered=_utc(record.buffered),
            last_run=record.last_run,
            origin=record.origin,
            created_at=_utc(record.created_at),
            updated_at=_utc(record.updated_at),
            skipped=[
                SkippedTick(tick=spec.tick_datetime(s.tick), reason=s.reason, detail=s.detail)
                for s in skips
            ],
        )

    async def create(
        self,
        schedule_id: str,
        wf: Workflow[..., Any] | str,
        *,
        cron: str | None = None,
        every: float | None = None,
        args: Sequence[Any] = (),
        tz: str | None = None,
        overlap: str = "skip",
        catchup: str = "latest",
        catchup_window: float | None = None,
        jitter: float = 0.0,
        paused: bool = False,
        note: str | None = None,
    ) -> ScheduleInfo:
        """Create the schedule `schedule_id` starting runs of `wf` (a workflow or its
        name) at each tick of `cron` (in `tz`) or `every` seconds.

        Its first tick is the first after now.  Creating an id that exists replaces its
        timing, policies and arguments and keeps its cursor, pause and history (ticks
        already handled are not run again).
        """
        name = wf if isinstance(wf, str) else wf.name
        definition = registry.lookup_workflow(name)
        settings = policy.Settings(
            cron=cron,
            every=every,
            tz=tz or "UTC",
            overlap=overlap,
            catchup=catchup,
            catchup_window=catchup_window or policy.DEFAULT_WINDOW,
            jitter=jitter,
            tick=None if definition is None else firing.wants_tick(definition.fn, len(args)),
        )
        settings.spec()  # a bad expression or zone fails here, nothing written
        data = self._engine.codec.encode(list(args), what=f"args of schedule {schedule_id!r}")
        record = await self.put(schedule_id, name, settings, data, origin="api")
        if paused:
            return await self.pause(schedule_id, note=note)
        return self._info(record)

    async def put(
        self,
        schedule_id: str,
        workflow: str,
        settings: policy.Settings,
        args: bytes,
        *,
        origin: str,
    ) -> store.ScheduleRecord:
        """Insert or replace a schedule's definition (see `create`); returns its row."""
        if not schedule_id or "@" in schedule_id or "\x00" in schedule_id:
            raise ValueError(f"schedule id {schedule_id!r}: give a non-empty id without '@'")
        if not workflow or "\x00" in workflow:
            raise ValueError(f"workflow name {workflow!r}: give a workflow's name")
        text, timing = settings.encode(), settings.spec()
        while True:
            old = await self._store.get_schedule(schedule_id)
            now = time.time()
            if old is not None and (old.spec, old.args, old.workflow) == (text, args, workflow):
                return old  # unchanged (every worker declares its schedules at start)
            cursor = self._now() if old is None else old.cursor
            record = store.ScheduleRecord(
                id=schedule_id,
                workflow=workflow,
                spec=text,
                args=args,
                paused=old.paused if old is not None else False,
                note=old.note if old is not None else None,
                cursor=cursor,
                next_at=policy.next_due(schedule_id, settings, timing, cursor),
                buffered=old.buffered if old is not None else None,
                last_run=old.last_run if old is not None else None,
                version=0 if old is None else old.version + 1,
                origin=origin,
                created_at=now if old is None else old.created_at,
                updated_at=now,
            )
            expected = None if old is None else old.version
            if await self._store.put_schedule(record, expected):
                return record

    async def _change(
        self,
        schedule_id: str,
        change: Callable[[store.ScheduleRecord], Awaitable[store.Advance | None]],
    ) -> store.ScheduleRecord:
        """Apply `change` to the schedule's row, compare-and-set, retried on lost races."""
        while True:
            record = await self._record(schedule_id)
            advance = await change(record)
            if advance is None or (await self._store.advance_schedules([advance]))[0]:
                return await self._record(schedule_id)

    @staticmethod
    def _same(record: store.ScheduleRecord, **changes: Any) -> store.Advance:
        fields: dict[str, Any] = {
            "id": record.id,
            "expected_version": record.version,
            "cursor": record.cursor,
            "next_at": record.next_at,
            "buffered": record.buffered,
            "last_run": record.last_run,
            "paused": record.paused,
            "note": record.note,
        }
        fields.update(changes)
        return store.Advance(**fields)

    async def pause(self, schedule_id: str, note: str | None = None) -> ScheduleInfo:
        """Stop firing: ticks due while paused are skipped with reason ``paused``."""
        if note is not None and "\x00" in note:
            raise ValueError("the note holds a NUL character")

        async def change(record: store.ScheduleRecord) -> store.Advance:
            return self._same(record, paused=True, note=note)

        return self._info(await self._change(schedule_id, change))

    async def resume(self, schedule_id: str) -> ScheduleInfo:
        """Fire again from the next tick; the ticks missed while paused stay skipped."""

        async def change(record: store.ScheduleRecord) -> store.Advance | None:
            if not record.paused:
                return None
            now = self._now()
            found = policy.plan(record, now, False, lambda tick: _never(record.id, tick))
            skips = found.advance.skips if found is not None else []
            settings = policy.Settings.decode(record.spec)
            cursor = max(record.cursor, now)
            next_at = policy.next_due(record.id, settings, settings.spec(), cursor)
            return self._same(
                record, paused=False, note=None, cursor=cursor, next_at=next_at, skips=skips
            )

        return self._info(await self._change(schedule_id, change))

    async def trigger(self, schedule_id: str) -> Run:
        """Start a run now (its tick: now), whatever the overlap policy."""
        scheduler = self._engine.scheduler
        made: list[base.NewRun] = []

        async def change(record: store.ScheduleRecord) -> store.Advance:
            tick = round(self._now(), 3)
            made[:] = [firing.new_run(scheduler, record, tick, reason="trigger")]
            return self._same(record, last_run=made[0].id, runs=made)

        await self._change(schedule_id, change)
        scheduler.dispatcher.want()
        return Run(self._engine, made[0].id)

    async def backfill(
        self, schedule_id: str, start: datetime.datetime, end: datetime.datetime
    ) -> list[Run]:
        """Start the runs of the ticks in ``[start, end)`` (aware datetimes; naive ones
        are UTC), whatever the overlap policy; a tick whose run exists is left as it is.
        The cursor does not move."""
        record = await self._record(schedule_id)
        first, last = _posix(start), _posix(end)
        timing = policy.Settings.decode(record.spec).spec()
        ticks: list[float] = []
        for tick in timing.ticks_after(first - 0.001):
            if tick >= last:
                break
            if len(ticks) == MAX_BACKFILL:
                raise ValueError(
                    f"backfill of schedule {schedule_id!r} spans more than {MAX_BACKFILL} "
                    "ticks; give a shorter range (nothing was started)"
                )
            ticks.append(tick)
        scheduler = self._engine.scheduler
        runs = [firing.new_run(scheduler, record, t, reason="backfill") for t in ticks]
        if runs:
            await self._engine.journal.start_from_source(base.SourceStart(runs=runs))
            scheduler.dispatcher.want()
        return [Run(self._engine, run.id) for run in runs]

    async def delete(self, schedule_id: str) -> None:
        """Delete the schedule and its skip records (its runs stay)."""
        if not await self._store.delete_schedule(schedule_id):
            raise errors.ScheduleNotFound(schedule_id=schedule_id)

    async def list(self) -> list[ScheduleInfo]:
        """Every schedule, by id."""
        return [self._info(record) for record in await self._store.list_schedules()]

    async def get(self, schedule_id: str) -> ScheduleInfo:
        """The schedule, with its latest skipped ticks (newest first)."""
        record = await self._record(schedule_id)
        return self._info(record, await self._store.schedule_skips(schedule_id, SHOWN_SKIPS))

    async def declare_all(self) -> None:
        """Write the schedules declared by ``@workflow(schedule=...)`` of the workflows
        this process registered (a changed declaration replaces the stored one)."""
        for name, timing in sorted(declared.declared().items()):
            definition = registry.lookup_workflow(name)
            if definition is None:
                continue
            settings = policy.Settings(
                **timing.describe(), tick=firing.wants_tick(definition.fn, 0)
            )
            args = self._engine.codec.encode([], what=f"args of schedule {name!r}")
            await self.put(name, name, settings, args, origin="decorator")


def _never(schedule_id: str, tick: float) -> base.NewRun:
    raise AssertionError(f"a paused schedule {schedule_id!r} planned a run at {tick}")


def _posix(when: datetime.datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()
