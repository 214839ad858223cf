"""The Postgres journal's durable streams (`stream_records.StreamStore`), mixed into
`PostgresJournal`.  An append is one statement: fenced on the run's owner, it skips a
writer already there, bumps the stream's next position (its row locked until commit,
so positions commit in order) and inserts the chunk; its ``NOTIFY`` of the run wakes
the readers at commit."""

from __future__ import annotations

import time

from durable.journal import base, stream_records
from durable.journal.postgres import connection
from durable.journal.stream_records import ChunkRecord, NewChunk

__all__ = ["PostgresStreams"]


class PostgresStreams:
    """`StreamStore` on the journal's pool (see the module docstring)."""

    _pool: connection.Pool
    channel: str

    async def append_chunk(self, owner: str, chunk: NewChunk) -> int | None:
        params = {
            "run_id": chunk.run_id,
            "owner": owner,
            "key": chunk.key,
            "writer": chunk.writer,
            "step": chunk.step,
            "attempt": chunk.attempt,
            "run_attempt": chunk.run_attempt,
            "value": chunk.value,
            "at": time.time(),
            "channel": self.channel,
        }
        rows = await self._pool.read("append to a stream", "stream_append", params, chunk.run_id)
        held, position = rows[0][0], rows[0][1]
        if not held:
            raise base.LeaseLost(chunk.run_id)
        return None if position is None else int(position)

    async def close_stream(self, owner: str, run_id: str, key: str) -> None:
        params = {"run_id": run_id, "owner": owner, "key": key, "channel": self.channel}
        rows = await self._pool.read("close a stream", "stream_close", params, run_id)
        if not rows[0][0]:
            raise base.LeaseLost(run_id)

    async def read_chunks(
        self, run_id: str, key: str, offset: int, limit: int
    ) -> tuple[list[ChunkRecord], bool]:
        stream = {"run_id": run_id, "key": key}
        closed = await self._pool.read("read a stream", "stream_closed", stream, run_id)
        params = {**stream, "offset": offset, "limit": limit}
        rows = await self._pool.read("read a stream", "stream_read", params, run_id)
        return [stream_records.chunk_from_row(row) for row in rows], bool(closed and closed[0][0])
