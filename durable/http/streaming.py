"""Long-polls (``?wait=S``) and the server-sent event stream of a run.

Both sleep on the engine's news flags (`durable.wakeups`), which the journal sets
itself: a Postgres ``LISTEN`` on its change channel, on SQLite the wake-up sockets of
the processes sharing the file (`durable.journal.local_bus`) and this process's own
writes.  A notification wakes the waiter, which re-reads the journal; the timed look
is only a fallback for a lost notification.  Each wait also listens for the client's
``http.disconnect``: a client that goes away ends its wait at once, so it costs
nothing afterwards (`Watchers.active` counts the waits in progress).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from durable import errors
from durable.engine import Engine
from durable.http import payloads
from durable.journal import base

__all__ = [
    "ClientGone",
    "EventStream",
    "Watchers",
    "sse_event",
    "until_disconnect",
    "wait_event",
]

T = TypeVar("T")

FALLBACK = 15.0  # seconds between looks that no notification prompted (and keep-alives)
READ_EVERY = 0.05  # a stream reads its run's journal at most this often


class ClientGone(Exception):
    """The client disconnected while its request waited."""


class Watchers:
    """How many long-polls and streams are waiting right now."""

    def __init__(self) -> None:
        self.active = 0

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, watchers: Watchers, work: Awaitable[T]) -> T:
    """Await `work` unless the client disconnects first (then `ClientGone`, and `work`
    is cancelled).  Call it once the body was read."""
    with watchers.watching():
        task = asyncio.ensure_future(work)
        gone = asyncio.ensure_future(_disconnected(request.receive))
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            finished = task.done()
        finally:
            for pending in (task, gone):
                pending.cancel()
            await asyncio.gather(task, gone, return_exceptions=True)
        if finished:
            return task.result()  # or its exception
        raise ClientGone()


async def wait_finished(engine: Engine, run_id: str, wait: float) -> base.RunRecord:
    """The run's row once it is finished, or after `wait` seconds, whichever is first."""
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            return await engine.scheduler.wait_finished(run_id, timeout=wait)
    record = await engine.journal.get_run(run_id)
    if record is None:
        raise errors.WorkflowNotFound(workflow_id=run_id)
    return record


async def wait_event(engine: Engine, run_id: str, key: str, wait: float) -> bytes | None:
    """The journaled value of event `key` of the run once it is set (None after `wait`
    seconds).  Raw bytes: the caller shows them without decoding them."""
    scheduler = engine.scheduler
    deadline = time.monotonic() + wait
    while True:
        since = scheduler.changed(run_id).count  # before the read: no news is missed
        data = await engine.journal.get_event(run_id, key)
        if data is not None:
            return data
        if await engine.journal.get_run(run_id) is None:
            raise errors.WorkflowNotFound(workflow_id=run_id)
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        await scheduler.wait_changed(run_id, min(left, FALLBACK), since=since)


def sse_event(event: str, data: Any, event_id: str | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, default=str, ensure_ascii=False))
    return ("\n".join(lines) + "\n\n").encode()


async def run_events(engine: Engine, run_id: str, after: int) -> AsyncIterator[bytes]:
    """The stream of run `run_id`: its row (``status``) at the start and at each change
    of status, each journal entry once it is journaled (``entry``, id = its completion
    order; entries with ``ord`` up to `after` are skipped, as after a reconnection with
    ``Last-Event-ID``), ``: keep-alive`` comments, and ``end`` once it finished."""
    scheduler = engine.scheduler
    sent: dict[int, tuple[int, str]] = {}
    status: str | None = None
    loaded_at = -math.inf
    while True:
        # a busy run notifies each commit: read its journal at most every READ_EVERY s
        pause = READ_EVERY - (time.monotonic() - loaded_at)
        if pause > 0:
            await asyncio.sleep(pause)
        since = scheduler.changed(run_id).count  # before the read: no news is missed
        loaded_at = time.monotonic()
        load = await engine.journal.load(run_id)
        if load is None:
            raise errors.WorkflowNotFound(workflow_id=run_id)
        for entry in sorted(load.entries, key=lambda e: e.ord):
            if entry.ord <= after or sent.get(entry.seq) == (entry.ord, entry.status):
                continue
            sent[entry.seq] = (entry.ord, entry.status)
            yield sse_event("entry", payloads.entry_json(entry), str(entry.ord))
        if str(load.run.status) != status:
            status = str(load.run.status)
            yield sse_event("status", payloads.run_json(load.run))
        if load.run.status in base.TERMINAL:
            yield sse_event("end", {"id": run_id, "status": status})
            return
        before = scheduler.changed(run_id).count
        await scheduler.wait_changed(run_id, FALLBACK, since=since)
        if scheduler.changed(run_id).count == before:
            yield b": keep-alive\n\n"


class EventStream(Response):
    """A ``text/event-stream`` response that stops producing as soon as the client
    disconnects: it listens for ``http.disconnect`` itself, whatever ASGI version the
    server speaks (a StreamingResponse may notice only at its next write, which for an
    idle run is the next keep-alive)."""

    media_type = "text/event-stream"

    def __init__(self, events: Callable[[], AsyncIterator[bytes]], watchers: Watchers) -> None:
        # not Response.__init__: it would declare a Content-Length (of an empty body)
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.events = events
        self.watchers = watchers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.watchers.watching():
            producer = asyncio.ensure_future(self._produce(send))
            gone = asyncio.ensure_future(_disconnected(receive))
            try:
                await asyncio.wait({producer, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (producer, gone):
                    task.cancel()
                await asyncio.gather(producer, gone, return_exceptions=True)
            if producer.done() and not producer.cancelled():
                producer.result()  # an error while producing reaches the server's log

    async def _produce(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async for chunk in self.events():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
