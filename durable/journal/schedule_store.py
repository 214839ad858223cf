"""The journal's side of schedules: the stored rows and the operations on them
(`ScheduleStore`, implemented by `sqlite_schedules` and `postgres/schedules`).

All timing is POSIX seconds.  `advance` is the only write that fires ticks: it moves a
schedule's cursor compare-and-set on its `version` and creates the ticks' runs and skip
records in the same transaction, so two engines firing one tick cannot both win, and a
tick's run exists exactly when the cursor has passed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

import msgspec

from durable.journal import base

__all__ = [
    "SCHEDULES_WAKEUP",
    "Advance",
    "ScheduleRecord",
    "ScheduleStore",
    "Skip",
    "of",
]

# the key under which schedule changes are announced (Postgres NOTIFY, SQLite's bus)
SCHEDULES_WAKEUP = "durable-schedules"

SCHEDULE_COLUMNS = (
    "id workflow spec args paused note cursor next_at buffered last_run version origin "
    "created_at updated_at"
).split()


class ScheduleRecord(msgspec.Struct, kw_only=True):
    """One row of the schedules table.  `spec` is the JSON of its timing and policies,
    `args` the encoded list of arguments; `cursor` the last tick handled (fired or
    skipped), `next_at` when the next one is due (its jitter included), `buffered` a
    tick held back by ``overlap="buffer_one"``, `last_run` the id of the latest run."""

    id: str
    workflow: str
    spec: str
    args: bytes
    paused: bool = False
    note: str | None = None
    cursor: float
    next_at: float
    buffered: float | None = None
    last_run: str | None = None
    version: int = 0
    origin: str = "api"
    created_at: float
    updated_at: float

    def values(self) -> tuple[Any, ...]:
        """The columns in `SCHEDULE_COLUMNS` order."""
        return tuple(
            int(v) if isinstance(v, bool) else v
            for v in (getattr(self, name) for name in SCHEDULE_COLUMNS)
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ScheduleRecord:
        values = dict(zip(SCHEDULE_COLUMNS, row, strict=True))
        values["paused"] = bool(values["paused"])
        values["args"] = bytes(values["args"])
        return cls(**values)


class Skip(msgspec.Struct, frozen=True, kw_only=True):
    """A tick not run and why: ``overlap``, ``catch-up`` or ``paused``.  `detail` says more
    (a row may stand for many ticks, counted there)."""

    tick: float
    reason: str
    detail: str | None = None
    recorded_at: float = 0.0


class Advance(msgspec.Struct, kw_only=True):
    """A schedule's new state with the runs and skips that go with it; applied only if
    the row is still at `expected_version`."""

    id: str
    expected_version: int
    cursor: float
    next_at: float
    buffered: float | None
    last_run: str | None
    paused: bool
    note: str | None
    runs: list[base.NewRun] = msgspec.field(default_factory=list)
    skips: list[Skip] = msgspec.field(default_factory=list)


class ScheduleStore(Protocol):
    """Schedule operations of a journal (see the module docstring)."""

    async def put_schedule(self, record: ScheduleRecord, expected_version: int | None) -> bool:
        """Insert `record` (`expected_version` None: only if the id is free) or replace
        the row still at `expected_version`; returns whether it was written.  Announces
        `SCHEDULES_WAKEUP` on commit."""

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """The schedule's row, or None."""

    async def list_schedules(self) -> list[ScheduleRecord]:
        """Every schedule, by id."""

    async def due_schedules(self, now: float, limit: int) -> list[ScheduleRecord]:
        """Up to `limit` schedules due at `now` (``next_at <= now``) or holding a
        buffered tick, earliest first."""

    async def next_schedule_at(self) -> float | None:
        """The earliest ``next_at`` of all schedules (None: there are none)."""

    async def advance_schedules(self, advances: Sequence[Advance]) -> list[bool]:
        """Apply each advance whose schedule is at its expected version (the others:
        False, nothing of theirs written), all in one transaction: the new state, the
        runs (an existing id is left as it is) and the skips.  Announces new runs as
        work and `SCHEDULES_WAKEUP`."""

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete the schedule and its skip records; whether it existed."""

    async def schedule_skips(self, schedule_id: str, limit: int) -> list[Skip]:
        """The latest `limit` skip records of a schedule, newest first."""


def of(journal: base.Journal) -> ScheduleStore:
    """`journal`'s schedule operations (both backends implement them)."""
    return cast(ScheduleStore, journal)
