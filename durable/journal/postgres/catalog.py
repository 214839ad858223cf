"""The Postgres journal's catalog of workflows
(`durable.journal.catalog.CatalogStore`), mixed into `PostgresJournal`: one upsert
statement records an engine's names (safe to repeat, so retried like a read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from durable.journal.catalog import WorkflowRecord
from durable.journal.postgres import connection

__all__ = ["PostgresCatalog"]


class PostgresCatalog:
    """The catalog on the journal's pool."""

    _pool: connection.Pool
    _q: dict[str, str]

    async def record_workflows(
        self, workflows: Sequence[tuple[str, str | None]], seen_by: str, at: float
    ) -> None:
        if not workflows:
            return
        params = {
            "names": [name for name, _ in workflows],
            "queues": [queue for _, queue in workflows],
            "at": at,
            "seen_by": seen_by,
        }
        statement = self._q["record_workflows"]

        async def fn(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(statement, params)

        await self._pool.run("record the workflows this engine imported", fn)

    async def workflow_catalog(self, name: str | None = None) -> list[WorkflowRecord]:
        params = {"name": name}
        rows = await self._pool.read("read the workflow catalog", "workflow_catalog", params)
        return [WorkflowRecord.from_row(row) for row in rows]
