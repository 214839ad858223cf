"""A run's durable stream as server-sent events (``GET /api/runs/{id}/streams/{key}``).

Each chunk is one ``chunk`` event whose id is its offset, so a client that reconnects
with ``Last-Event-ID: N`` resumes at offset N + 1 (``?offset=`` gives the first offset
of a new stream).  The data is the chunk in JSON (``offset``, ``value``, ``step``,
``attempt``, ``run_attempt``, ``written_at``).  ``: keep-alive`` comments are sent while
nothing happens, and one ``end`` event (with ``next_offset``) once the stream is closed
or the run finished.  Readers sleep on the run's journal notifications
(`durable.streams`)."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

from durable.engine import Engine
from durable.http import payloads
from durable.http.streaming import sse_event
from durable.streams import read_raw

__all__ = ["chunk_events"]


async def chunk_events(engine: Engine, run_id: str, key: str, offset: int) -> AsyncIterator[bytes]:
    """The SSE bytes of stream `key` of run `run_id` from `offset` on."""
    async for chunk in read_raw(engine, run_id, key, offset, idle=True):
        if chunk is None:
            yield b": keep-alive\n\n"
            continue
        offset = chunk.position + 1
        data = {
            "offset": chunk.position,
            "value": payloads.value_json(chunk.value),
            "step": chunk.step,
            "attempt": chunk.attempt,
            "run_attempt": chunk.run_attempt,
            "written_at": datetime.datetime.fromtimestamp(chunk.written_at, datetime.UTC),
        }
        yield sse_event("chunk", data, str(chunk.position))
    yield sse_event("end", {"id": run_id, "key": key, "next_offset": offset})
