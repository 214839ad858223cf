"""What the engine hands out about runs: `Run` handles and the rows of `Engine.list`,
`Engine.history` and `Engine.lineage`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from durable import codec as codec_mod
from durable import errors
from durable.journal import base

if TYPE_CHECKING:
    from durable.engine import Engine

__all__ = [
    "HistoryEntry",
    "LineageNode",
    "Run",
    "RunInfo",
    "Undecodable",
    "history",
    "lineage",
    "read_run",
]


async def read_run(journal: base.Journal, run_id: str) -> base.RunRecord:
    """The row of run `run_id`; `WorkflowNotFound` when there is none."""
    record = await journal.get_run(run_id)
    if record is None:
        raise errors.WorkflowNotFound(workflow_id=run_id)
    return record


def _when(ts: float | None) -> datetime.datetime | None:
    return None if ts is None else datetime.datetime.fromtimestamp(ts, datetime.UTC)


@dataclass(frozen=True)
class RunInfo:
    """A run as `Engine.list` and `Run.info` describe it."""

    id: str
    name: str
    status: base.Status
    parent_id: str | None
    root_id: str
    queue: str | None
    attempt: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    finished_at: datetime.datetime | None
    owner: str | None
    # start options: due time of a delayed start (None: at once), partition, dedup key
    start_at: datetime.datetime | None = None
    partition_key: str | None = None
    dedup_key: str | None = None
    detached: bool = False

    @classmethod
    def from_record(cls, record: base.RunRecord) -> RunInfo:
        created = _when(record.created_at)
        updated = _when(record.updated_at)
        assert created is not None and updated is not None
        return cls(
            id=record.id,
            name=record.name,
            status=record.status,
            parent_id=record.parent_id,
            root_id=record.root_id,
            queue=record.queue,
            attempt=record.attempt,
            created_at=created,
            updated_at=updated,
            finished_at=_when(record.finished_at),
            owner=record.owner,
            start_at=_when(record.start_at),
            partition_key=record.partition_key,
            dedup_key=record.dedup_key,
            detached=record.detached,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry of a run, as `Engine.history` returns it (in seq order)."""

    seq: int
    kind: str
    name: str
    status: str
    attempts: int
    started_at: datetime.datetime
    finished_at: datetime.datetime
    order: int
    output: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Undecodable:
    """A `HistoryEntry.output` that this process cannot decode: a value of a type it
    cannot import (`type` names it), or a corrupt payload; `error` says which and what
    to do."""

    error: str
    type: str | None = None

    def __repr__(self) -> str:
        return f"<undecodable {self.type or 'value'}: {self.error}>"


async def history(
    journal: base.Journal, codec: codec_mod.Codec, load: base.RunLoad
) -> list[HistoryEntry]:
    """The entries of a run as `Engine.history` shows them.

    An event entry shows the value it set while it is the last of its key: the journal
    keeps only the latest value of a key (None for the entries before).
    """
    latest = {entry.name: entry.seq for entry in load.entries if entry.kind == "event"}
    values = {key: await journal.get_event(load.run.id, key) for key in latest}
    return [
        _history_entry(
            codec,
            entry,
            values[entry.name] if latest.get(entry.name, -1) == entry.seq else entry.output,
        )
        for entry in load.entries
    ]


def _history_entry(
    codec: codec_mod.Codec, entry: base.EntryRecord, value: bytes | None
) -> HistoryEntry:
    output = None if value is None else _output(codec, entry, value)
    error: str | None = None
    if entry.error is not None:
        try:
            record = codec.decode_error_record(entry.error)
            error = f"{record.type.replace(':', '.')}: {record.message}"
        except errors.JournalError:
            error = "<corrupt error record>"
    started, finished = _when(entry.started_at), _when(entry.finished_at)
    assert started is not None and finished is not None
    return HistoryEntry(
        seq=entry.seq,
        kind=entry.kind,
        name=entry.name,
        status=entry.status,
        attempts=entry.attempts,
        started_at=started,
        finished_at=finished,
        order=entry.ord,
        output=output,
        error=error,
    )


def _output(codec: codec_mod.Codec, entry: base.EntryRecord, value: bytes) -> Any:
    what = f"the value of entry {entry.seq} ({entry.kind} {entry.name!r})"
    if entry.status == "cancelled":
        # why it was given up on ("durable: lost a race"): checked text, not a codec payload
        try:
            text = codec_mod.unframe(value, what=what, workflow_id=entry.run_id, seq=entry.seq)
        except errors.DurableError as exc:
            return Undecodable(str(exc))
        return text.decode("utf-8", "replace")
    try:
        return codec.decode(value, what=what, workflow_id=entry.run_id, seq=entry.seq)
    except errors.TypeNotFound as missing:
        kind = missing.module
        if missing.type_name is not None:
            kind = f"{missing.module}.{missing.type_name}"
        return Undecodable(str(missing), type=kind)
    except errors.DurableError as exc:
        return Undecodable(str(exc))


@dataclass(frozen=True)
class LineageNode:
    """One run in a lineage tree (`Engine.lineage`), with the children it started."""

    id: str
    name: str
    status: base.Status
    parent_id: str | None
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    children: tuple[LineageNode, ...] = ()

    def walk(self) -> list[tuple[int, LineageNode]]:
        """Every node of the tree with its depth, parents before children."""
        out = [(0, self)]
        for child in self.children:
            out.extend((depth + 1, node) for depth, node in child.walk())
        return out


async def lineage(journal: base.Journal, record: base.RunRecord) -> LineageNode:
    """The tree of runs under `record`'s root."""
    family = await journal.list_runs(root_id=record.root_id, limit=100_000)
    by_parent: dict[str | None, list[base.RunRecord]] = {}
    for member in family:
        by_parent.setdefault(member.parent_id, []).append(member)

    def build(member: base.RunRecord) -> LineageNode:
        kids = sorted(by_parent.get(member.id, []), key=lambda r: (r.parent_seq or 0, r.id))
        created = _when(member.created_at)
        assert created is not None
        return LineageNode(
            id=member.id,
            name=member.name,
            status=member.status,
            parent_id=member.parent_id,
            created_at=created,
            finished_at=_when(member.finished_at),
            children=tuple(build(kid) for kid in kids),
        )

    root = next((m for m in family if m.id == record.root_id), record)
    return build(root)


class Run:
    """A handle on one run: its id, and ways to wait for, inspect or cancel it."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.engine = engine
        self.id = run_id

    def __repr__(self) -> str:
        return f"<durable.Run {self.id!r}>"

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to finish and return its result.

        Raises `WorkflowFailed` (its ``__cause__`` is the workflow's exception),
        `Cancelled`, or `TimeoutError` after `timeout` seconds.
        """
        record = await self.engine.scheduler.wait_finished(self.id, timeout)
        codec = self.engine.codec
        if record.status is base.Status.SUCCEEDED:
            if record.output is None:
                return None
            return codec.decode(record.output, what="workflow result", workflow_id=self.id)
        if record.status is base.Status.CANCELLED:
            raise errors.Cancelled(workflow_id=self.id)
        raise _failure(codec, record)

    async def status(self) -> base.Status:
        """The run's current status."""
        return (await read_run(self.engine.journal, self.id)).status

    async def info(self) -> RunInfo:
        """The run's row: status, lineage, timestamps."""
        return RunInfo.from_record(await read_run(self.engine.journal, self.id))

    async def cancel(self) -> None:
        """Cancel the run (see `Engine.cancel`)."""
        await self.engine.cancel(self.id)


def _failure(codec: codec_mod.Codec, record: base.RunRecord) -> errors.WorkflowFailed:
    if record.error is None:
        return errors.WorkflowFailed(
            workflow_id=record.id, error_type="unknown", error_message="no error was recorded"
        )
    stored = codec.decode_error_record(record.error, workflow_id=record.id)
    cause = codec.decode_error(record.error, workflow_id=record.id)
    failed = errors.WorkflowFailed(
        workflow_id=record.id,
        error_type=stored.type.replace(":", "."),
        error_message=stored.message,
        traceback=stored.traceback,
    )
    failed.__cause__ = cause
    return failed
