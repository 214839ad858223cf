"""`RedisStream`: a Redis stream read through a consumer group (redis-py's asyncio client).

The broker keeps the position: ``XREADGROUP`` hands out entries, each stays in this
consumer's pending list until ``XACK``, which is sent only after the entries' runs
committed.  On opening (and after any failure) the consumer first reads its own
pending entries again (``XREADGROUP ... 0``: those of a process that died between the
commit and the ack find their runs); entries another consumer left pending for
`claim_idle` seconds (it died) are taken over with ``XAUTOCLAIM``.  Redis counts each
hand-out; an entry handed out more than `max_deliveries` times without a run becomes a
dead-letter run (`durable.sources.consumer`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from typing import Any

from durable import errors
from durable.journal import base
from durable.sources import base as sources_base

__all__ = ["RedisStream"]


class RedisStream:
    """A Redis stream consumed through a consumer group.

    ``@durable.workflow(on=RedisStream("redis://127.0.0.1:6379", "orders"))`` starts
    one run per entry, its fields (a ``dict`` of ``str``) the first argument; the run id
    is ``<workflow>@redis:<stream>/<entry id>``.  Needs ``pip install 'durable[sources]'``.

    Parameters
    ----------
    url:
        The Redis server (``redis://host:port/db``).
    stream:
        The stream's key.
    group:
        The consumer group (created at the stream's start, ``start``, when missing).
    consumer:
        This process's name in the group; defaults to the host name, so a restarted
        worker reads its own pending entries again at once.
    batch_size, max_wait, max_deliveries:
        See `durable.sources.Tuning`.
    claim_idle:
        Seconds an entry may stay pending with another consumer before it is taken
        over (``XAUTOCLAIM``): longer than the time a live consumer needs between read
        and ack.
    start:
        Where a new group starts: ``"0"`` (the whole stream) or ``"$"`` (new entries).

    Examples
    --------
    >>> RedisStream("redis://127.0.0.1:6379", "orders", group="durable").key
    'redis:orders'
    """

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        group: str = "durable",
        consumer: str | None = None,
        batch_size: int = 1,
        max_wait: float = 0.0,
        max_deliveries: int | None = 5,
        claim_idle: float = 30.0,
        start: str = "0",
    ) -> None:
        self.url = url
        self.stream = stream
        self.group = group
        self.consumer = consumer or socket.gethostname()
        self.claim_idle = claim_idle
        self.start = start
        self.tuning = sources_base.Tuning(
            batch_size=batch_size, max_wait=max_wait, max_deliveries=max_deliveries
        )
        self._client: Any = None
        self._pending: str | None = "0"  # re-reading our own pending entries from here
        self._claim_from = "0-0"
        self._claimed_at = 0.0

    def __repr__(self) -> str:
        return f"<durable.sources.RedisStream {self.stream!r} group={self.group!r}>"

    @property
    def key(self) -> str:
        return f"redis:{self.stream}"

    async def open(self, context: sources_base.Context) -> None:
        try:
            import redis.asyncio as redis_asyncio
            from redis import exceptions as redis_errors
        except ImportError as exc:
            raise errors.DurableError(
                f"{self!r} needs redis-py: pip install 'durable[sources]'"
            ) from exc
        self._client = redis_asyncio.from_url(self.url, decode_responses=True)
        try:
            await self._client.xgroup_create(self.stream, self.group, id=self.start, mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        await self.seek(None)

    async def read(self, limit: int, timeout: float) -> list[sources_base.Record]:
        if self._pending is not None:
            found = await self._read_pending(limit)
            if found:
                return found
        now = time.monotonic()
        if now - self._claimed_at >= min(self.claim_idle / 2, 5.0):
            self._claimed_at = now
            claimed = await self._reclaim(limit)
            if claimed:
                return claimed
        reply = await self._client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=limit,
            block=max(1, int(timeout * 1000)),
        )
        entries = reply[0][1] if reply else []
        return [self._record(entry_id, fields, 1) for entry_id, fields in entries]

    async def _read_pending(self, limit: int) -> list[sources_base.Record]:
        reply = await self._client.xreadgroup(
            self.group, self.consumer, {self.stream: self._pending}, count=limit
        )
        entries = [entry for entry in (reply[0][1] if reply else [])]
        if not entries:
            self._pending = None  # caught up: new entries from now on
            return []
        self._pending = entries[-1][0]
        deleted = [entry_id for entry_id, fields in entries if fields is None]
        if deleted:  # trimmed from the stream while pending: nothing left to run
            await self._client.xack(self.stream, self.group, *deleted)
        live = [(entry_id, fields) for entry_id, fields in entries if fields is not None]
        return await self._counted(live)

    async def _reclaim(self, limit: int) -> list[sources_base.Record]:
        """Take over entries another consumer left pending for `claim_idle` seconds."""
        reply = await self._client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=int(self.claim_idle * 1000),
            start_id=self._claim_from,
            count=limit,
        )
        self._claim_from = reply[0]
        deleted = reply[2] if len(reply) > 2 else []
        if deleted:
            await self._client.xack(self.stream, self.group, *deleted)
        return await self._counted([(i, f) for i, f in reply[1] if f is not None])

    async def _counted(
        self, entries: list[tuple[str, dict[str, str]]]
    ) -> list[sources_base.Record]:
        """`entries` with how often Redis handed each out (its pending list says)."""
        if not entries:
            return []
        pending = await self._client.xpending_range(
            self.stream,
            self.group,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries) * 2 + 10,
            consumername=self.consumer,
        )
        counts = {item["message_id"]: int(item["times_delivered"]) for item in pending}
        return [self._record(i, fields, counts.get(i, 1)) for i, fields in entries]

    @staticmethod
    def _record(entry_id: str, fields: dict[str, str], deliveries: int) -> sources_base.Record:
        return sources_base.Record(
            identity=entry_id, value=dict(fields), deliveries=deliveries, handle=entry_id
        )

    def offset(self, records: Sequence[sources_base.Record]) -> base.OffsetMove | None:
        return None  # the consumer group keeps the position

    async def ack(self, records: Sequence[sources_base.Record]) -> None:
        if records:
            await self._client.xack(self.stream, self.group, *(r.handle for r in records))

    async def seek(self, position: str | None) -> None:
        self._pending = "0"  # what was read and not acknowledged is read again first

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
