"""The storage interface the runtime writes through, and the rows it exchanges.

A backend is one class implementing `Journal`; the runtime never learns which one
it talks to.  Every method states its atomicity and idempotency contract.  Times
are seconds since the epoch (float); payloads are bytes written by `durable.codec`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import msgspec

from durable.journal import generations, stream_records
from durable.journal.catalog import CatalogStore
from durable.journal.requests import RequestStore

__all__ = [
    "TERMINAL",
    "AttemptRecord",
    "EntryRecord",
    "Journal",
    "LeaseLost",
    "NewRun",
    "OffsetMove",
    "QueueLimits",
    "RunLoad",
    "RunRecord",
    "RunUpdate",
    "SourceStart",
    "Status",
    "TimerRecord",
    "TopicRecord",
    "TopicStore",
    "Transaction",
    "TxConnection",
    "topic_wakeup",
]

SCHEMA_VERSION = 8


class Status(enum.StrEnum):
    """The life of a run: PENDING → RUNNING ⇄ SLEEPING → SUCCEEDED | FAILED | CANCELLED."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SLEEPING = "SLEEPING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})


class NewRun(msgspec.Struct, kw_only=True):
    """A run to insert; `create_run` ignores it when the id already exists."""

    id: str
    name: str
    input: bytes
    parent_id: str | None = None
    parent_seq: int | None = None
    root_id: str
    queue: str | None = None
    metadata: bytes
    owner: str | None = None
    lease_expires_at: float | None = None
    created_at: float
    status: Status = Status.PENDING
    priority: int = 0
    # start options (`durable.starting`): not claimed before `start_at`; `dedup_key` is
    # unique among unfinished runs; `partition_key` counts against its queue's
    # `partition_concurrency`; a `detached` child is left out of its parent's cancel
    start_at: float | None = None
    partition_key: str | None = None
    dedup_key: str | None = None
    detached: bool = False


class RunRecord(msgspec.Struct, kw_only=True):
    """One row of the runs table."""

    id: str
    name: str
    status: Status
    input: bytes
    output: bytes | None = None
    error: bytes | None = None
    parent_id: str | None = None
    parent_seq: int | None = None
    root_id: str
    queue: str | None = None
    metadata: bytes
    attempt: int = 0
    owner: str | None = None
    lease_expires_at: float | None = None
    wake_at: float | None = None
    priority: int = 0
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    cancel_requested: bool = False
    start_at: float | None = None
    partition_key: str | None = None
    dedup_key: str | None = None
    detached: bool = False


class RunUpdate(msgspec.Struct, kw_only=True):
    """A status change written by the run's owner (see `Journal.update_run`)."""

    run_id: str
    status: Status
    at: float
    output: bytes | None = None
    error: bytes | None = None
    wake_at: float | None = None


class EntryRecord(msgspec.Struct, kw_only=True):
    """One completed durable call of a run, keyed by (run_id, seq).

    `ord` is the order in which the run's entries completed (and were handed back
    to the workflow); replay hands them back in that order.
    """

    run_id: str
    seq: int
    ord: int
    kind: str
    name: str
    status: str  # "ok" or "error"
    fingerprint: str
    output: bytes | None = None
    error: bytes | None = None
    attempts: int = 1
    started_at: float
    finished_at: float
    child_id: str | None = None


class AttemptRecord(msgspec.Struct, kw_only=True):
    """A failed attempt of a step that will be retried at `retry_at`."""

    run_id: str
    seq: int
    attempt: int
    error: bytes
    failed_at: float
    retry_at: float


class TimerRecord(msgspec.Struct, kw_only=True):
    """A durable timer (sleep) whose deadline was fixed when it was set."""

    run_id: str
    seq: int
    wake_at: float


class RunLoad(msgspec.Struct, kw_only=True):
    """Everything a resumed run needs, read in one go."""

    run: RunRecord
    entries: list[EntryRecord]
    attempts: list[AttemptRecord]
    timers: list[TimerRecord]
    # the run's current generation (from 1; see `durable.continue_as_new`)
    generation: int = 1


class QueueLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of one queue across every process sharing the journal."""

    queue: str
    concurrency: int | None = None
    rate_limit: int | None = None
    period: float = 60.0
    partition_concurrency: int | None = None

    def admits(self, held: int, started: int, partition_held: int = 0) -> bool:
        """Whether one more run may be claimed while `held` runs of the queue are held,
        `started` were started in the last `period` seconds and `partition_held` runs of
        the claimed run's partition are held (the journal counts them, leaving out the
        run being claimed, atomically with the claim; a run without a partition key
        has no partition limit)."""
        if self.concurrency is not None and held >= self.concurrency:
            return False
        if self.partition_concurrency is not None and partition_held >= self.partition_concurrency:
            return False
        return self.rate_limit is None or started < self.rate_limit


class TopicRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One record of a journal topic: its position (from 1, increasing, not contiguous
    where a key was left out), its deduplication key, its encoded value."""

    position: int
    key: str | None
    value: bytes


class OffsetMove(msgspec.Struct, frozen=True, kw_only=True):
    """Move a consumer's position in a source from `expected` (None: never stored) to
    `position`, compare-and-set (see `TopicStore.start_from_source`)."""

    consumer: str
    source: str
    expected: str | None
    position: str


class SourceStart(msgspec.Struct, kw_only=True):
    """The runs an event source starts for a batch of records, committed together."""

    runs: list[NewRun]
    # run id -> encoded error: created FAILED at once (a dead-lettered record's run)
    failed: dict[str, bytes] = msgspec.field(default_factory=dict)
    offset: OffsetMove | None = None


class LeaseLost(Exception):
    """Internal: the run is no longer owned by this process, so its write was rejected."""


class TxCursor(Protocol):
    """What `conn.execute` returns inside a `@durable.transaction` step."""

    rowcount: int

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> list[Any]: ...


class TxConnection(Protocol):
    """The connection a `@durable.transaction` step receives."""

    async def execute(self, sql: str, params: Sequence[Any] | None = None) -> TxCursor: ...


class Transaction:
    """An open `Journal.transaction`: the user's connection and the entry to journal."""

    __slots__ = ("conn", "entry")

    def __init__(self, conn: TxConnection) -> None:
        self.conn = conn
        self.entry: EntryRecord | None = None


class BlobReferences(Protocol):
    """Which journal rows reference blobs (`durable.blobs`); only prune and sweep call it."""

    async def blob_payloads(self) -> list[tuple[str, bytes]]:
        """``(run_id, payload)`` of every payload that names a blob key (``sha256/``):
        run inputs, results and metadata, entry outputs, messages and events (run id),
        and topic records (run id ``""``).  A read; payloads that merely contain the
        text are included too (callers treat them as references, which is safe)."""


class TopicStore(Protocol):
    """The journal's own topics and the positions event sources consume from
    (`durable.sources`); the runtime never calls these."""

    async def publish(self, topic: str, values: Sequence[bytes], keys: Sequence[str | None]) -> int:
        """Append records to `topic` in one transaction, in order; a record whose key is
        already in the topic (or earlier in the call) is left out.  Returns how many were
        appended.  Wakes the topic's consumers (`topic_wakeup`) on commit."""

    async def read_topic(self, topic: str, after: int, limit: int) -> list[TopicRecord]:
        """Up to `limit` records of `topic` with positions above `after`, in order."""

    async def get_offset(self, consumer: str, source: str) -> str | None:
        """The position `consumer` last committed in `source`, or None."""

    async def start_from_source(self, start: SourceStart) -> list[bool] | None:
        """Create `start.runs` (an id that exists is left as it is), make those named in
        `start.failed` FAILED with that error if this call created them, and move
        `start.offset` (compare-and-set), all in one transaction.

        Returns whether each run was created, or None (writing nothing) when the offset
        had moved away from `expected` (another consumer committed first: read again).
        """


def topic_wakeup(topic: str) -> str:
    """The key under which a topic's new records are announced on the journal's change
    notifications (Postgres ``NOTIFY``, SQLite's local bus): consumers wait on it."""
    return f"durable-topic:{topic}"


class Journal(
    BlobReferences,
    CatalogStore,
    TopicStore,
    generations.GenerationStore,
    RequestStore,
    stream_records.StreamStore,
    Protocol,
):
    """Operations the runtime needs from a journal database.

    Implementations translate their driver's errors into `durable.JournalError`.
    """

    url: str
    dialect: str

    async def open(self) -> None:
        """Connect, then create or migrate the schema (idempotent, safe across processes)."""

    async def close(self) -> None:
        """Flush pending writes and disconnect."""

    async def create_run(self, run: NewRun) -> tuple[RunRecord, bool]:
        """Insert `run` unless its id exists, or (with `dedup_key`) an unfinished run has
        its key; return the stored row (that other run's, then) and whether it was new.

        Atomic: of concurrent calls with one id, or one key, exactly one creates it.
        """

    async def dedup_holder(self, dedup_key: str) -> str | None:
        """The id of the unfinished run holding `dedup_key`, or None."""

    async def next_start(self, names: Sequence[str]) -> float | None:
        """The earliest `start_at` of the PENDING runs of `names` nobody holds that are not
        due yet (the dispatcher sets a timer for it), or None."""

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run's row, or None."""

    async def list_runs(
        self,
        *,
        status: Sequence[Status] | None = None,
        name: str | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        limit: int = 100,
        before: tuple[float, str] | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first (``created_at``, then id, descending), filtered by any of
        status, name, parent and root; with `before` = ``(created_at, id)`` of a run, only
        the runs listed after it (a page cursor that holds while runs are added)."""

    async def load(self, run_id: str) -> RunLoad | None:
        """The run with all its entries (in seq order), attempts and timers, in one read."""

    async def append_entries(self, owner: str, entries: Sequence[EntryRecord]) -> None:
        """Journal completed entries, all or nothing, only while `owner` holds each run.

        Idempotent per (run_id, seq): an entry already present is never rewritten.
        Raises `LeaseLost` (and writes nothing) when a run is owned by someone else.
        A backend whose database can lose acknowledged commits (Postgres failing over
        to an asynchronous standby) raises `JournalError` instead, writing nothing, when
        the run's journal lacks an entry this journal saw committed: the run is then
        replayed from what its journal holds, so no entry lands above a hole.
        """

    async def record_attempt(self, owner: str, attempt: AttemptRecord) -> None:
        """Record a failed attempt and its retry time (idempotent per attempt number)."""

    async def set_timer(self, owner: str, timer: TimerRecord) -> None:
        """Fix a durable timer's deadline; a second call for the same seq keeps the first."""

    async def update_run(self, owner: str, update: RunUpdate) -> None:
        """Change a run's status (and output or error), only while `owner` holds it."""

    def transaction(self, owner: str, run_id: str) -> AbstractAsyncContextManager[Transaction]:
        """A transaction on the journal's database; on a clean exit it also journals
        `Transaction.entry` (when set) and commits.

        The user's statements and the entry commit together or not at all; an
        exception inside rolls everything back.  Raises `LeaseLost` (rolling back)
        when `owner` no longer holds the run.
        """

    async def claim(
        self,
        owner: str,
        run_id: str,
        *,
        expected_owner: str | None,
        lease_expires_at: float,
        limits: QueueLimits | None = None,
    ) -> RunRecord | None:
        """Take a run if its owner is still `expected_owner` (compare-and-set), and, with
        `limits`, only while its queue has fewer held runs than `limits.concurrency` and
        fewer runs started in the last `limits.period` seconds than `limits.rate_limit`
        (checked and claimed atomically across all processes).

        Returns the claimed row (with `attempt` incremented), or None if someone else
        changed the owner first or the run has finished.
        """

    async def claimable(self, names: Sequence[str], *, limit: int = 1000) -> list[RunRecord]:
        """Unfinished runs of the given workflow names, with their owners: highest
        ``priority + minutes waited`` first (so low priority work is never starved),
        then oldest."""

    async def claim_batch(
        self,
        owner: str,
        names: Sequence[str],
        *,
        limit: int,
        lease_expires_at: float,
        queues: Sequence[str] | None = None,
        skip_queues: Sequence[str] = (),
    ) -> list[RunRecord]:
        """Claim up to `limit` runnable runs that nobody holds, in one statement: runs
        of the workflow names given, of `queues` (a run without one is on
        ``"default"``; None: all), not of `skip_queues` (queues with limits, claimed one
        at a time with `claim`), not asleep before their wake-up time; highest
        ``priority + minutes waited`` first, then oldest (the order returned).

        Atomic across processes: no run is returned to two claimers.  Each returned row
        has `owner` set and `attempt` incremented; a PENDING run becomes RUNNING.  An
        `attempt` of 1 means the run was never taken up before: its journal is empty
        (every run created held by an engine starts at attempt 1).
        """

    async def heartbeat(self, owner: str, lease_expires_at: float) -> int:
        """Extend the lease of every unfinished run `owner` holds; returns how many."""

    async def release(self, owner: str, run_ids: Sequence[str] | None = None) -> None:
        """Give up runs (all of `owner`'s when `run_ids` is None) so others can claim them."""

    async def cancel_requested(self, owner: str) -> list[str]:
        """Unfinished runs held by `owner` whose cancellation was requested."""

    async def send_message(self, run_id: str, topic: str, value: bytes, key: str | None) -> bool:
        """Queue a message for a run.  Idempotent per `key` (False when already sent).

        Raises `WorkflowNotFound` when no run has that id.
        """

    async def receive_message(
        self, owner: str, run_id: str, topic: str, entry: EntryRecord
    ) -> EntryRecord | None:
        """Take the oldest unconsumed message of (run_id, topic) and journal `entry` with
        the message as its output, in one transaction (exactly-once delivery).

        Returns the entry written, or None (writing nothing) when no message waits.
        Raises `LeaseLost` when `owner` does not hold the run.
        """

    async def set_event(
        self, owner: str, run_id: str, key: str, value: bytes, entry: EntryRecord
    ) -> None:
        """Publish (or replace) an event of a run and journal `entry`, in one transaction."""

    async def get_event(self, run_id: str, key: str) -> bytes | None:
        """The value of a run's event, or None if it was never set."""

    async def request_cancel(self, run_ids: Sequence[str]) -> None:
        """Flag runs for cancellation; their owner sees the flag at its next check."""

    async def copy_entries(self, source_id: str, target_id: str, before_seq: int) -> int:
        """Copy to another run (fork) the entries with seq < `before_seq` that completed
        before every entry with seq >= `before_seq` (a prefix in completion order, so the
        copy replays consistently).  Returns how many were copied."""

    async def reopen(self, run_id: str) -> int:
        """Make a FAILED or CANCELLED run PENDING again, with no owner, keeping its journal
        except the error entries completed after its last successful entry, which move
        to the attempts table.  Atomic.  Returns how many entries moved."""

    async def list_finished(
        self, *, after: float, after_id: str = "", before: float | None = None, limit: int = 1000
    ) -> list[RunRecord]:
        """Finished runs with ``(finished_at, id) > (after, after_id)`` and ``finished_at <
        before``, in that order (keyset paging for export)."""

    async def delete_runs(self, runs: Sequence[tuple[str, float]]) -> int:
        """Delete each finished run whose id and ``finished_at`` are as given, with its
        entries, attempts, timers, messages and events (a run reopened or finished again
        since is kept).  Atomic; idempotent.  Returns how many runs were deleted."""

    # -- optional features: `durable.journal.features.Features` gives their defaults --

    @property
    def announces_work(self) -> bool:
        """See `Features.announces_work`."""

    @property
    def notifies_changes(self) -> bool:
        """See `Features.notifies_changes`."""

    def watch(self, callback: Callable[[str | None], None]) -> None:
        """See `Features.watch`."""

    def watch_work(self, callback: Callable[[], None]) -> None:
        """See `Features.watch_work`."""

    def closing(self, grace: float) -> None:
        """See `Features.closing`."""

    async def register_owner(self, owner: str) -> None:
        """See `Features.register_owner`."""

    async def owner_alive(self, owner: str) -> bool:
        """See `Features.owner_alive`."""

    def abandon(self) -> None:
        """See `Features.abandon`."""

    @property
    def read_only(self) -> bool:
        """See `Features.read_only`."""

    def allow_read_only(self) -> None:
        """See `Features.allow_read_only`."""

    def now(self) -> float:
        """See `Features.now`."""

    async def sync_clock(self) -> None:
        """See `Features.sync_clock`."""


def by_priority(records: Sequence[RunRecord], now: float | None = None) -> list[RunRecord]:
    """`records` in claim order: ``priority + minutes waited`` first, then oldest."""
    moment = time.time() if now is None else now
    return sorted(
        records, key=lambda r: (-(r.priority + (moment - r.created_at) / 60.0), r.created_at, r.id)
    )
