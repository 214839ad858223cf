"""`Engine`: the public face of durable: opens a journal, starts runs, inspects them and
operates on them.  What it executes is its `Scheduler`'s (`durable.worker.scheduler`);
operations on existing runs live in `durable.operations`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from durable import codec as codec_mod
from durable import errors, inspection, operations, requests, starting
from durable import streams as streams_mod
from durable import telemetry as telemetry_mod
from durable.api import Queue, Workflow, queue_name
from durable.blobs import offload
from durable.journal import base, open_journal
from durable.runs import HistoryEntry, LineageNode, Run, RunInfo, read_run
from durable.runtime import executor as executor_mod
from durable.runtime import registry, sequencer
from durable.schedules import firing as schedules_firing
from durable.schedules import manage as schedules_manage
from durable.sources import consumer as sources_consumer
from durable.sources.topic import Topic
from durable.worker import leases, recovery, scheduler

if TYPE_CHECKING:
    from durable.telemetry.otel import Telemetry

__all__ = ["Engine", "HistoryEntry", "LineageNode", "Run", "RunInfo"]

R = TypeVar("R")

DEFAULT_URL = "sqlite:///durable.db"
# seconds `close` lets writes retry across an outage (then they fail, as after a crash)
CLOSE_GRACE = 5.0


class Engine(inspection.Inspection):
    """Runs workflows against a journal database.

    Entering the engine creates or migrates the schema and resumes every unfinished
    run in the database whose workflow this process has registered, except runs a
    live process holds.  A holder on this machine that died is known dead at once
    (its pid is gone); anything else is taken over when its lease expires.  An
    executing engine also fires the journal's schedules (``engine.schedules``:
    `durable.schedules.Schedules`).

    Parameters
    ----------
    url:
        ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite://:memory:``
        or ``postgresql://...``; defaults to ``$DURABLE_DATABASE_URL``, else
        ``sqlite:///durable.db``.
    pickle:
        Whether values msgspec cannot encode fall back to cloudpickle.  With
        ``False`` they raise `SerializationError`, and pickled journal values are
        refused.
    durability:
        ``"process"`` (default): a commit survives the process being killed.
        ``"full"``: it also survives power loss (SQLite ``synchronous=FULL``).
    lease:
        Seconds a run's lease lasts without a heartbeat; only a fallback for holders
        whose death cannot be known (another machine).
    poll_interval:
        Seconds between looks for runs to take over; 0 disables the look.  On a
        journal that notifies changes (Postgres) it is also how often `durable.recv` and
        `get_event` look anyway, in case no notification woke them.
    execute:
        Whether this engine executes runs; ``False`` makes an engine that only
        starts and inspects them.
    concurrency:
        At most this many runs executing here at once (runs it starts itself
        included); None for no limit.  Workers set it.
    queues:
        Take over only runs of these queues (a run without a queue is on
        ``"default"``); None for every queue.
    suspend_sleeps:
        A run whose only pending call is a durable sleep of at least this many
        seconds gives up its slot and its lease; whichever engine is free when it
        is due resumes it.  None keeps sleeping runs in memory.
    telemetry:
        ``True`` reports traces, metrics and log trace ids to OpenTelemetry's global
        providers, a `durable.telemetry.Config` to providers of its own; needs the
        ``otel`` extra.  Off (``False``) by default, and then OpenTelemetry is not
        imported.
    store:
        Where values larger than `offload_over` go: ``file:///dir``,
        ``s3://bucket/prefix`` (any fsspec URL) or ``memory://name``; the journal keeps
        a reference (uri, sha256, size, format).  Defaults to
        ``$DURABLE_BLOB_STORE`` (so the CLI offloads too), else none.  Needs the ``blobs``
        extra.
    offload_over:
        The size in bytes above which a value's encoding is offloaded (default 262144
        when `store` is given).  Given without `store` on a SQLite file, the store is
        the folder ``<database>.blobs`` beside it.  Neither given: every value stays
        in the journal.
    store_options:
        Passed to fsspec (for S3: ``{"endpoint_url": ..., "key": ..., "secret": ...}``).

    Examples
    --------
    >>> import asyncio, durable
    >>> @durable.workflow(name="doc.add")
    ... async def add(a: int, b: int) -> int:
    ...     return a + b
    >>> async def main():
    ...     async with durable.Engine("sqlite://:memory:") as engine:
    ...         return await engine.run(add, 2, 3)
    >>> asyncio.run(main())
    5
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        pickle: bool = True,
        durability: str = "process",
        lease: float = 30.0,
        poll_interval: float = 1.0,
        execute: bool = True,
        concurrency: int | None = None,
        queues: Sequence[str] | None = None,
        suspend_sleeps: float | None = None,
        telemetry: bool | telemetry_mod.Config = False,
        store: str | None = None,
        offload_over: int | None = None,
        store_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url or os.environ.get("DURABLE_DATABASE_URL") or DEFAULT_URL
        self.blobs = offload.configure(
            self.url,
            store=store or os.environ.get("DURABLE_BLOB_STORE") or None,
            offload_over=offload_over,
            options=store_options,
        )
        self.codec = codec_mod.Codec(pickle=pickle, blobs=self.blobs)
        self.blobs.codec = self.codec
        self.journal: base.Journal = open_journal(self.url, durability=durability)
        self.execute = execute
        self.scheduler = scheduler.Scheduler(
            self.journal,
            self.codec,
            lease=lease,
            poll_interval=poll_interval,
            concurrency=concurrency,
            queues=queues,
            suspend_sleeps=suspend_sleeps,
            cancel=self.cancel,
        )
        self._telemetry = telemetry_mod.config_of(telemetry)
        # the engine's OpenTelemetry reporting, from `open` on (None: off)
        self.telemetry: Telemetry | None = None
        self.sources = sources_consumer.Consumers(self.scheduler)
        self.schedules = schedules_manage.Schedules(self)
        self.firer = schedules_firing.Firer(self.scheduler)

    @property
    def owner(self) -> str:
        """This engine's owner id in the journal (set when it opens)."""
        return self.scheduler.owner

    @property
    def is_open(self) -> bool:
        """Whether the engine is open (between `open` and `close`)."""
        return self.scheduler.open

    @property
    def unregistered(self) -> dict[str, errors.NotRegistered]:
        """Unfinished runs of workflows this process never imported, by id."""
        return self.scheduler.unregistered

    async def __aenter__(self) -> Engine:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the journal and resume unfinished runs (what ``async with`` does)."""
        if self._telemetry is not None and self.telemetry is None:
            self.telemetry = telemetry_mod.enable(self._telemetry, self.codec)
            self.scheduler.hooks = self.telemetry
        offload.activate(self.blobs)
        await self.journal.open()
        sequencer.count_workflow_tasks(asyncio.get_running_loop())
        if self.telemetry is not None:
            self.telemetry.start(self.journal)
        owner = leases.new_owner_id()
        if not self.journal.read_only:  # an inspector on a read-only journal writes nothing
            await self.journal.register_owner(owner)
        self.scheduler.start(owner)
        if self.execute:
            if not self.journal.read_only:
                # before any run resumes: a resumed run may end this engine (a crash test's
                # does), and the declarations need the journal open
                await self.schedules.declare_all()
                await self._record_catalog(owner)
            await self.recover()
            self.scheduler.serve()
            self.sources.start()
            if not self.journal.read_only:
                self.firer.start()

    async def _record_catalog(self, owner: str) -> None:
        """Record in the journal's catalog the workflows imported here that it does not
        hold yet, or holds with another queue (one read; a write only for a change)."""
        held = {record.name: record.queue for record in await self.journal.workflow_catalog()}
        changed = [(n, q) for n, q in registry.catalog() if n not in held or held[n] != q]
        await self.journal.record_workflows(changed, owner, time.time())

    async def close(self) -> None:
        """Stop executing (runs stay unfinished and are released to others), close the journal."""
        if not self.scheduler.open:
            return
        # a database that went away must not hold the stop for the outage limit
        self.journal.closing(CLOSE_GRACE)
        await self.firer.stop()
        await self.sources.stop()
        await self.scheduler.stop()
        if self.telemetry is not None:
            await self.telemetry.close()
        if not self.journal.read_only:
            with contextlib.suppress(errors.JournalError):
                await self.journal.release(self.owner)
        leases.forget(self.owner)
        await self.journal.close()

    def abandon(self) -> None:
        """Drop everything without writing anything, as if the process had been killed.

        For crash tests: the journal is left exactly as a SIGKILL would leave it, and
        this engine's runs become free for another engine at once.
        """
        if self.telemetry is not None:
            self.telemetry.abandon()
        self.firer.abandon()
        self.sources.abandon()
        self.scheduler.abandon()
        self.journal.abandon()
        leases.forget(self.owner)

    # -- starting -------------------------------------------------------------------------

    @staticmethod
    def _definition(wf: Workflow[Any, Any] | str) -> registry.WorkflowDef | None:
        """The workflow's definition; None for a name this process never imported (the
        run is then started by name, for a worker that imported it)."""
        if isinstance(wf, Workflow):
            return wf.definition
        return registry.lookup_workflow(starting.check_name(wf))

    async def start(
        self,
        wf: Workflow[..., Any] | str,
        *args: Any,
        workflow_id: str | None = None,
        queue: Queue | str | None = None,
        metadata: dict[str, Any] | None = None,
        priority: int = 0,
        start_at: datetime.datetime | float | None = None,
        delay: float | None = None,
        partition_key: str | None = None,
        dedup_key: str | None = None,
        **kwargs: Any,
    ) -> Run:
        """Start a run of `wf` (a `@workflow` function or its journal name).

        Starting an id that already exists returns that run; nothing runs twice.
        Workers take higher `priority` first; each minute a run waits counts as one
        more point, so low priority work is never starved.  `metadata` is visible as
        ``durable.context().metadata`` in the run and its children.

        A name this process never imported starts a run that a worker which imported
        it executes (`InvalidStart` if the name cannot be a workflow's); give its
        `queue` then, as the starter cannot read the workflow's own.  ``start_at``
        (an aware datetime or epoch seconds) or ``delay`` (seconds): the run stays
        PENDING until then.  ``partition_key``: counted against its queue's
        ``partition_concurrency``.  ``dedup_key``: while a run started with it is
        unfinished, a start with the same key returns that run (see
        `durable.starting`).
        """
        run, _, _ = await self.submit(
            wf,
            args,
            kwargs,
            workflow_id=workflow_id,
            queue=queue,
            metadata=metadata,
            priority=priority,
            start_at=start_at,
            delay=delay,
            partition_key=partition_key,
            dedup_key=dedup_key,
        )
        return run

    async def submit(
        self,
        wf: Workflow[..., Any] | str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        queue: Queue | str | None = None,
        metadata: dict[str, Any] | None = None,
        priority: int = 0,
        start_at: datetime.datetime | float | None = None,
        delay: float | None = None,
        partition_key: str | None = None,
        dedup_key: str | None = None,
    ) -> tuple[Run, base.RunRecord, bool]:
        """`start` with the arguments as a sequence and a mapping, returning also the
        run's stored row and whether this call created it (False: the id existed, or an
        unfinished run holds `dedup_key`, and the row is that run's, whatever its input).
        The journal's unique run id (and unique key) decides, so of concurrent calls with
        one id exactly one gets True."""
        args, kwargs = tuple(args), dict(kwargs or {})
        definition = self._definition(wf)
        name = definition.name if definition is not None else str(wf)
        now = time.time()
        chosen = starting.options(
            start_at=start_at,
            delay=delay,
            partition_key=partition_key,
            dedup_key=dedup_key,
            now=now,
            workflow_id=workflow_id,
        )
        run_id = workflow_id or uuid.uuid4().hex
        queue = queue_name(queue) or (definition.queue if definition is not None else None)
        if definition is None and queue is None:  # its queue, as the workers that import it say
            known = await self.journal.workflow_catalog(name)
            queue = known[0].queue if known else None
        runner = self.scheduler
        # a run of a limited queue is claimed like any other, so that its limits hold
        executes = self.execute and runner.open and not runner.limited(queue)
        executes = executes and definition is not None and not chosen.delayed(now)
        executes = executes and runner.free_slots() > 0
        metadata = dict(metadata or {})
        if self.telemetry is not None:  # the starter's trace goes on in whoever executes it
            metadata = self.telemetry.inject(metadata)
        new = base.NewRun(
            id=run_id,
            name=name,
            root_id=run_id,
            input=executor_mod.encode_input(self.codec, args, kwargs, run_id),
            queue=queue,
            metadata=self.codec.encode(metadata, what="metadata", workflow_id=run_id),
            owner=self.owner if executes else None,
            lease_expires_at=self.journal.now() + runner.lease if executes else None,
            created_at=now,
            status=base.Status.RUNNING if executes else base.Status.PENDING,
            priority=priority,
            start_at=chosen.start_at,
            partition_key=chosen.partition_key,
            dedup_key=chosen.dedup_key,
        )
        record, created = await self.journal.create_run(new)
        if created and executes and definition is not None:
            runner.launch(base.RunLoad(run=record, entries=[], attempts=[], timers=[]), definition)
        elif created and chosen.delayed(now):
            runner.dispatcher.want()  # its claim finds it not due and sets the timer for it
        elif created and self.execute and runner.open and runner.queue_slots(queue) > 0:
            await runner.take_over(record)
        return Run(self, record.id), record, created

    async def run(self, wf: Workflow[..., R] | str, *args: Any, **kwargs: Any) -> Any:
        """Start a run and wait for its result."""
        return await (await self.start(wf, *args, **kwargs)).result()

    def get(self, workflow_id: str) -> Run:
        """A handle on an existing run (not checked until used)."""
        return Run(self, workflow_id)

    def drain(self) -> None:
        """Stop taking runs; running ones stop at their next durable call (their steps in
        flight finish and are journaled first), then are released to other engines."""
        self.scheduler.drain()

    async def recover(self) -> int:
        """Take over every unfinished run this process can execute; returns how many."""
        return await recovery.recover(self.scheduler)

    # -- operations ---------------------------------------------------------------------------

    async def cancel(self, workflow_id: str) -> None:
        """Cancel a run and its descendants: they become CANCELLED.

        Runs executing in this process stop at once; runs held by another live process
        are flagged in the journal and stop as soon as that process hears of it (at
        once where the journal notifies changes: Postgres, or SQLite on one machine;
        else at its next look); unheld runs are marked CANCELLED here.  Finished runs are
        left as they are.  A cancelled run can be resumed.
        """
        await operations.cancel(self, workflow_id)

    async def resume(self, workflow_id: str) -> Run:
        """Carry a failed or cancelled run on from its journal.

        The error entries at the end of the journal (those after its last successful
        entry: the failure that ended the run) are moved to the attempts history, so
        those calls run again; everything before is replayed.
        """
        await operations.resume(self, workflow_id)
        return Run(self, workflow_id)

    async def fork(self, workflow_id: str, from_step: int) -> Run:
        """A new run of the same workflow and input that reuses the results of the calls
        numbered below `from_step` (those that completed before it) and re-executes the rest.
        """
        return Run(self, await operations.fork(self, workflow_id, from_step))

    async def restart(self, workflow_id: str) -> Run:
        """A new run of the same workflow and input, its journal ignored ("start over")."""
        return Run(self, await operations.restart(self, workflow_id))

    # -- messages and events ------------------------------------------------------------------

    async def send(self, workflow_id: str, topic: str, value: Any) -> None:
        """Send `value` to run `workflow_id` on `topic` (received with `durable.recv`).

        Raises `WorkflowNotFound` when no run has that id, `RunFinished` when it has
        finished (the message would never be received).
        """
        data = self.codec.encode(value, what=f"message {topic!r}", workflow_id=workflow_id)
        await self.journal.send_message(workflow_id, topic, data, key=None)
        self.scheduler.changed(workflow_id).set()

    async def request(
        self,
        workflow_id: str,
        name: str,
        value: Any = None,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> Any:
        """Send request `name` to a running run and wait for its answer: the value the
        run gives `Request.reply` (it takes the request with `durable.recv_request`).

        Requests are queued in send order until the run takes them.  This engine need
        not know the workflow's code.

        Parameters
        ----------
        timeout:
            Seconds to wait for the answer; then `TimeoutError`, and the request *stays
            queued*: the run answers it all the same, and a call with the same
            `request_id` returns that answer.  Cancelling the call instead withdraws
            the request if the run has not taken it yet.
        request_id:
            Makes the call idempotent: a request with this id is sent once per run, and
            a second call waits for (or returns) the first one's answer.

        Raises `Rejected` when the run rejects it (`Request.reject`), `WorkflowNotFound`
        for an unknown id, `RunFinished` when the run has finished (or finishes without
        answering).

        Examples
        --------
        >>> import asyncio, durable
        >>> @durable.workflow(name="doc.greeter")
        ... async def greeter() -> str:
        ...     request = await durable.recv_request("greet")
        ...     await request.reply(f"hello {request.value}")
        ...     return "greeted"
        >>> async def main():
        ...     async with durable.Engine("sqlite://:memory:") as engine:
        ...         run = await engine.start(greeter)
        ...         return await engine.request(run.id, "greet", "ann", timeout=10)
        >>> asyncio.run(main())
        'hello ann'
        """
        return await requests.call(
            self, workflow_id, name, value, timeout=timeout, request_id=request_id
        )

    async def publish(
        self,
        topic: Topic | str,
        records: Sequence[Any],
        keys: Sequence[str | None] | None = None,
    ) -> int:
        """Append `records` to the journal's topic `topic` in one transaction; returns
        how many were appended.

        A record whose key (``keys[i]``) is already in the topic is left out, so a
        publish retried after an error appends nothing twice.  Workflows declared with
        ``@workflow(on=durable.Topic(topic))`` get one run per record.
        """
        name = topic.name if isinstance(topic, Topic) else topic
        if keys is not None and len(keys) != len(records):
            raise ValueError(
                f"publish to {name!r}: {len(records)} records but {len(keys)} keys "
                "(give None for a record without a key)"
            )
        values = [
            self.codec.encode(record, what=f"record for topic {name!r}") for record in records
        ]
        appended = await self.journal.publish(name, values, list(keys or [None] * len(values)))
        if appended:  # this engine's own consumers (the journal notifies the others)
            self.scheduler.wakeups.heard(base.topic_wakeup(name))
        return appended

    def read_stream(
        self, workflow_id: str, key: str, offset: int = 0
    ) -> AsyncIterator[streams_mod.StreamChunk]:
        """The chunks of the run's stream `key` from `offset` on, as they are written.

        An async iterator of `durable.StreamChunk`; it ends after the last chunk once
        the stream is closed (`durable.close_stream`) or the run has finished, and
        raises `WorkflowNotFound` for an unknown id.

        Parameters
        ----------
        workflow_id, key:
            The run and its stream.
        offset:
            The first chunk's offset: 0 from the start, ``chunk.offset + 1`` to resume.
        """
        return streams_mod.read_chunks(self, workflow_id, key, offset)

    async def get_event(self, workflow_id: str, key: str, timeout: float | None = None) -> Any:
        """The value a run published with `durable.set_event(key, ...)`.

        Waits until it is set, at most `timeout` seconds (then returns None).
        """
        runner = self.scheduler
        deadline = None if timeout is None else time.monotonic() + timeout
        safety = 0.5
        if self.journal.notifies_changes:  # woken by notifications: the look is a fallback
            safety = runner.poll_interval or 2.0
        while True:
            since = runner.changed(workflow_id).count  # before the read: no news is missed
            data = await self.journal.get_event(workflow_id, key)
            if data is not None:
                return self.codec.decode(data, what=f"event {key!r}", workflow_id=workflow_id)
            await read_run(self.journal, workflow_id)  # WorkflowNotFound for an unknown id
            wait = safety if deadline is None else min(safety, deadline - time.monotonic())
            if wait <= 0:
                return None
            await runner.wait_changed(workflow_id, wait, since=since)
