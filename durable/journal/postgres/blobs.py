"""The Postgres journal's blob references (`base.BlobReferences`), mixed into
`PostgresJournal`."""

from __future__ import annotations

from durable.journal.postgres import connection

__all__ = ["PostgresBlobs"]


class PostgresBlobs:
    """`base.BlobReferences` on the journal's pool."""

    _pool: connection.Pool

    async def blob_payloads(self) -> list[tuple[str, bytes]]:
        rows = await self._pool.read("find blob references", "blob_payloads", {})
        return [(str(run_id), bytes(data)) for run_id, data in rows]
