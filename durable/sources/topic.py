"""`Topic`: the journal's own topic as an event source.

Records are appended by `Engine.publish` in one transaction; a consumer's position is
stored in the journal and moved in the transaction that creates the runs of the
records up to it, so the position and the runs can never disagree.  Consumers wait on
the journal's notification of the topic (Postgres ``NOTIFY``, SQLite's local bus), not
on a poll.
"""

from __future__ import annotations

from collections.abc import Sequence

from durable.journal import base
from durable.sources import base as sources_base

__all__ = ["Topic"]


class Topic:
    """A topic in the journal's own database.

    ``@durable.workflow(on=durable.Topic("orders"))`` starts one run per record
    published with ``engine.publish("orders", records)``; the record is the run's first
    argument (a list of records with ``batch_size`` above 1).  The run id is
    ``<workflow>@topic:<name>/<position>``.

    Parameters
    ----------
    name:
        The topic's name.
    batch_size, max_wait:
        Records per run, and the seconds to wait for a batch to fill.

    Examples
    --------
    >>> Topic("orders").key
    'topic:orders'
    """

    def __init__(self, name: str, *, batch_size: int = 1, max_wait: float = 0.0) -> None:
        if not name:
            raise ValueError("Topic needs a name")
        self.name = name
        self.tuning = sources_base.Tuning(
            batch_size=batch_size, max_wait=max_wait, max_deliveries=None
        )
        self._context: sources_base.Context | None = None
        self._stored: str | None = None  # the position the journal holds for the consumer
        self._position = 0  # the last position read

    def __repr__(self) -> str:
        return f"<durable.Topic {self.name!r}>"

    @property
    def key(self) -> str:
        return f"topic:{self.name}"

    @property
    def context(self) -> sources_base.Context:
        if self._context is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._context

    async def open(self, context: sources_base.Context) -> None:
        self._context = context
        await self.seek(await context.journal.get_offset(context.consumer, self.key))

    async def read(self, limit: int, timeout: float) -> list[sources_base.Record]:
        context = self.context
        wake = base.topic_wakeup(self.name)
        since = context.wakeups.news(wake).count  # before the read: no news is missed
        found = await context.journal.read_topic(self.name, self._position, limit)
        if not found and timeout > 0:
            await context.wakeups.wait(wake, timeout, since=since)
            found = await context.journal.read_topic(self.name, self._position, limit)
        if found:
            self._position = found[-1].position
        return [self._record(row) for row in found]

    def _record(self, row: base.TopicRecord) -> sources_base.Record:
        record = sources_base.Record(identity=str(row.position), value=None, handle=row.position)
        try:
            record.value = self.context.codec.decode(
                row.value, what=f"record {row.position} of topic {self.name!r}"
            )
        except Exception as exc:  # a record this process cannot decode: a dead letter
            record.error = exc
        return record

    def offset(self, records: Sequence[sources_base.Record]) -> base.OffsetMove | None:
        last = max(int(record.handle) for record in records)
        return base.OffsetMove(
            consumer=self.context.consumer,
            source=self.key,
            expected=self._stored,
            position=str(last),
        )

    async def ack(self, records: Sequence[sources_base.Record]) -> None:
        if records:
            self._stored = str(max(int(record.handle) for record in records))

    async def seek(self, position: str | None) -> None:
        self._stored = position
        self._position = 0 if position is None else int(position)

    async def close(self) -> None:
        self._context = None
