"""Creating or migrating a journal's schema when it is opened, once for every backend.

A backend hands `migrate` a `Schema`: the few statements that differ by dialect, run
on one connection inside the transaction (and, on Postgres, the lock) the backend
holds around the call, so that processes opening one journal together migrate it once
and a failure leaves the schema as it was.
"""

from __future__ import annotations

from typing import Protocol

from durable import errors
from durable.journal import base, queries

__all__ = ["Schema", "migrate"]


class Schema(Protocol):
    """A dialect's side of `migrate`."""

    @property
    def where(self) -> str:
        """The journal, as error messages name it (``SQLite journal 'sqlite:///x.db'``)."""

    async def exists(self) -> bool:
        """Whether durable's schema version table is there.  Raises `JournalError`
        (saying what to do) when the place holds tables durable did not create."""

    async def create(self, script: str) -> None:
        """Create the fresh schema by running `script` (making room for it first)."""

    async def execute(self, script: str) -> None:
        """Run one migration's script."""

    async def version(self) -> int:
        """The schema version recorded (0 when none is)."""

    async def set_version(self, version: int) -> None:
        """Record that the schema is now at `version`."""


async def migrate(schema: Schema, dialect: str) -> None:
    """Create the schema of `dialect`, or apply the numbered migrations it lacks, in
    order, recording each; refuse a schema newer than this durable knows."""
    if not await schema.exists():
        await schema.create(queries.load_schema(dialect))
        await schema.set_version(base.SCHEMA_VERSION)
        return
    version = await schema.version()
    if version > base.SCHEMA_VERSION:
        raise errors.JournalError(
            f"{schema.where} has schema version {version}, newer than this durable knows "
            f"({base.SCHEMA_VERSION}); upgrade durable before opening it"
        )
    for number, script in queries.load_migrations(dialect):
        if number > version:
            await schema.execute(script)
            await schema.set_version(number)
