"""The interface every event source implements, and the records it hands the consumer.

A source is consumed by one loop per workflow (`durable.sources.consumer`), which asks
it for records, derives each run's id from their identities, commits the runs (with
the source's new position, for sources whose position the journal keeps), and only then
acknowledges them to the source.  So a crash anywhere leaves each record either without
a run and unacknowledged (it is read again), or with its run and perhaps
unacknowledged (read again, its run found by id): exactly one run per record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from durable import errors
from durable.journal import base

if TYPE_CHECKING:
    from durable.codec import Codec
    from durable.wakeups import Wakeups

__all__ = ["Context", "DeadLetter", "Record", "Source", "Tuning"]


class DeadLetter(errors.DurableError):
    """A record of an event source could not be given its run (it was handed out too
    often, or could not be read): the error of its FAILED dead-letter run."""


@dataclasses.dataclass(slots=True)
class Record:
    """One record read from a source.

    `identity` names it within its source for good (an entry id, a sequence number, a
    path and etag): the run id is derived from it.  `deliveries` counts how often the
    source handed it out (1 where a source cannot tell).  `handle` is what the source
    needs to acknowledge it.  `error` is set (and `value` meaningless) when the source
    could not read the record: it becomes a FAILED dead-letter run at once.
    """

    identity: str
    value: Any
    deliveries: int = 1
    handle: Any = None
    error: BaseException | None = None
    # set by the consumer on the first record of each batch, the one the run id is
    # derived from: sources whose acks are not atomic acknowledge it last
    leads: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Tuning:
    """How a source's records become runs: `batch_size` records per run (1: one run
    per record, its value the first argument; more: a list), waiting at most `max_wait`
    seconds to fill a batch; a record handed out `max_deliveries` times still without a
    run becomes a FAILED dead-letter run instead (None: never)."""

    batch_size: int = 1
    max_wait: float = 0.0
    max_deliveries: int | None = 5

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.max_wait < 0:
            raise ValueError("max_wait must not be negative")
        if self.max_deliveries is not None and self.max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1 (or None)")


@dataclasses.dataclass(slots=True)
class Context:
    """What a source gets when its consumer opens it: who consumes (`consumer`, the
    workflow's name, also its consumer group or durable name where the broker has
    one), the journal (for positions it keeps), the codec, and the engine's wake-ups
    (`wakeups.news(key)` is set when the journal notifies `key`)."""

    consumer: str
    journal: base.Journal
    codec: Codec
    wakeups: Wakeups


class Source(Protocol):
    """An event source (see the module docstring for the order of operations)."""

    tuning: Tuning

    @property
    def key(self) -> str:
        """The source as run ids and stored positions name it (``redis:orders``)."""

    async def open(self, context: Context) -> None:
        """Connect and resume: from the position the journal holds, or the broker's
        records handed to this consumer and never acknowledged, first."""

    async def read(self, limit: int, timeout: float) -> list[Record]:
        """Up to `limit` records after those already read, waiting at most `timeout`
        seconds for the first (an empty list then)."""

    def offset(self, records: Sequence[Record]) -> base.OffsetMove | None:
        """The position to commit with the runs of `records` (the records read so far
        since the last commit), or None for a source whose broker keeps it."""

    async def ack(self, records: Sequence[Record]) -> None:
        """Tell the source that `records` have their runs (called after the commit)."""

    async def seek(self, position: str | None) -> None:
        """Read again from `position` (the journal's, after another consumer committed
        first), forgetting what was read and not committed."""

    async def close(self) -> None:
        """Disconnect (records read and not acknowledged are handed out again)."""
