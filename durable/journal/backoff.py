"""Waits between retries of a journal operation that failed for a reason that may pass
(a lost connection, a restarting server, a locked file)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Waits that double from `first` to at most `most` seconds; `expired` once `limit`
    seconds have passed since it was made (never, when `limit` is None).

    >>> backoff = Backoff(0.02, 0.05)
    >>> [backoff.next() for _ in range(4)]
    [0.02, 0.04, 0.05, 0.05]
    """

    __slots__ = ("_cutoff", "_deadline", "delay", "first", "most")

    def __init__(
        self,
        first: float,
        most: float,
        *,
        limit: float | None = None,
        cutoff: Callable[[], float | None] | None = None,
    ) -> None:
        self.first = first
        self.most = most
        self.delay = first
        self._deadline = None if limit is None else time.monotonic() + limit
        self._cutoff = cutoff  # a later deadline (monotonic) that ends retrying too

    @property
    def expired(self) -> bool:
        """Whether the time given to retrying has run out (its limit, or its cutoff)."""
        now = time.monotonic()
        if self._deadline is not None and now > self._deadline:
            return True
        cut = self._cutoff() if self._cutoff is not None else None
        return cut is not None and now > cut

    def next(self) -> float:
        """The wait to make now; the next one is twice as long (up to `most`)."""
        delay = self.delay
        self.delay = min(delay * 2, self.most)
        return delay

    async def wait(self) -> None:
        """Sleep for `next()` seconds."""
        await asyncio.sleep(self.next())

    def reset(self) -> None:
        """Start again from `first` (the operation succeeded)."""
        self.delay = self.first
