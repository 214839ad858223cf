"""Waking an engine's waiters when a run they wait on may have changed.

Each run waited on has one `News` flag.  It is set by what the engine itself does (a
message or event sent through it) and, on a journal that notifies changes (Postgres
``LISTEN``), by every notification for the run, which the journal hands to `Wakeups.heard`
from the moment the engine exists.  A waiter looks at the flag *before* it reads what it
waits for, then waits on it: a change that lands between its read and its wait has
already set the flag, so it is never lost.  When the journal may have missed changes
(listening started or restarted) it says so with ``heard(None)``, which sets every flag.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["News", "Wakeups"]


class News(asyncio.Event):
    """A run's news flag: an `asyncio.Event` that also counts how often it was set.

    The runtime clears it before it reads and waits on it afterwards.  A waiter that
    notes `count` before its read instead (`wait_since`) is woken by any news after the
    read, even when another waiter of the same run cleared the flag meanwhile.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self._since: set[asyncio.Future[None]] = set()

    def set(self) -> None:
        self.count += 1
        super().set()
        for future in self._since:
            if not future.done():
                future.set_result(None)

    async def wait_since(self, count: int) -> None:
        """Return once the flag has been set since `count` was read from it."""
        if self.count != count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._since.add(future)
        try:
            await future
        finally:
            self._since.discard(future)


class Wakeups:
    """The news flags of one engine, fed by the engine and by its journal."""

    def __init__(self, journal: Any) -> None:
        self._news: dict[str, News] = {}
        self._journal = journal
        journal.watch(self.heard)  # before anything is read: no notification falls between

    @property
    def notified(self) -> bool:
        """Whether the journal notifies changes (else waits only end at their timeout)."""
        return bool(self._journal.notifies_changes)

    def news(self, run_id: str) -> News:
        """The flag of `run_id` (made at the first ask: only then is it watched)."""
        flag = self._news.get(run_id)
        if flag is None:
            flag = self._news[run_id] = News()
        return flag

    def heard(self, run_id: str | None) -> None:
        """The journal says `run_id` changed (None: any run may have)."""
        if run_id is None:
            for flag in self._news.values():
                flag.set()
        elif run_id in self._news:
            self._news[run_id].set()

    async def wait(
        self,
        run_id: str,
        timeout: float,
        *,
        also: asyncio.Event | None = None,
        since: int | None = None,
    ) -> None:
        """Wait at most `timeout` seconds for news of `run_id` (or for `also`): news since
        `since` (a `News.count` read before the caller's read), else until the flag is set."""
        flag = self.news(run_id)
        waits: list[Any] = [flag.wait() if since is None else flag.wait_since(since)]
        if also is not None:
            waits.append(also.wait())
        tasks = [asyncio.ensure_future(wait) for wait in waits]
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
