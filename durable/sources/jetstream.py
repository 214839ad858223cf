"""`JetStream`: a NATS JetStream stream read through a durable pull consumer (nats-py).

The server keeps the position: the durable consumer (named after the workflow) hands
out messages with explicit acknowledgement, and each is acknowledged only after its
run committed, with ``ack_sync`` (the double ack: the server confirms it, so an ack
lost on the way is known and the message, redelivered, finds its run rather than
being taken for new).  A message not acknowledged within `ack_wait` seconds is
redelivered (so the loop refuses a `max_wait` that could outlast it); messages read
and not committed when the loop fails are ``nak``'d, for redelivery at once.  The
consumer's ``max_deliver`` is ``max_deliveries + 1``: the last delivery the server
makes is the one that becomes a dead-letter run, never a silent drop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from durable import errors
from durable.journal import base
from durable.sources import base as sources_base

__all__ = ["JetStream"]


class JetStream:
    """A NATS JetStream stream consumed by a durable pull consumer.

    ``@durable.workflow(on=JetStream("nats://127.0.0.1:4222", "ORDERS", subject="orders.>"))``
    starts one run per message, its payload (decoded from JSON when it is JSON, else
    ``bytes``) the first argument; the run id is
    ``<workflow>@nats:<stream>/<stream sequence>``.  Needs ``pip install 'durable[sources]'``.

    Parameters
    ----------
    url:
        The NATS server.
    stream:
        The stream's name (created for `subject` when missing).
    subject:
        The subjects consumed (the consumer's filter).
    durable:
        The durable consumer's name; defaults to the workflow's name, made safe.
    batch_size, max_wait, max_deliveries:
        See `durable.sources.Tuning`.
    ack_wait:
        Seconds the server waits for an ack before it redelivers.

    Examples
    --------
    >>> JetStream("nats://127.0.0.1:4222", "ORDERS", subject="orders.>").key
    'nats:ORDERS'
    """

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        subject: str,
        durable: str | None = None,
        batch_size: int = 1,
        max_wait: float = 0.0,
        max_deliveries: int | None = 5,
        ack_wait: float = 30.0,
    ) -> None:
        if max_wait >= ack_wait / 2:
            raise ValueError(
                f"JetStream {stream!r}: max_wait ({max_wait}s) must be under half of ack_wait "
                f"({ack_wait}s), or messages waiting for their batch are redelivered"
            )
        self.url = url
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.ack_wait = ack_wait
        self.tuning = sources_base.Tuning(
            batch_size=batch_size, max_wait=max_wait, max_deliveries=max_deliveries
        )
        self._nc: Any = None
        self._sub: Any = None
        self._unacked: dict[str, Any] = {}  # identity -> message read and not acknowledged

    def __repr__(self) -> str:
        return f"<durable.sources.JetStream {self.stream!r} subject={self.subject!r}>"

    @property
    def key(self) -> str:
        return f"nats:{self.stream}"

    async def open(self, context: sources_base.Context) -> None:
        try:
            import nats
            from nats.js import api
            from nats.js import errors as js_errors
        except ImportError as exc:
            raise errors.DurableError(
                f"{self!r} needs nats-py: pip install 'durable[sources]'"
            ) from exc
        self._nc = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=3)
        js = self._nc.jetstream()
        try:
            await js.stream_info(self.stream)
        except js_errors.NotFoundError:
            await js.add_stream(name=self.stream, subjects=[self.subject])
        name = self.durable or re.sub(r"[^A-Za-z0-9_-]", "_", context.consumer)
        limit = -1 if self.tuning.max_deliveries is None else self.tuning.max_deliveries + 1
        config = api.ConsumerConfig(
            durable_name=name,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=limit,
            filter_subject=self.subject,
        )
        self._sub = await js.pull_subscribe(
            self.subject, durable=name, stream=self.stream, config=config
        )

    async def read(self, limit: int, timeout: float) -> list[sources_base.Record]:
        from nats import errors as nats_errors

        try:
            messages = await self._sub.fetch(batch=limit, timeout=max(timeout, 0.05))
        except (nats_errors.TimeoutError, TimeoutError):  # nats-py raises either
            return []
        found = []
        for message in messages:
            meta = message.metadata
            identity = str(meta.sequence.stream)
            self._unacked[identity] = message
            found.append(
                sources_base.Record(
                    identity=identity,
                    value=_payload(message.data),
                    deliveries=int(meta.num_delivered),
                    handle=message,
                )
            )
        return found

    def offset(self, records: Sequence[sources_base.Record]) -> base.OffsetMove | None:
        return None  # the durable consumer keeps the position

    async def ack(self, records: Sequence[sources_base.Record]) -> None:
        # Each confirmed by the server, sent together; but the first record of each
        # batch (its run's id is derived from it) only once the others are confirmed: a
        # crash in between redelivers it with the rest, and it finds its run, which
        # lists the others.
        await self._ack_all([record for record in records if not record.leads])
        await self._ack_all([record for record in records if record.leads])

    async def _ack_all(self, records: Sequence[sources_base.Record]) -> None:
        records = [r for r in records if r.identity in self._unacked]  # a commit retried
        outcomes = await asyncio.gather(
            *(record.handle.ack_sync(timeout=5.0) for record in records), return_exceptions=True
        )
        for record, outcome in zip(records, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                self._unacked.pop(record.identity, None)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def seek(self, position: str | None) -> None:
        unacked, self._unacked = self._unacked, {}
        for message in unacked.values():
            try:
                await message.nak()  # redelivered at once rather than after ack_wait
            except Exception:  # the connection is gone: ack_wait redelivers it
                break

    async def close(self) -> None:
        if self._nc is not None:
            await self.seek(None)
            nc, self._nc, self._sub = self._nc, None, None
            await nc.close()  # not drain: what is unacknowledged was nak'ed just now


def _payload(data: bytes) -> Any:
    """A message's payload: its JSON value when it is JSON, else the bytes."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return bytes(data)
