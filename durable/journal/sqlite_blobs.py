"""The SQLite journal's blob references (`base.BlobReferences`), mixed into `SqliteJournal`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durable.journal import queries

__all__ = ["SqliteBlobs"]

_Q = queries.load_queries("sqlite")


class SqliteBlobs:
    """`base.BlobReferences` on the journal's connection."""

    _read: Callable[..., list[Any]]

    async def blob_payloads(self) -> list[tuple[str, bytes]]:
        return [(str(run_id), bytes(data)) for run_id, data in self._read(_Q["blob_payloads"])]
