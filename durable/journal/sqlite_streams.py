"""The SQLite journal's durable streams (`stream_records.StreamStore`), mixed into
`SqliteJournal`: an append goes through the group writer, the writer check, the bump of
the stream's next position and the insert in one transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from durable.journal import queries, sqlite_writer, stream_records
from durable.journal.stream_records import ChunkRecord, NewChunk

__all__ = ["SqliteStreams"]

_Q = queries.load_queries("sqlite")


class SqliteStreams:
    """`StreamStore` on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]
    _check_owner: Callable[[sqlite3.Connection, str, str], None]

    async def append_chunk(self, owner: str, chunk: NewChunk) -> int | None:
        def op(conn: sqlite3.Connection) -> int | None:
            self._check_owner(conn, owner, chunk.run_id)
            stream = (chunk.run_id, chunk.key)
            if conn.execute(_Q["stream_writer_exists"], (*stream, chunk.writer)).fetchone():
                return None
            position = int(conn.execute(_Q["stream_bump"], stream).fetchone()[0])
            conn.execute(
                _Q["stream_insert"],
                (
                    *stream,
                    position,
                    chunk.writer,
                    chunk.step,
                    chunk.attempt,
                    chunk.run_attempt,
                    chunk.value,
                    time.time(),
                ),
            )
            return position

        position: int | None = await self._writer.write(op, chunk.run_id)
        if position is not None:
            self._announce(chunk.run_id)
        return position

    async def close_stream(self, owner: str, run_id: str, key: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, run_id)
            conn.execute(_Q["stream_close"], (run_id, key))

        await self._writer.write(op, run_id)
        self._announce(run_id)

    async def read_chunks(
        self, run_id: str, key: str, offset: int, limit: int
    ) -> tuple[list[ChunkRecord], bool]:
        closed = self._read(_Q["stream_closed"], (run_id, key))
        rows = self._read(_Q["stream_read"], (run_id, key, offset, limit))
        return [stream_records.chunk_from_row(row) for row in rows], bool(closed and closed[0][0])
