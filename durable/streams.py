"""Reading a run's durable streams: `Engine.read_stream` (and the HTTP API's stream).

A reader yields the chunks of one stream from an offset on, in order, and waits for
more on the engine's news of the run (`Engine.scheduler.changed`: a Postgres
``NOTIFY``, SQLite's wake-up sockets, this process's own writes), the timed look only
a fallback for a lost notification.  It ends after the last chunk once the stream is
closed (`durable.close_stream`) or the run has finished (SUCCEEDED, FAILED or
CANCELLED): a finished run writes nothing more.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal import base, stream_records

if TYPE_CHECKING:
    from durable.engine import Engine

__all__ = ["StreamChunk", "read_chunks"]

FALLBACK = 5.0  # seconds between looks that no notification prompted
BATCH = 500  # chunks read at a time


@dataclass(frozen=True)
class StreamChunk:
    """One chunk of a durable stream.

    Attributes
    ----------
    offset:
        Its position in the stream, from 0; read from ``offset + 1`` to resume after it.
    value:
        The value given to `durable.write_stream`.
    step:
        The sequence number of the step that wrote it; None for workflow code.
    attempt:
        That step's attempt (1 for the first; 1 in workflow code).
    run_attempt:
        How many times the run had been taken up when it was written (a run resumed
        after a crash counts one more).  A chunk whose ``(step, run_attempt, attempt)``
        differs from the previous chunks of the same step starts a restarted answer.
    written_at:
        When it was written (UTC).
    """

    offset: int
    value: Any
    step: int | None
    attempt: int
    run_attempt: int
    written_at: datetime.datetime


async def read_raw(
    engine: Engine, run_id: str, key: str, offset: int = 0, *, idle: bool = False
) -> AsyncIterator[stream_records.ChunkRecord | None]:
    """The stored chunks of the stream, as described in the module docstring (their
    values still encoded); with `idle`, None after each wait that no news ended (an
    HTTP stream's keep-alive)."""
    if offset < 0:
        raise ValueError(f"read_stream of run {run_id!r}: offset must be 0 or more, got {offset}")
    journal, runner = engine.journal, engine.scheduler
    while True:
        since = runner.changed(run_id).count  # before the reads: no news is missed
        # the run's status first: chunks read after it includes every chunk it wrote
        run = await journal.get_run(run_id)
        if run is None:
            raise errors.WorkflowNotFound(workflow_id=run_id)
        chunks, closed = await journal.read_chunks(run_id, key, offset, BATCH)
        for chunk in chunks:
            yield chunk
            offset = chunk.position + 1
        if len(chunks) == BATCH:
            continue
        if closed or run.status in base.TERMINAL:
            return
        before = runner.changed(run_id).count
        await runner.wait_changed(run_id, FALLBACK, since=since)
        if idle and runner.changed(run_id).count == before:
            yield None


async def read_chunks(
    engine: Engine, run_id: str, key: str, offset: int = 0
) -> AsyncIterator[StreamChunk]:
    """`Engine.read_stream`: the chunks decoded by the engine's codec."""
    what = f"chunk of stream {key!r}"
    async for chunk in read_raw(engine, run_id, key, offset):
        assert chunk is not None  # not idle: no keep-alives
        yield StreamChunk(
            offset=chunk.position,
            value=engine.codec.decode(chunk.value, what=what, workflow_id=run_id),
            step=chunk.step,
            attempt=chunk.attempt,
            run_attempt=chunk.run_attempt,
            written_at=datetime.datetime.fromtimestamp(chunk.written_at, datetime.UTC),
        )
