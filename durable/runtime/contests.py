"""Who may still consume: the contestants of a race, or a timeout's body against its
deadline.

A call that consumes something outside the run (a `recv` taking a message) must not do
so once the race or timeout around it has given up on it, and a race or timeout must not
give up on a call that is consuming.  Each race and timeout is a `Contest`; the work it
encloses runs with that contest (and the ones around it) in `context.contests`.  A
consumer *holds* every enclosing contest while its consuming write is in flight; a
decision (the race's winner, the timeout's firing) waits for holds to end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from durable.runtime import context

__all__ = ["BODY", "DEADLINE", "Contest", "Hold", "holding", "won"]

# the parties of a timeout's contest
BODY = 0
DEADLINE = 1


class Contest:
    """One race (`decisive`: a successful consumption wins it) or one timeout."""

    __slots__ = ("_free", "_holder", "decisive", "winner")

    def __init__(self, *, decisive: bool) -> None:
        self.decisive = decisive
        self.winner: int | None = None
        self._holder: int | None = None
        self._free = asyncio.Event()
        self._free.set()

    async def acquire(self, party: int) -> bool:
        """Hold the contest for `party`; False once it was decided for another party."""
        while True:
            if self.winner is not None:
                if self.winner != party:
                    return False
                if not self.decisive:
                    return True  # a timeout decided for the body: nothing left to guard
            if self._holder is None:
                self._holder = party
                self._free.clear()
                return True
            await self._free.wait()

    def release(self, party: int, consumed: bool) -> None:
        """End `party`'s hold; a consumption decides a race for it."""
        if self._holder == party:
            self._holder = None
            self._free.set()
        if consumed and self.decisive and self.winner is None:
            self.winner = party

    async def decide(self, party: int) -> int:
        """Decide for `party` unless a hold in flight decides first; returns the winner."""
        while self.winner is None and self._holder is not None:
            await self._free.wait()
        if self.winner is None:
            self.winner = party
        return self.winner


def won() -> None:
    """The running code consumed something before a restart (its replay says so): it won
    every race around it still undecided, as it did then."""
    for contest, party in context.contests.get():
        if contest.decisive and contest.winner is None:
            contest.winner = party


class Hold:
    """What `holding` yields: whether the code may consume, and whether it did."""

    __slots__ = ("consumed", "granted")

    def __init__(self) -> None:
        self.granted = True
        self.consumed = False


@contextlib.asynccontextmanager
async def holding() -> AsyncIterator[Hold]:
    """Hold every contest around the running code, outermost first.

    `Hold.granted` is False when a contest was already decided against the code: it must
    not consume.  Set `Hold.consumed` when it did: that decides the races it holds.
    """
    chain = context.contests.get()
    held: list[tuple[Contest, int]] = []
    hold = Hold()
    try:
        for contest, party in chain:
            if not await contest.acquire(party):
                hold.granted = False
                break
            held.append((contest, party))
        yield hold
    finally:
        for contest, party in reversed(held):
            contest.release(party, hold.granted and hold.consumed)
