"""`@durable.transaction` steps on Postgres: the user's statements and the step's entry
commit together, on a pooled connection, only while the run's owner holds it and its
fence holds (`holdings`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg

from durable import errors
from durable.journal import base, records
from durable.journal.postgres import connection, holdings, writer

__all__ = ["TransactionSteps"]


class TransactionSteps:
    """`Journal.transaction` of one `PostgresJournal`."""

    def __init__(
        self,
        queries: dict[str, str],
        pool: connection.Pool,
        held: holdings.Holdings,
        channel: str,
    ) -> None:
        self._q = queries
        self._pool = pool
        self._holdings = held
        self._channel = channel  # NOTIFYed with the run id of a committed entry

    @contextlib.asynccontextmanager
    async def run(self, owner: str, run_id: str) -> AsyncIterator[base.Transaction]:
        pool, conn = await self._pool.begin(run_id)
        try:
            tx = base.Transaction(_TxConnection(conn))
            try:
                yield tx  # the user's statements: their errors reach the step unchanged
            except BaseException:
                await writer.rollback(conn)
                raise
            expect = self._holdings.expect(owner, run_id)
            try:
                await self._finish(conn, owner, run_id, tx.entry, expect)
            except psycopg.Error as exc:
                if not await self._committed_despite(exc, tx.entry):
                    raise self._pool.error("commit a transaction step", exc, run_id) from exc
            except base.LeaseLost:
                await self._holdings.diagnose(owner, run_id, expect)
                raise
            if tx.entry is not None:
                self._holdings.committed(owner, run_id, tx.entry.seq)
        finally:
            await pool.putconn(conn)

    async def _finish(
        self,
        conn: psycopg.AsyncConnection[Any],
        owner: str,
        run_id: str,
        entry: base.EntryRecord | None,
        expect: int | None,
    ) -> None:
        params: dict[str, Any] = dict.fromkeys(records.ENTRY_COLUMNS)
        if entry is not None:
            params.update(records.named(records.ENTRY_COLUMNS, records.entry_values(entry)))
        params.update(
            run_id=run_id,
            owner=owner,
            write=entry is not None,
            expect=expect,
            channel=self._channel,
        )
        try:
            cur = await conn.execute(self._q["tx_append_entry"], params)
            row = await cur.fetchone()
            if row is None or row[0] != owner:
                raise base.LeaseLost(run_id)
        except BaseException:
            await writer.rollback(conn)
            raise
        await conn.execute("COMMIT")

    async def _committed_despite(self, exc: psycopg.Error, entry: base.EntryRecord | None) -> bool:
        """Whether a transaction step whose connection broke had committed after all:
        its entry is in the journal exactly when it did (they commit together)."""
        if entry is None or not isinstance(exc, psycopg.OperationalError):
            return False
        params = {"run_id": entry.run_id, "seq": entry.seq, "ord": entry.ord}
        with contextlib.suppress(errors.JournalError):
            return bool(await self._pool.read("check a commit", "entry_exists", params))
        return False


class _TxConnection:
    """The async connection a `@durable.transaction` step receives on Postgres."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return await self._conn.execute(sql, params)
