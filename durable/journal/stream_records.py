"""Durable streams in the journal: the chunk record and the storage contract
(`StreamStore`), implemented by `sqlite_streams` and `postgres.streams`."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

__all__ = ["ChunkRecord", "NewChunk", "StreamStore", "chunk_from_row"]


class NewChunk(msgspec.Struct, frozen=True, kw_only=True):
    """A chunk to append.  `writer` identifies the write within its run and stream: a
    second append with the same writer adds nothing (a replayed workflow's write)."""

    run_id: str
    key: str
    writer: str
    step: int | None
    attempt: int
    run_attempt: int
    value: bytes


class ChunkRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored chunk: its position in the stream (from 0, contiguous), the step that
    wrote it (None: workflow code), that step's attempt and the run's attempt (how many
    times the run had been taken up), its encoded value and when it was written."""

    position: int
    step: int | None
    attempt: int
    run_attempt: int
    value: bytes
    written_at: float


def chunk_from_row(row: Any) -> ChunkRecord:
    """A chunk from a ``stream_read`` row (the same columns in both dialects)."""
    position, step, attempt, run_attempt, value, written_at = row
    return ChunkRecord(
        position=int(position),
        step=None if step is None else int(step),
        attempt=int(attempt),
        run_attempt=int(run_attempt),
        value=bytes(value),
        written_at=float(written_at),
    )


class StreamStore(Protocol):
    """The journal's durable streams.  Appends and closes are fenced like every other
    write of a run: only its owner's land (else `base.LeaseLost`), and each notifies
    the run's watchers (the readers)."""

    async def append_chunk(self, owner: str, chunk: NewChunk) -> int | None:
        """Append `chunk` at the stream's next position, in one transaction; return the
        position, or None when the writer's chunk was already there (idempotent)."""

    async def close_stream(self, owner: str, run_id: str, key: str) -> None:
        """Mark the stream closed (idempotent): readers end after its last chunk."""

    async def read_chunks(
        self, run_id: str, key: str, offset: int, limit: int
    ) -> tuple[list[ChunkRecord], bool]:
        """Up to `limit` chunks from position `offset` on, in order, and whether the
        stream was closed (read before the chunks, so a closed stream's last chunk is
        among what follows)."""
