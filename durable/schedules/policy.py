"""What a schedule does when ticks are due: pure decisions, no I/O.

`plan` takes a schedule's row, the time and whether its latest run is unfinished, and
returns the `schedule_store.Advance` to commit: the new cursor, the runs to create and
the ticks skipped with their reason.  Engines commit it compare-and-set on the row's
version, so whichever engine plans first wins and the others plan again from the
new row.

Rules (Temporal's, see the README):

- catch-up decides which due ticks are candidates: ``latest`` the most recent one (if
  within ``catchup_window``), ``all`` every one within the window, ``none`` only the
  most recent one and only if it is not late (less than `LATE_AFTER` seconds past);
  the others are skipped with reason ``catch-up``;
- overlap decides which candidates run while the previous run is unfinished: ``skip``
  none (reason ``overlap``), ``buffer_one`` the first is held and runs when the
  previous run ends (more: ``overlap``), ``allow_all`` all, ``cancel_other`` the last,
  and the previous run is cancelled;
- a paused schedule skips every due tick with reason ``paused``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from collections.abc import Callable

import msgspec

from durable.journal import base
from durable.journal import schedule_store as store
from durable.schedules import spec as spec_mod

__all__ = ["CATCHUPS", "OVERLAPS", "Plan", "Settings", "plan"]

OVERLAPS = ("skip", "buffer_one", "allow_all", "cancel_other")
CATCHUPS = ("latest", "all", "none")
LATE_AFTER = 60.0  # seconds after which a tick counts as missed for catchup="none"
MAX_TICKS = 1000  # ticks looked at in one advance (more: the next advance goes on)
DEFAULT_WINDOW = 365 * 86400.0  # Temporal's default catch-up window: a year
MAX_EVERY = 100 * 365 * 86400.0  # a century: beyond, the tick arithmetic loses meaning


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule's timing and policies, stored as JSON in its row's `spec`."""

    cron: str | None = None
    every: float | None = None
    tz: str = "UTC"
    overlap: str = "skip"
    catchup: str = "latest"
    catchup_window: float = DEFAULT_WINDOW
    jitter: float = 0.0
    # whether the workflow takes the tick first (None: not known where it was created)
    tick: bool | None = None

    def __post_init__(self) -> None:
        if self.overlap not in OVERLAPS:
            raise ValueError(f"overlap={self.overlap!r}: give one of {', '.join(OVERLAPS)}")
        if self.catchup not in CATCHUPS:
            raise ValueError(f"catchup={self.catchup!r}: give one of {', '.join(CATCHUPS)}")
        if not 0 < self.catchup_window < math.inf or not 0 <= self.jitter < math.inf:
            raise ValueError("catchup_window must be positive and jitter not negative (finite)")
        if self.every is not None and not self.every <= MAX_EVERY:
            raise ValueError(f"every={self.every!r}: give at most {MAX_EVERY:g} seconds")
        for name in ("cron", "tz"):
            if "\x00" in (getattr(self, name) or ""):
                raise ValueError(f"{name} holds a NUL character")

    def spec(self) -> spec_mod.Spec:
        return spec_mod.parse_spec(self.cron, self.every, self.tz)

    def encode(self) -> str:
        return msgspec.json.encode(self).decode()

    @classmethod
    def decode(cls, text: str) -> Settings:
        return msgspec.json.decode(text, type=cls)


def jitter_of(schedule_id: str, tick: float, jitter: float) -> float:
    """The delay of `tick` in ``[0, jitter)``: the same in every engine."""
    if jitter <= 0:
        return 0.0
    digest = hashlib.blake2b(f"{schedule_id}@{tick!r}".encode(), digest_size=8).digest()
    return jitter * int.from_bytes(digest) / 2**64


def next_due(schedule_id: str, settings: Settings, spec: spec_mod.Spec, cursor: float) -> float:
    """When the first tick after `cursor` is due (its jitter included)."""
    tick = spec.next_after(cursor)
    return tick + jitter_of(schedule_id, tick, settings.jitter)


def run_id(schedule_id: str, tick: float) -> str:
    """The id of a tick's run: ``<schedule id>@<tick, ISO 8601 UTC>``."""
    return f"{schedule_id}@{spec_mod.format_tick(tick)}"


@dataclasses.dataclass(slots=True)
class Plan:
    """An advance to commit, the ticks it runs, and the run to cancel after it commits."""

    advance: store.Advance
    fired: list[float]
    cancel: str | None = None


def _due_ticks(record: store.ScheduleRecord, spec: spec_mod.Spec, now: float) -> list[float]:
    """The ticks after the cursor that are due at `now`, the first `MAX_TICKS` of them."""
    ticks = []
    for tick in itertools.islice(spec.ticks_after(record.cursor), MAX_TICKS):
        if tick > now:
            break
        ticks.append(tick)
    return ticks


def _candidates(
    settings: Settings, ticks: list[float], latest: float | None, now: float
) -> tuple[list[float], list[store.Skip]]:
    """Split due ticks by the catch-up policy; `latest` is the most recent due tick
    (None when more due ticks follow these)."""
    window = [t for t in ticks if now - t <= settings.catchup_window]
    if settings.catchup == "all":
        chosen = window
    elif settings.catchup == "latest":
        chosen = [latest] if latest is not None and latest in window else []
    else:
        on_time = latest is not None and now - latest <= LATE_AFTER
        chosen = [latest] if on_time and latest is not None else []
    skipped = [
        store.Skip(tick=t, reason="catch-up", detail=f"catchup={settings.catchup}")
        for t in ticks
        if t not in chosen
    ]
    return chosen, skipped


def plan(
    record: store.ScheduleRecord,
    now: float,
    previous_running: bool,
    make_run: Callable[[float], base.NewRun],
) -> Plan | None:
    """The advance of a due schedule at `now` (None: nothing to do); see the module
    docstring for the rules."""
    settings = Settings.decode(record.spec)
    spec = settings.spec()
    ticks = _due_ticks(record, spec, now)
    fired: list[float] = []
    buffered = record.buffered
    if buffered is not None and not previous_running and not record.paused:
        fired.append(buffered)  # the held tick runs now that the previous run ended
        buffered = None
        previous_running = True
    if not ticks and len(fired) == 0:
        return None
    skips: list[store.Skip] = []
    cancel = None
    if record.paused:
        skips = [store.Skip(tick=t, reason="paused", detail=record.note) for t in ticks]
    elif ticks:
        more = spec.next_after(ticks[-1]) <= now
        chosen, skips = _candidates(settings, ticks, None if more else ticks[-1], now)
        if settings.overlap == "cancel_other" and chosen:
            skips += [
                store.Skip(tick=t, reason="overlap", detail="cancel_other") for t in chosen[:-1]
            ]
            chosen = chosen[-1:]
            if previous_running and record.last_run is not None:
                cancel = record.last_run
            previous_running = False
        for tick in chosen:
            if not previous_running or settings.overlap in ("allow_all", "cancel_other"):
                fired.append(tick)
                previous_running = True
            elif settings.overlap == "buffer_one" and buffered is None:
                buffered = tick
            else:
                skips.append(store.Skip(tick=tick, reason="overlap", detail=settings.overlap))
    cursor = ticks[-1] if ticks else record.cursor
    runs = [make_run(tick) for tick in fired]
    advance = store.Advance(
        id=record.id,
        expected_version=record.version,
        cursor=cursor,
        next_at=next_due(record.id, settings, spec, cursor),
        buffered=buffered,
        last_run=runs[-1].id if runs else record.last_run,
        paused=record.paused,
        note=record.note,
        runs=runs,
        skips=sorted(skips, key=lambda s: s.tick),
    )
    return Plan(advance=advance, fired=fired, cancel=cancel)
