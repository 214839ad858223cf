"""`Cron` and `Every`: when a schedule's ticks fall.

Ticks are instants (aware UTC datetimes, held as POSIX seconds).  `Every` ticks at the
multiples of its interval since the epoch, so every engine computes the same ticks
without talking to the others.  `Cron` parses its expression with cronsim (Debian
cron's semantics, seconds as an optional first field) in its time zone; of a local time
that occurs twice (daylight saving ends) only the first occurrence is a tick, and one
that does not exist (it begins) fires at the next valid instant.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Cron", "Every", "Spec", "format_tick", "parse_spec"]

UTC = datetime.UTC


POLICIES = ("overlap", "catchup", "catchup_window", "jitter")


def _policies(**given: Any) -> dict[str, Any]:
    """The policies a decorator's schedule was given (None: the default), checked as
    `engine.schedules.create` checks them."""
    from durable.schedules import policy  # it imports this module

    chosen = {name: value for name, value in given.items() if value is not None}
    policy.Settings(every=1.0, **chosen)  # a ValueError that names the bad one
    return chosen


def _said(policies: dict[str, Any]) -> str:
    return "".join(f", {name}={policies[name]!r}" for name in POLICIES if name in policies)


def _cronsim() -> Any:
    try:
        import cronsim
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("durable.Cron needs cronsim: pip install 'durable[schedules]'") from exc
    return cronsim


class Cron:
    """A cron expression in a time zone: 5 fields, or 6 with seconds first.

    Parameters
    ----------
    expr:
        ``"0 6 * * *"`` (minute hour day month weekday) or ``"*/10 * * * * *"``
        (second first).
    tz:
        An IANA time zone name (``"Europe/Paris"``); the fields are read in its local
        time.
    overlap, catchup, catchup_window, jitter:
        The policies of a decorator's schedule (``@workflow(schedule=Cron(...))``), as
        `engine.schedules.create` takes them; unset: its defaults.

    Examples
    --------
    >>> import datetime
    >>> cron = Cron("0 6 * * *", tz="Europe/Paris")
    >>> cron.next_after(datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC).timestamp())
    1782878400.0
    """

    def __init__(
        self,
        expr: str,
        tz: str = "UTC",
        *,
        overlap: str | None = None,
        catchup: str | None = None,
        catchup_window: float | None = None,
        jitter: float | None = None,
    ) -> None:
        cronsim = _cronsim()
        fields = expr.split()
        if len(fields) not in (5, 6):
            raise ValueError(
                f"cron expression {expr!r} has {len(fields)} fields; give 5 "
                "(minute hour day month weekday) or 6 (second first)"
            )
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r} (give an IANA name)") from exc
        try:
            cronsim.CronSim(expr, datetime.datetime.now(self.zone))
        except cronsim.CronSimError as exc:
            raise ValueError(f"bad cron expression {expr!r}: {exc}") from exc
        self.expr = expr
        self.tz = tz
        self.policies = _policies(
            overlap=overlap, catchup=catchup, catchup_window=catchup_window, jitter=jitter
        )

    def __repr__(self) -> str:
        return f"durable.Cron({self.expr!r}, tz={self.tz!r}{_said(self.policies)})"

    def _key(self) -> tuple[Any, ...]:
        return (self.expr, self.tz, sorted(self.policies.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cron) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.expr, self.tz))

    def ticks_after(self, after: float) -> Iterator[float]:
        """The ticks later than `after` (POSIX seconds), in order, for ever."""
        cronsim = _cronsim()
        start = datetime.datetime.fromtimestamp(after, self.zone)
        previous = after
        for local in cronsim.CronSim(self.expr, start):
            # cronsim hands out the instants of both occurrences of a repeated wall
            # time (fold 0 then fold 1): the second is not a tick of its own
            if local.fold == 1 and _repeated(local):
                continue
            tick = local.timestamp()
            if tick > previous:
                previous = tick
                yield tick

    def next_after(self, after: float) -> float:
        """The first tick later than `after`."""
        return next(self.ticks_after(after))

    def describe(self) -> dict[str, Any]:
        """Its fields as `policy.Settings` takes them (its policies included)."""
        return {"cron": self.expr, "tz": self.tz, "every": None, **self.policies}


def _repeated(local: datetime.datetime) -> bool:
    """Whether `local` (fold 1) is the second occurrence of a wall time."""
    first = local.replace(fold=0)
    return first.utcoffset() != local.utcoffset()


class Every:
    """Ticks every `seconds`, at the multiples of it since the epoch (UTC).

    `overlap`, `catchup`, `catchup_window` and `jitter` are the policies of a decorator's
    schedule, as for `Cron`.

    Examples
    --------
    >>> Every(60).next_after(90.0)
    120.0
    """

    def __init__(
        self,
        seconds: float,
        *,
        overlap: str | None = None,
        catchup: str | None = None,
        catchup_window: float | None = None,
        jitter: float | None = None,
    ) -> None:
        if not seconds >= 0.1:
            raise ValueError(f"Every needs an interval of at least 0.1 seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self.policies = _policies(
            overlap=overlap, catchup=catchup, catchup_window=catchup_window, jitter=jitter
        )

    def __repr__(self) -> str:
        return f"durable.Every({self.seconds:g}{_said(self.policies)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Every) and (self.seconds, sorted(self.policies.items())) == (
            other.seconds,
            sorted(other.policies.items()),
        )

    def __hash__(self) -> int:
        return hash(self.seconds)

    def _tick(self, n: int) -> float:
        return round(n * self.seconds, 3)

    def ticks_after(self, after: float) -> Iterator[float]:
        n = int(after // self.seconds)
        while self._tick(n) <= after:
            n += 1
        while True:
            yield self._tick(n)
            n += 1

    def next_after(self, after: float) -> float:
        return next(self.ticks_after(after))

    def count_between(self, after: float, until: float) -> int:
        """How many ticks fall in ``(after, until]`` (computed, not counted one by one)."""
        if until <= after:
            return 0
        first = self.next_after(after)
        return 0 if first > until else int((until - first) // self.seconds) + 1

    def describe(self) -> dict[str, Any]:
        """Its fields as `policy.Settings` takes them (its policies included)."""
        return {"cron": None, "tz": "UTC", "every": self.seconds, **self.policies}


Spec = Cron | Every


def parse_spec(cron: str | None, every: float | None, tz: str | None) -> Spec:
    """The spec of a schedule stored with these fields (exactly one of cron, every)."""
    if (cron is None) == (every is None):
        raise ValueError("a schedule needs exactly one of cron= and every=")
    if cron is not None:
        return Cron(cron, tz=tz or "UTC")
    if tz not in (None, "UTC"):
        raise ValueError("tz= applies to cron schedules only (every= ticks in UTC)")
    assert every is not None
    return Every(every)


def format_tick(tick: float) -> str:
    """A tick as run ids spell it: ISO 8601 UTC, ``2026-12-02T06:00:00Z`` (milliseconds
    where the tick has them)."""
    when = datetime.datetime.fromtimestamp(tick, UTC)
    if when.microsecond:
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def tick_datetime(tick: float) -> datetime.datetime:
    """A tick as the workflow gets it: an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(tick, UTC)
