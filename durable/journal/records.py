"""The journal's rows as records, and records as statement parameters, for every backend.

The column orders are those of the queries (``select_run``, ``select_entries``,
``select_attempts``, ``select_timers`` and the inserts in each dialect's
``queries.sql``): a backend reads a row selected in that order with ``*_from_row``.
Parameters come in the two forms the drivers take: ``*_values`` gives a record's
columns in order, for SQLite's positional ``?``; `named` turns those into a dict, for
Postgres's ``%(name)s``.  The Parquet export (`durable.export`) reads and writes the
same columns by name.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from durable.journal import base

__all__ = [
    "ATTEMPT_COLUMNS",
    "ENTRY_COLUMNS",
    "NEW_RUN_COLUMNS",
    "RUN_COLUMNS",
    "TIMER_COLUMNS",
    "attempt_from_row",
    "attempt_values",
    "created_run",
    "entry_from_row",
    "entry_values",
    "named",
    "new_run_values",
    "run_from_row",
    "run_from_values",
    "run_load",
    "timer_from_row",
    "timer_values",
]

RUN_COLUMNS = (
    "id name status input output error parent_id parent_seq root_id queue metadata attempt "
    "owner lease_expires_at wake_at priority created_at updated_at started_at finished_at "
    "cancel_requested start_at partition_key dedup_key detached"
).split()
ENTRY_COLUMNS = (
    "run_id seq ord kind name status fingerprint output error attempts started_at finished_at "
    "child_id"
).split()
ATTEMPT_COLUMNS = "run_id seq attempt error failed_at retry_at".split()
TIMER_COLUMNS = "run_id seq wake_at".split()
# the columns a new run is inserted with (`insert_run` / `create_run`)
NEW_RUN_COLUMNS = (
    "id name status input parent_id parent_seq root_id queue metadata owner lease_expires_at "
    "priority created_at start_at partition_key dedup_key detached"
).split()

_entry = operator.attrgetter(*ENTRY_COLUMNS)
_attempt = operator.attrgetter(*ATTEMPT_COLUMNS)
_timer = operator.attrgetter(*TIMER_COLUMNS)
_new_run = operator.attrgetter(*NEW_RUN_COLUMNS)


# -- rows to records ----------------------------------------------------------------------


def run_from_values(values: dict[str, Any]) -> base.RunRecord:
    """A run from its columns by name (a column left out takes its default)."""
    values["status"] = base.Status(values["status"])
    values["cancel_requested"] = bool(values.get("cancel_requested", False))
    values["detached"] = bool(values.get("detached", False))
    return base.RunRecord(**values)


def run_from_row(row: Sequence[Any]) -> base.RunRecord:
    """A run from a row in `RUN_COLUMNS` order; columns after those are ignored."""
    return run_from_values(dict(zip(RUN_COLUMNS, row, strict=False)))


def entry_from_row(row: Sequence[Any]) -> base.EntryRecord:
    """An entry from a row in `ENTRY_COLUMNS` order."""
    return base.EntryRecord(**dict(zip(ENTRY_COLUMNS, row, strict=True)))


def attempt_from_row(row: Sequence[Any]) -> base.AttemptRecord:
    """An attempt from a row in `ATTEMPT_COLUMNS` order."""
    return base.AttemptRecord(**dict(zip(ATTEMPT_COLUMNS, row, strict=True)))


def timer_from_row(row: Sequence[Any]) -> base.TimerRecord:
    """A timer from a row in `TIMER_COLUMNS` order."""
    return base.TimerRecord(**dict(zip(TIMER_COLUMNS, row, strict=True)))


def run_load(
    run: Sequence[Any],
    entries: Iterable[Sequence[Any]],
    attempts: Iterable[Sequence[Any]],
    timers: Iterable[Sequence[Any]],
) -> base.RunLoad:
    """A `RunLoad` from the rows of ``select_run``, ``select_entries``,
    ``select_attempts`` and ``select_timers``."""
    return base.RunLoad(
        run=run_from_row(run),
        entries=[entry_from_row(row) for row in entries],
        attempts=[attempt_from_row(row) for row in attempts],
        timers=[timer_from_row(row) for row in timers],
    )


def created_run(run: base.NewRun) -> base.RunRecord:
    """The row that inserting `run` writes (for a backend that does not read it back): a
    run created held by its engine is taken up at once, as its first attempt."""
    owned = run.owner is not None
    return base.RunRecord(
        **msgspec.structs.asdict(run),
        updated_at=run.created_at,
        attempt=1 if owned else 0,
        started_at=run.created_at if owned else None,
    )


# -- records to parameters ----------------------------------------------------------------


def entry_values(entry: base.EntryRecord) -> tuple[Any, ...]:
    """The entry's columns in `ENTRY_COLUMNS` order."""
    values: tuple[Any, ...] = _entry(entry)
    return values


def entry_params(entry: base.EntryRecord) -> dict[str, Any]:
    """The entry's columns as named parameters (the Postgres queries' ``%(seq)s`` style)."""
    return named(ENTRY_COLUMNS, entry_values(entry))


def attempt_values(attempt: base.AttemptRecord) -> tuple[Any, ...]:
    """The attempt's columns in `ATTEMPT_COLUMNS` order."""
    values: tuple[Any, ...] = _attempt(attempt)
    return values


def timer_values(timer: base.TimerRecord) -> tuple[Any, ...]:
    """The timer's columns in `TIMER_COLUMNS` order."""
    values: tuple[Any, ...] = _timer(timer)
    return values


def new_run_values(run: base.NewRun) -> tuple[Any, ...]:
    """The new run's columns in `NEW_RUN_COLUMNS` order (its status as plain text)."""
    values: tuple[Any, ...] = _new_run(run)
    return (*values[:2], run.status.value, *values[3:])


def named(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """Positional values as named parameters: ``named(ENTRY_COLUMNS, entry_values(e))``."""
    return dict(zip(columns, values, strict=True))
