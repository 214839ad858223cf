"""Which engines are alive, as Postgres knows it: one session-level advisory lock each.

An engine holds ``pg_advisory_lock(key(owner))`` on a connection of its own for as
long as it lives.  When its process dies, or its host is cut off, the server ends the
session and the lock with it; any other engine then gets the lock with
``pg_try_advisory_lock`` and knows the holder is dead, on any machine, at once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

__all__ = ["OwnerLocks", "lock_key"]

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

    async def hold(self, owner: str) -> None:
        """Take `owner`'s lock on a dedicated connection, kept until `release`."""
        conn = await self._connect()
        await conn.execute("SELECT pg_advisory_lock(%s, %s)", (_NAMESPACE, lock_key(owner)))
        self._held[owner] = conn

    async def alive(self, owner: str, conn: psycopg.AsyncConnection[Any]) -> bool:
        """False when nobody holds `owner`'s lock: that engine's session is gone."""
        if owner in self._held:
            return True
        key = lock_key(owner)
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_NAMESPACE, key))
        row = await cur.fetchone()
        if row is not None and row[0]:
            await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_NAMESPACE, key))
            return False
        return True

    async def release(self, owner: str | None = None) -> None:
        """Let go of one owner's lock (all when None) by closing its connection."""
        owners = list(self._held) if owner is None else [owner]
        for name in owners:
            conn = self._held.pop(name, None)
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    await conn.close()

    def drop(self) -> list[psycopg.AsyncConnection[Any]]:
        """Forget the connections without closing them, and return them (a simulated
        crash closes them later, as the server would notice a dead process)."""
        held = list(self._held.values())
        self._held.clear()
        return held
