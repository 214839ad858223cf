"""What the SQLite journal hands its migrations (`migration.Schema` inside the write
transaction) and its `@durable.transaction` steps (an async connection)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiosqlite

from durable import errors
from durable.journal import queries

if TYPE_CHECKING:
    from durable.journal.sqlite import SqliteJournal

__all__ = ["Schema", "TxConnection"]

_Q = queries.load_queries("sqlite")


class Schema:
    """`migration.Schema` on a connection inside its write transaction."""

    def __init__(self, conn: sqlite3.Connection, journal: SqliteJournal) -> None:
        self._conn = conn
        self._path = journal.path
        self.where = f"SQLite journal {journal.url!r}"

    async def exists(self) -> bool:
        if self._conn.execute(_Q["schema_exists"]).fetchone()[0]:
            return True
        if self._conn.execute(_Q["foreign_tables"]).fetchone()[0]:
            raise errors.JournalError(
                f"SQLite file {self._path!r} has durable_* tables but no durable_schema "
                "version table: it was not created by durable; use another file"
            )
        return False

    async def create(self, script: str) -> None:
        await self.execute(script)

    async def execute(self, script: str) -> None:
        for statement in _statements(script):
            self._conn.execute(statement)

    async def version(self) -> int:
        return int(self._conn.execute(_Q["schema_version"]).fetchone()[0] or 0)

    async def set_version(self, version: int) -> None:
        self._conn.execute(_Q["set_schema_version"], (version,))


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


class TxCursor:
    def __init__(self, cursor: aiosqlite.Cursor) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount

    async def fetchone(self) -> Any:
        return await self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return list(await self._cursor.fetchall())


class TxConnection:
    """The async connection a `@durable.transaction` step receives on SQLite."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] | None = None) -> TxCursor:
        return TxCursor(await self._db.execute(sql, tuple(params or ())))
