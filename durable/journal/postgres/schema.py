"""Creating or migrating the Postgres journal's schema at open (`durable.journal.migration`).

It runs inside one transaction under an advisory lock per schema name, so processes
opening the journal together do it once, and a failure leaves the schema as it was.
The schema name is checked as an identifier and quoted before it is put in a script.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from durable import errors
from durable.journal import migration

__all__ = ["create_or_migrate"]


class _Schema:
    """`migration.Schema` on a connection inside the migration's transaction."""

    def __init__(
        self, conn: psycopg.AsyncConnection[Any], queries: dict[str, str], name: str, where: str
    ) -> None:
        self._conn = conn
        self._q = queries
        self._name = name
        self._quoted = pg_sql.Identifier(name).as_string()
        self._namespace = False
        self.where = where

    async def exists(self) -> bool:
        params = {"schema": self._name, "version_table": f"{self._quoted}.schema_version"}
        cur = await self._conn.execute(self._q["schema_state"], params)
        row = await cur.fetchone()
        assert row is not None
        self._namespace, ours, relations = row
        if self._namespace and not ours and relations:
            raise errors.JournalError(
                f"{self.where}: schema {self._name!r} exists and holds tables, but not "
                "durable's schema_version table: it was not created by durable; "
                "choose another schema with ?schema=NAME in the URL"
            )
        return bool(ours)

    async def create(self, script: str) -> None:
        if not self._namespace:
            await self._conn.execute(self._q["create_schema"])
        await self.execute(script)

    async def execute(self, script: str) -> None:
        # the schema name is validated and quoted; the rest of the script is constant
        await self._conn.execute(script.replace("{schema}", self._quoted).encode())

    async def version(self) -> int:
        cur = await self._conn.execute(self._q["schema_version"])
        return int(((await cur.fetchone()) or (0,))[0] or 0)

    async def set_version(self, version: int) -> None:
        await self._conn.execute(self._q["set_schema_version"], {"version": version})


async def create_or_migrate(
    conn: psycopg.AsyncConnection[Any], queries: dict[str, str], name: str, where: str
) -> None:
    """Create schema `name` or migrate it to this durable's version; `queries` are the
    journal's (with the schema name filled in), `where` names the journal in errors."""
    try:
        async with conn.transaction():
            await conn.execute(queries["migration_lock"], {"schema": name})
            await migration.migrate(_Schema(conn, queries, name, where), "postgres")
    except psycopg.Error as exc:
        hint = (
            "grant this user CREATE on the database, or have an administrator open the journal once"
            if isinstance(exc, pg_errors.InsufficientPrivilege)
            else "check the database's logs"
        )
        raise errors.JournalError(
            f"{where}: creating or migrating schema {name!r} failed: {exc}; {hint}"
        ) from exc
