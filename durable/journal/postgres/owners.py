"""Which engines are alive, as Postgres knows it: one session-level advisory lock each.

An engine holds ``pg_advisory_lock(key(owner))`` on a connection of its own for as
long as it lives.  When its process dies, or its host is cut off, the server ends the
session and the lock with it; any other engine then gets the lock with
``pg_try_advisory_lock`` and knows the holder is dead, on any machine, at once.

A server restart or a failover ends every session, the living engines' too: each engine
watches its lock's connection and takes the lock again as soon as a server is back (with
a multi-host URL, the new primary).  An engine that lived through it does not trust the
answer "nobody holds it" while its own locks are not on the server it asks (that server's
start time is not the one its locks were taken on), nor for `RESTART_GRACE` seconds after
it took them again (the others may not have reconnected yet): until then the holder is
presumed alive, and only its lease can expire.  (A promoted standby's start time is when
the standby started, long before the failover: the grace counts from the re-taking.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from durable.journal import backoff

__all__ = ["RESTART_GRACE", "OwnerLocks", "lock_key"]

logger = logging.getLogger(__name__)

RESTART_GRACE = 15.0

# a namespace for our keys, so they do not collide with the application's own locks
_NAMESPACE = 0x64757261  # "dura"


def lock_key(owner: str) -> int:
    """The advisory lock key of an engine: a stable signed 32-bit hash of its owner id."""
    return int.from_bytes(
        hashlib.blake2b(owner.encode(), digest_size=4).digest(), "big", signed=True
    )


class OwnerLocks:
    """Holds this engine's lock and tests others' (see the module docstring)."""

    def __init__(self, connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]) -> None:
        self._connect = connect
        self._held: dict[str, psycopg.AsyncConnection[Any]] = {}
        self._keepers: dict[str, asyncio.Task[None]] = {}
        self._server_started: float | None = None  # start of the server our locks are on
        self._retaken_at: float | None = None  # monotonic: when they were last taken again

    async def hold(self, owner: str) -> None:
        """Take `owner`'s lock on a dedicated connection, kept (and taken again after the
        connection is lost) until `release`."""
        self._held[owner] = await self._lock(owner)
        self._keepers[owner] = asyncio.create_task(self._keep(owner), name="durable-owner-lock")

    async def _lock(self, owner: str) -> psycopg.AsyncConnection[Any]:
        conn = await self._connect()
        cur = await conn.execute(
            "SELECT pg_advisory_lock(%s, %s), extract(epoch FROM pg_postmaster_start_time())",
            (_NAMESPACE, lock_key(owner)),
        )
        row = await cur.fetchone()
        if row is not None:
            self._server_started = float(row[1])
        return conn

    async def _keep(self, owner: str) -> None:
        """Wait for the lock's connection to break, then take the lock again."""
        while owner in self._held:
            try:
                async for _ in self._held[owner].notifies():  # no LISTEN: ends on a break
                    pass
            except psycopg.Error:
                pass
            wait = backoff.Backoff(0.05, 0.5)
            while owner in self._held:
                try:
                    conn = await self._lock(owner)
                except psycopg.Error:
                    await wait.wait()
                    continue
                old, self._held[owner] = self._held[owner], conn
                self._retaken_at = time.monotonic()
                with contextlib.suppress(psycopg.Error):
                    await old.close()
                logger.info(
                    "engine %s took its liveness lock again after the connection was lost",
                    owner,
                    extra={"action": "owner_lock", "workflow_id": None},
                )
                break

    async def alive(self, owner: str, conn: psycopg.AsyncConnection[Any]) -> bool:
        """False when nobody holds `owner`'s lock: that engine's session is gone (and this
        engine's locks have been on this server long enough for a living engine to have
        taken its own again)."""
        if owner in self._held:
            return True
        key = lock_key(owner)
        cur = await conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s), extract(epoch FROM pg_postmaster_start_time())",
            (_NAMESPACE, key),
        )
        row = await cur.fetchone()
        if row is None or not row[0]:
            return True
        await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_NAMESPACE, key))
        if self._server_started is None:
            return False  # this engine holds no lock: nothing tells it a change happened
        if float(row[1]) != self._server_started:
            return True  # our own locks are not on this server yet: it just changed
        retaken = self._retaken_at
        return retaken is not None and time.monotonic() - retaken < RESTART_GRACE

    async def release(self, owner: str | None = None) -> None:
        """Let go of one owner's lock (all when None) by closing its connection."""
        owners = list(self._held) if owner is None else [owner]
        for name in owners:
            keeper = self._keepers.pop(name, None)
            if keeper is not None:
                keeper.cancel()
            conn = self._held.pop(name, None)
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    await conn.close()

    def drop(self) -> list[psycopg.AsyncConnection[Any]]:
        """Forget the connections without closing them, and return them (a simulated
        crash closes them later, as the server would notice a dead process)."""
        for keeper in self._keepers.values():
            keeper.cancel()
        self._keepers.clear()
        held = list(self._held.values())
        self._held.clear()
        return held
