"""`Features`: the optional features of a journal (change and work notifications,
liveness locks, closing early), each with what a journal without it does.  Backends
inherit it and override what they have; `durable.journal.base.Journal` lists the same
operations for callers."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Features"]


class Features:
    """The optional features of a journal, with what a journal without them does.

    Backends inherit this class and override what they have, so callers never probe
    for a method.  Postgres has them all (``LISTEN/NOTIFY`` and an advisory lock per
    engine); SQLite announces work and changes to the processes of its machine through
    wake-up sockets (`durable.journal.local_bus`) and knows dead holders by their pid.
    """

    @property
    def announces_work(self) -> bool:
        """Whether `watch_work` hears of runs made claimable by other processes (then
        the engine's poll is only a fallback)."""
        return False

    @property
    def notifies_changes(self) -> bool:
        """Whether `watch` hears of changes made by other processes."""
        return False

    def closing(self, grace: float) -> None:
        """The journal is about to close: operations retrying across an outage give up
        `grace` seconds from now (their writes fail with `JournalError`, as after a
        crash) instead of waiting out the outage limit.  Without the feature (a journal
        whose writes do not wait for a server): nothing to do."""

    def watch(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(run_id)`` for every change of a run notified from now on, and
        ``callback(None)`` whenever changes may have been missed (listening started or
        restarted).  A caller that keeps a flag per run from it, and looks at the flag
        before it reads, misses no change (the engine does: `durable.wakeups`).
        Without the feature: never called."""

    def watch_work(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever another process may have made a run claimable
        (created one nobody holds, released runs, reopened one), and once when
        listening (re)starts.  A hint: the callback's owner claims with `claim_batch`.
        Without the feature: never called."""

    async def register_owner(self, owner: str) -> None:
        """Mark `owner` (this engine) alive for as long as this journal stays open, for
        `owner_alive` in other processes.  Without the feature: nothing."""

    async def owner_alive(self, owner: str) -> bool:
        """False when the engine `owner` certainly no longer runs.  Without the feature:
        True (a holder on another machine is presumed dead only when its lease expires)."""
        return True

    def abandon(self) -> None:
        """Drop pending writes and connections as a killed process would (crash tests).
        Without the feature: nothing."""

    @property
    def read_only(self) -> bool:
        """Whether the journal was opened read-only (see `allow_read_only`): every write
        raises `JournalError`.  Without the feature: False."""
        return False

    def allow_read_only(self) -> None:
        """Before `open`: open a journal this process cannot write read-only, for an
        engine that only inspects, instead of refusing it at open.  Without the feature:
        nothing (the journal opens as it always does)."""

    def now(self) -> float:
        """The journal's clock (seconds since the epoch), by which leases are written and
        judged, so that engines whose clocks disagree agree on who holds a run.  Without
        the feature: this machine's clock (SQLite: every engine is on this machine)."""
        return time.time()

    async def sync_clock(self) -> None:
        """Measure again how this machine's clock differs from the journal's (engines call
        it now and then).  Without the feature: nothing."""
