"""The SQLite journal's catalog of workflows (`durable.journal.catalog.CatalogStore`),
mixed into `SqliteJournal`: one write of its group writer records an engine's names."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from durable.journal import queries, sqlite_writer
from durable.journal.catalog import WorkflowRecord

__all__ = ["SqliteCatalog"]

_Q = queries.load_queries("sqlite")


class SqliteCatalog:
    """The catalog on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]

    async def record_workflows(
        self, workflows: Sequence[tuple[str, str | None]], seen_by: str, at: float
    ) -> None:
        rows = [(name, queue, at, seen_by) for name, queue in workflows]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(_Q["record_workflow"], rows)

        if rows:
            await self._writer.write(op)

    async def workflow_catalog(self, name: str | None = None) -> list[WorkflowRecord]:
        return [WorkflowRecord.from_row(row) for row in self._read(_Q["workflow_catalog"], (name,))]
