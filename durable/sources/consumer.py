"""The loop that turns an event source's records into runs, one per consuming workflow.

Each executing engine (and so each ``durable worker``) runs one `Consumer` per workflow
registered with ``@workflow(on=source)``.  A round: read records (no more than this
engine has free slots for: back-pressure), cut them into batches, derive each run's id
from its first record's identity, create the runs (nobody holds them: the dispatcher
claims them as usual) together with the source's new position in one transaction,
then acknowledge the records to the source.  A run id that already exists is a record
read again after a crash: its run is found, not made twice, and the records it covers
(listed in its metadata) are acknowledged.  A record handed out `max_deliveries`
times without a run, or one the source could not read, becomes a FAILED run of the
workflow (a dead letter, shown by ``durable list --status FAILED``; ``durable resume``
runs it once the cause is fixed).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal import base
from durable.runtime import executor as executor_mod
from durable.runtime import registry
from durable.sources import base as sources_base
from durable.sources import registry as sources_registry

if TYPE_CHECKING:
    from durable.worker.scheduler import Scheduler

__all__ = ["Consumer", "Consumers", "run_id"]

logger = logging.getLogger(__name__)

IDLE_WAIT = 1.0  # seconds a read waits for records before the loop looks around again
MAX_READ = 256  # records read in one round at most


def run_id(workflow_name: str, source: sources_base.Source, identity: str) -> str:
    """The id of the run a record (or a batch starting with it) starts."""
    return f"{workflow_name}@{source.key}/{identity}"


class Consumers:
    """The consumers of one engine: started with its scheduler, stopped before it."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._tasks: list[asyncio.Task[None]] = []
        self.consumers: list[Consumer] = []

    def start(self) -> None:
        """Start consuming every source a registered workflow subscribes to."""
        for name, source in sorted(sources_registry.subscriptions().items()):
            definition = registry.lookup_workflow(name)
            if definition is None:
                continue
            # the declared source is a template: each engine reads through its own copy
            consumer = Consumer(self._scheduler, definition, copy.deepcopy(source))
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.loop(), name=f"durable-source-{name}"))

    async def stop(self) -> None:
        """Stop the loops (records read and not committed are read again later)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for consumer in self.consumers:
            await consumer.close()
        self.consumers.clear()

    def abandon(self) -> None:
        """Stop without closing anything (a simulated SIGKILL)."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()


class Consumer:
    """One workflow's loop over its source (see the module docstring)."""

    def __init__(
        self, scheduler: Scheduler, definition: registry.WorkflowDef, source: sources_base.Source
    ) -> None:
        self.scheduler = scheduler
        self.definition = definition
        self.source = source
        self.created = 0  # runs this consumer created (benchmarks, tests)
        self.dead_letters = 0
        self._opened = False
        self._unclaimed: set[str] = set()  # runs made here, not yet taken up by anyone

    @property
    def journal(self) -> base.Journal:
        return self.scheduler.journal

    async def loop(self) -> None:
        """Consume until cancelled; a failing source or journal is retried with backoff."""
        wait = 0.05
        while self.scheduler.open:
            try:
                if not self._opened:
                    await self._open()
                await self.round()
                wait = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "event source %s of %s failed: %s: %s; retrying in %.2fs",
                    self.source.key,
                    self.definition.name,
                    type(exc).__name__,
                    exc,
                    wait,
                    extra={"action": "source", "workflow_id": None},
                )
                await self._forget()
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)

    async def _open(self) -> None:
        context = sources_base.Context(
            consumer=self.definition.name,
            journal=self.journal,
            codec=self.scheduler.codec,
            wakeups=self.scheduler.wakeups,
        )
        await self.source.open(context)
        self._opened = True

    async def _forget(self) -> None:
        """After a failure: close the source, so the next round resumes from what was
        committed (the journal's position, the broker's unacknowledged records)."""
        if self._opened:
            self._opened = False
            with contextlib.suppress(Exception):
                await self.source.close()

    async def close(self) -> None:
        await self._forget()

    async def round(self) -> int:
        """Read one round of records and give them their runs; returns how many records."""
        room = await self._room()
        tuning = self.source.tuning
        limit = min(MAX_READ, room * tuning.batch_size)
        records = await self.source.read(limit, IDLE_WAIT)
        if not records:
            return 0
        if tuning.max_wait > 0 and len(records) < min(limit, tuning.batch_size):
            deadline = time.monotonic() + tuning.max_wait
            while len(records) < tuning.batch_size and (left := deadline - time.monotonic()) > 0:
                records += await self.source.read(tuning.batch_size - len(records), left)
        await self._commit_retrying(records)
        return len(records)

    async def _commit_retrying(self, records: Sequence[sources_base.Record]) -> None:
        """`commit`, retried while the journal fails: the records stay in hand, so an
        outage of the journal does not hand them out again (a broker's delivery count
        would grow and make dead letters of them)."""
        wait = 0.05
        while True:
            try:
                await self.commit(records)
                return
            except errors.JournalError as exc:
                if not self.scheduler.open:
                    raise
                logger.warning(
                    "runs of %d records of %s not created (%s); retrying in %.2fs",
                    len(records),
                    self.source.key,
                    exc,
                    wait,
                    extra={"action": "source_commit", "workflow_id": None},
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)

    async def _room(self) -> int:
        """Free slots here, less the runs this loop made that nobody took up yet,
        waiting while there are none (back-pressure)."""
        while True:
            free = self.scheduler.free_slots()
            if free >= MAX_READ * 64:  # no concurrency limit: nothing to hold back for
                return free
            await self._prune()
            room = free - len(self._unclaimed)
            if room > 0:
                return room
            await asyncio.sleep(0.05)

    async def _prune(self) -> None:
        """Forget the runs made here that are executing here, held elsewhere or over."""
        for rid in list(self._unclaimed):
            if self.scheduler.executes(rid):
                self._unclaimed.discard(rid)
                continue
            record = await self.journal.get_run(rid)
            if record is None or record.owner is not None or record.status in base.TERMINAL:
                self._unclaimed.discard(rid)

    async def commit(self, records: Sequence[sources_base.Record], *, ack: bool = True) -> None:
        """Create the runs of `records` with the source's position, then acknowledge
        them (``ack=False``: not, as a process killed right after the commit would)."""
        pending = list(records)
        offset = self.source.offset(pending)
        while pending:
            batches = self._batches(pending)
            start = base.SourceStart(runs=[], offset=offset)
            for batch in batches:
                self._plan(batch, start)
            created = await self.journal.start_from_source(start)
            if created is None:  # another consumer committed these first
                await self.source.seek(
                    await self.journal.get_offset(self.definition.name, self.source.key)
                )
                return
            offset = None  # moved: what is left below is only re-batched records
            self.created += sum(created)
            self._unclaimed.update(
                run.id
                for run, new in zip(start.runs, created, strict=True)
                if new and run.id not in start.failed and self.scheduler.concurrency is not None
            )
            self.dead_letters += sum(
                1
                for run, new in zip(start.runs, created, strict=True)
                if new and run.id in start.failed
            )
            pending = await self._uncovered(batches, start.runs, created)
            left = {record.identity for record in pending}
            if ack:
                await self.source.ack([r for r in records if r.identity not in left])
            records = pending
        self.scheduler.dispatcher.want()

    def _batches(self, records: Sequence[sources_base.Record]) -> list[list[sources_base.Record]]:
        size = self.source.tuning.batch_size
        return [list(records[i : i + size]) for i in range(0, len(records), size)]

    def _plan(self, batch: list[sources_base.Record], start: base.SourceStart) -> None:
        """Add the run of `batch` to `start`: a dead letter if a record of it could not
        be read or was handed out too often."""
        definition, codec = self.definition, self.scheduler.codec
        rid = run_id(definition.name, self.source, batch[0].identity)
        batch[0].leads = True
        single = self.source.tuning.batch_size == 1
        value: Any = batch[0].value if single else [record.value for record in batch]
        failure = self._failure(rid, batch)
        try:
            data = executor_mod.encode_input(codec, (value,), {}, rid)
        except errors.SerializationError as exc:
            failure = failure or exc
            data = executor_mod.encode_input(codec, (repr(value),), {}, rid)
        metadata = {
            "source": self.source.key,
            "records": [record.identity for record in batch],
            "deliveries": max(record.deliveries for record in batch),
        }
        start.runs.append(
            base.NewRun(
                id=rid,
                name=definition.name,
                root_id=rid,
                input=data,
                queue=definition.queue,
                metadata=codec.encode(metadata, what="metadata", workflow_id=rid),
                created_at=time.time(),
            )
        )
        if failure is not None:
            start.failed[rid] = codec.encode_error(failure)
            logger.warning(
                "record %s of %s became dead-letter run %s: %s",
                batch[0].identity,
                self.source.key,
                rid,
                failure,
                extra={"action": "dead_letter", "workflow_id": rid},
            )

    def _failure(self, rid: str, batch: Sequence[sources_base.Record]) -> BaseException | None:
        for record in batch:
            if record.error is not None:
                return sources_base.DeadLetter(
                    f"record {record.identity!r} of {self.source.key} could not be read "
                    f"({type(record.error).__name__}: {record.error}); fix the cause, then "
                    f"`durable resume {rid}` runs it",
                    workflow_id=rid,
                )
        limit = self.source.tuning.max_deliveries
        worst = max(batch, key=lambda record: record.deliveries)
        if limit is not None and worst.deliveries > limit:
            return sources_base.DeadLetter(
                f"record {worst.identity!r} of {self.source.key} was handed out "
                f"{worst.deliveries} times (more than max_deliveries={limit}) without its "
                f"run being created; its value is this run's input: `durable resume {rid}` "
                "runs it",
                workflow_id=rid,
            )
        return None

    async def _uncovered(
        self,
        batches: list[list[sources_base.Record]],
        runs: list[base.NewRun],
        created: list[bool],
    ) -> list[sources_base.Record]:
        """The records of batches whose run existed already but does not list them (it
        was made from another cut of the same records): they need runs of their own."""
        left: list[sources_base.Record] = []
        for batch, run, new in zip(batches, runs, created, strict=True):
            if new or len(batch) == 1:
                continue
            record = await self.journal.get_run(run.id)
            listed: set[str] = set()
            if record is not None:
                with contextlib.suppress(Exception):
                    meta = self.scheduler.codec.decode(record.metadata, what="metadata")
                    listed = set(meta.get("records", ()))
            left += [r for r in batch if r.identity not in listed]
        return left
