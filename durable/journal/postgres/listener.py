"""Wake-ups for the Postgres journal: ``LISTEN`` on the journal's channel.

`update_run`, `reopen`, `send_message` and `set_event` ``NOTIFY`` the run id on the
channel ``"<schema>.changed"``.  `ChangeListener` holds one connection listening to it
(opened at the first wait, reopened with backoff when it drops) and wakes the waiters of
the run ids it hears; on (re)connecting it wakes everyone, since notifications sent
while nobody listened are lost.

A waiter registered only after it read the run misses a notification sent in between,
so `wait_changed` is woken late then (at its timeout).  Subscribers (`subscribe`) hear
every notification from the moment they subscribe, and ``None`` at each (re)connection:
the engine keeps a flag per run from them, which its waiters look at before they read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql as pg_sql

from durable.journal import backoff

__all__ = ["ChangeListener"]

logger = logging.getLogger(__name__)


class ChangeListener:
    """Waits for notifications on `channel` of the server at `conninfo`."""

    def __init__(self, conninfo: str, channel: str, work_channel: str | None = None) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.work_channel = work_channel
        self._work_subscribers: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None
        self._watchers: dict[str, set[asyncio.Future[None]]] = {}
        self._subscribers: list[Callable[[str | None], None]] = []

    def subscribe(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(run_id)`` for each notification from now on, and
        ``callback(None)`` each time listening (re)starts (anything may have changed).
        Does not start listening: the first `wait_changed` does."""
        self._subscribers.append(callback)

    def subscribe_work(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` for each notification on the work channel, and each time
        listening (re)starts; starts listening now (call it inside the event loop)."""
        self._work_subscribers.append(callback)
        self._start()

    def listen_if_watched(self) -> None:
        """Start listening now if anyone subscribed (call it inside the event loop)."""
        if self._subscribers or self._work_subscribers:
            self._start()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._listening = asyncio.Event()
            self._task = asyncio.create_task(self._listen(), name="durable-pg-listener")

    async def wait_changed(self, run_id: str, timeout: float | None = None) -> bool:
        """Wait until `run_id` is notified, or the listener (re)connected (True), or
        `timeout` passed (False)."""
        self._start()
        assert self._listening is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.setdefault(run_id, set()).add(future)
        try:
            async with asyncio.timeout(timeout):
                await self._listening.wait()
                await future
            return True
        except TimeoutError:
            return False
        finally:
            watchers = self._watchers.get(run_id)
            if watchers is not None:
                watchers.discard(future)
                if not watchers:
                    del self._watchers[run_id]

    async def close(self) -> None:
        """Stop listening and disconnect."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def abandon(self) -> asyncio.Task[None] | None:
        """Stop listening without waiting; returns the cancelled task to reap."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        return task

    def _work(self) -> None:
        for callback in self._work_subscribers:
            callback()

    def _wake(self, run_ids: Sequence[str] | None) -> None:
        for callback in self._subscribers:
            if run_ids is None:
                callback(None)
            for run_id in run_ids or ():
                callback(run_id)
        keys = list(self._watchers) if run_ids is None else run_ids
        for key in keys:
            for future in self._watchers.get(key, ()):
                if not future.done():
                    future.set_result(None)

    async def _listen(self) -> None:
        assert self._listening is not None
        wait = backoff.Backoff(0.05, 2.0)
        channel = pg_sql.Identifier(self.channel).as_string()
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {channel}")
                    if self.work_channel is not None:
                        work = pg_sql.Identifier(self.work_channel).as_string()
                        await conn.execute(f"LISTEN {work}")
                    self._listening.set()
                    self._wake(None)  # anything may have changed while not listening
                    self._work()
                    wait.reset()
                    async for note in conn.notifies():
                        if note.channel == self.work_channel:
                            self._work()
                        else:
                            self._wake([note.payload])
            except psycopg.Error as exc:
                logger.warning(
                    "journal listener lost its connection (%s)",
                    str(exc).strip(),
                    extra={"action": "listen", "workflow_id": None},
                )
            await wait.wait()
