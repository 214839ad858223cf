"""A Parquet archive of finished runs: `export`, `prune`, and `load_archived` for replay.

The archive is a folder with four hive-partitioned datasets, ``runs/``, ``entries/``,
``attempts/`` and ``timers/``, each laid out as
``<table>/date=YYYY-MM-DD/workflow=<name>/part-<export_id>.parquet`` (the date is the
UTC day the run finished; the name is URI-escaped, as pyarrow's hive partitioning reads
it).  Every payload appears twice: ``<col>`` holds the journal's exact bytes (what a
replay needs) and ``<col>_json`` the decoded value as JSON text when it is plain data
(builtins, and dataclasses, Structs, datetimes, UUIDs and Decimals as msgspec writes them
in JSON), null otherwise (bytes inside, or pickled).  The README's "Export" section
documents every column.

Export is incremental: ``_durable_export.json`` in the folder keeps a watermark (every
run finished before it has been written) and the ids of the runs finished in the last
`OVERLAP` seconds before it, which the next export looks at again, so that a run whose
finish committed late is still picked up, and one already written is not written twice.
A run that is resumed after its export and finishes again is exported again (its rows
carry another ``export_id``; `load_archived` takes the latest).

`prune` deletes from the journal only runs whose exact finish (id and ``finished_at``)
is in the archive, so a run that was never exported, or changed since, is never lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import importlib
import json
import math
import os
import sys
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from durable import codec, errors
from durable.blobs import refs as blob_refs
from durable.blobs import sweep as blob_sweep
from durable.journal import base, records

__all__ = ["OVERLAP", "ExportResult", "export", "load_archived", "prune", "require_pyarrow"]

OVERLAP = 60.0
STATE_FILE = "_durable_export.json"
TABLES = ("runs", "entries", "attempts", "timers")
_PAGE = 500
_plain = msgspec.msgpack.Decoder()


def require_pyarrow() -> Any:
    """Import pyarrow (with parquet and dataset) or raise a `DurableError` saying how to."""
    try:
        pyarrow = importlib.import_module("pyarrow")
        importlib.import_module("pyarrow.dataset")
        importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise errors.DurableError(
            f"Parquet export needs pyarrow, which is not installed ({exc}); "
            "install it with: pip install 'durable[parquet]'"
        ) from exc
    return pyarrow


# -- payloads -----------------------------------------------------------------------------


def _has_bytes(value: Any, depth: int = 0) -> bool:
    if isinstance(value, bytes | bytearray | memoryview) or depth > 64:
        return True
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(_has_bytes(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(
            not isinstance(key, str) or _has_bytes(item, depth + 1) for key, item in value.items()
        )
    return False


def plain_value(data: bytes) -> Any:
    """A payload's value as plain data, its types not rebuilt (nothing imported, nothing
    unpickled, nothing fetched: a value kept in the blob store is the marker
    ``{"$durable": "blob", "uri", "sha256", "size", "format", "kind"}``).
    `durable.JournalError` when it fails its checksum; `ValueError` when it
    is not plain data (a pickle, an unknown tag)."""
    body = codec.unframe(bytes(data))
    if body[:1] == b"M":
        return _plain.decode(body[1:])
    if body[:1] == b"T":
        size = int.from_bytes(body[1:5], "big")
        return _plain.decode(body[5 + size :])  # the body, without rebuilding types
    if body[:1] == b"R":  # kept in the blob store: its reference, never the value
        ref = blob_refs.ref_of(body)
        return {"$durable": "blob", **msgspec.structs.asdict(ref)}
    raise ValueError(f"payload tag {body[:1]!r}")


def payload_json(data: bytes | None) -> str | None:
    """The payload as JSON text when it is plain data (see the module docstring), else None."""
    if data is None or len(data) < 1:
        return None
    try:
        value = plain_value(data)
        if _has_bytes(value):
            return None
        return msgspec.json.encode(value).decode()
    except (errors.JournalError, msgspec.MsgspecError, TypeError, ValueError, OverflowError):
        return None


def _error_fields(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    data = bytes(data)
    if not codec.intact(data):
        return "<corrupt error record: it fails its checksum>", None
    try:
        record = msgspec.msgpack.decode(codec.unframe(data))
        return str(record["type"]).replace(":", "."), str(record["message"])
    except (msgspec.MsgspecError, KeyError, TypeError):
        return "<corrupt error record>", None


# -- schemas and rows ---------------------------------------------------------------------


def _schemas(pa: Any) -> dict[str, Any]:
    ts = pa.timestamp("us", tz="UTC")
    text, blob, i64 = pa.string(), pa.binary(), pa.int64()

    def payload(name: str) -> list[tuple[str, Any]]:
        return [(f"{name}_json", text), (name, blob)]

    def failure(name: str = "error") -> list[tuple[str, Any]]:
        return [(f"{name}_type", text), (f"{name}_message", text), (name, blob)]

    common = [("export_id", text)]
    run_ids = [("id", text), ("name", text), ("status", text), ("parent_id", text)]
    run_more = [("parent_seq", i64), ("root_id", text), ("queue", text), ("attempt", i64)]
    times = [("created_at", ts), ("updated_at", ts), ("started_at", ts), ("finished_at", ts)]
    entry_ids = [("run_id", text), ("seq", i64), ("ord", i64), ("kind", text), ("name", text)]
    entry_more = [("status", text), ("fingerprint", text), ("attempts", i64)]
    return {
        "runs": pa.schema(
            [
                *run_ids,
                *run_more,
                *times,
                *payload("input"),
                *payload("output"),
                *failure(),
                *payload("metadata"),
                ("exported_at", ts),
                *common,
            ]
        ),
        "entries": pa.schema(
            [
                *entry_ids,
                *entry_more,
                ("child_id", text),
                ("started_at", ts),
                ("finished_at", ts),
                *payload("output"),
                *failure(),
                *common,
                # the journal generation (`continue_as_new`) the entry belongs to, from 1
                ("generation", i64),
            ]
        ),
        "attempts": pa.schema(
            [
                ("run_id", text),
                ("seq", i64),
                ("attempt", i64),
                *failure(),
                ("failed_at", ts),
                ("retry_at", ts),
                *common,
            ]
        ),
        "timers": pa.schema([("run_id", text), ("seq", i64), ("wake_at", ts), *common]),
    }


def _micros(ts: float | None) -> int | None:
    return None if ts is None else round(ts * 1_000_000)


# journal columns that hold times (seconds in the journal, microseconds in the archive)
_TIMES = frozenset(
    {"created_at", "updated_at", "started_at", "finished_at", "failed_at", "retry_at", "wake_at"}
)
_PAYLOADS = ("input", "output", "metadata")


def _archived(record: msgspec.Struct, export_id: str) -> dict[str, Any]:
    """A journal record as a row of the archive (see `_schemas`): its columns with times in
    microseconds, each payload also as JSON, its error also as type and message.  Columns
    the archive does not keep (a run's owner, lease, ...) are left out by its schema."""
    row = msgspec.structs.asdict(record)
    for name in _TIMES.intersection(row):
        row[name] = _micros(row[name])
    for name in _PAYLOADS:
        if name in row:
            row[f"{name}_json"] = payload_json(row[name])
    if "error" in row:
        row["error_type"], row["error_message"] = _error_fields(row["error"])
    row["export_id"] = export_id
    return row


def _journal(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """The journal columns an archived row keeps, with times back in seconds."""
    return {
        name: _seconds(row[name]) if name in _TIMES else row[name]
        for name in columns
        if name in row
    }


def _partition(run: base.RunRecord) -> tuple[str, str]:
    assert run.finished_at is not None
    day = datetime.datetime.fromtimestamp(run.finished_at, datetime.UTC).date().isoformat()
    return day, run.name


# -- the watermark ------------------------------------------------------------------------


@dataclasses.dataclass
class _State:
    """What ``_durable_export.json`` holds."""

    watermark: float = 0.0
    recent: dict[str, float] = dataclasses.field(default_factory=dict)

    @classmethod
    def read(cls, folder: str) -> _State:
        path = os.path.join(folder, STATE_FILE)
        if not os.path.exists(path):
            return cls()
        try:
            with open(path) as handle:
                raw = json.load(handle)
            return cls(
                float(raw["watermark"]), {str(k): float(v) for k, v in raw["recent"].items()}
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise errors.DurableError(
                f"the export state {path!r} is unreadable ({exc}); restore it, or export to an "
                "empty folder"
            ) from exc

    def write(self, folder: str) -> None:
        keep = self.watermark - OVERLAP
        self.recent = {k: v for k, v in self.recent.items() if v >= keep}
        path = os.path.join(folder, STATE_FILE)
        with open(path + ".tmp", "w") as handle:
            json.dump({"format": 1, "watermark": self.watermark, "recent": self.recent}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(path + ".tmp", path)


# -- export -------------------------------------------------------------------------------


@dataclasses.dataclass
class ExportResult:
    """What one `export` wrote."""

    runs: int = 0
    entries: int = 0
    files: list[str] = dataclasses.field(default_factory=list)
    blobs: int = 0  # blobs copied into ``<folder>/blobs/`` (``with_blobs=True``)


def _progress(enabled: bool, unit: str, total: int | None = None) -> Any:
    """A tqdm bar on a terminal; a stand-in that does nothing otherwise."""
    if enabled and sys.stderr.isatty():
        try:
            tqdm = importlib.import_module("tqdm")
        except ImportError:
            pass
        else:
            return tqdm.tqdm(total=total, unit=unit, file=sys.stderr, leave=False)
    return _NoBar()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


async def _finished_pages(
    journal: base.Journal, after: float, before: float | None
) -> AsyncIterator[list[base.RunRecord]]:
    after_id = ""
    while True:
        page = await journal.list_finished(
            after=after, after_id=after_id, before=before, limit=_PAGE
        )
        if not page:
            return
        yield page
        last = page[-1]
        assert last.finished_at is not None
        after, after_id = last.finished_at, last.id


async def export(
    journal: base.Journal,
    folder: str,
    *,
    since: float | None = None,
    until: float | None = None,
    progress: bool = False,
    with_blobs: bool = False,
    store_options: dict[str, Any] | None = None,
) -> ExportResult:
    """Write the finished runs not yet in `folder` (see the module docstring).

    `since`/`until` bound the runs' ``finished_at`` (seconds since the epoch); runs
    already exported are skipped whatever the bounds.  Values kept in the blob store
    are exported as their references; `with_blobs` also copies those blobs into
    ``<folder>/blobs/`` under the same keys (``sha256/ab/<sha256>.<ext>``).
    """
    pa = require_pyarrow()
    os.makedirs(folder, exist_ok=True)
    state = _State.read(folder)
    lower = max(state.watermark - OVERLAP, 0.0)
    contiguous = since is None or since <= state.watermark
    if since is not None:
        lower = max(lower, since)
    result, schemas, bar = ExportResult(), _schemas(pa), _progress(progress, "runs")
    try:
        async for page in _finished_pages(journal, lower, until):
            fresh = [r for r in page if state.recent.get(r.id) != r.finished_at]
            uris = await _write_page(journal, folder, fresh, schemas, result)
            if with_blobs and uris:
                result.blobs += await asyncio.to_thread(_copy_blobs, uris, folder, store_options)
            for run in fresh:
                assert run.finished_at is not None
                state.recent[run.id] = run.finished_at
            if contiguous:
                last = page[-1].finished_at
                assert last is not None
                state.watermark = max(state.watermark, last)
            if fresh:
                state.write(folder)
            bar.update(len(fresh))
    finally:
        bar.close()
    return result


async def _write_page(
    journal: base.Journal,
    folder: str,
    runs: Sequence[base.RunRecord],
    schemas: dict[str, Any],
    result: ExportResult,
) -> set[str]:
    """Write one page of runs; return the blob URLs their payloads reference."""
    uris: set[str] = set()
    export_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    now = time.time()
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        load = await journal.load(run.id)
        if load is None or load.run.finished_at != run.finished_at:
            continue  # deleted or reopened meanwhile: the next export sees its new state
        rows = groups.setdefault(_partition(run), {table: [] for table in TABLES})
        rows["runs"].append({**_archived(load.run, export_id), "exported_at": _micros(now)})
        rows["entries"].extend(await _entry_rows(journal, load, export_id))
        rows["attempts"].extend(_archived(a, export_id) for a in load.attempts)
        rows["timers"].extend(_archived(t, export_id) for t in load.timers)
        result.runs += 1
        result.entries += len(load.entries)
        for data in (load.run.input, load.run.output, load.run.metadata):
            uris |= blob_sweep.uris_in(data) if data else set()
        for entry in load.entries:
            uris |= blob_sweep.uris_in(entry.output) if entry.output else set()
    pa, pq = importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    for (day, name), tables in groups.items():
        segment = f"date={day}/workflow={urllib.parse.quote(name, safe='')}"
        for table, table_rows in tables.items():
            if not table_rows:
                continue
            path = os.path.join(folder, table, segment, f"part-{export_id}.parquet")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(pa.Table.from_pylist(table_rows, schema=schemas[table]), path)
            result.files.append(path)
    return uris


def _copy_blobs(uris: set[str], folder: str, options: dict[str, Any] | None) -> int:
    from durable.blobs.store import open_store

    target = os.path.join(folder, "blobs")
    for uri in sorted(uris):
        root, _, tail = uri.rpartition("/sha256/")
        open_store(root, options).copy_to(f"sha256/{tail}", target)
    return len(uris)


async def _entry_rows(
    journal: base.Journal, load: base.RunLoad, export_id: str
) -> list[dict[str, Any]]:
    """The rows of a run's entries, of every generation, each with its generation."""
    loads = [load]
    if load.generation > 1:
        for past in await journal.generations(load.run.id):
            older = await journal.load_generation(load.run.id, past.generation)
            if older is not None:
                loads.append(older)
    return [
        {**_archived(entry, export_id), "generation": each.generation}
        for each in loads
        for entry in each.entries
    ]


# -- reading the archive ------------------------------------------------------------------


def _dataset(folder: str, table: str) -> Any:
    require_pyarrow()
    ds = importlib.import_module("pyarrow.dataset")
    path = os.path.join(folder, table)
    if not os.path.isdir(path):
        return None
    return ds.dataset(path, format="parquet", partitioning="hive")


def archived_finishes(folder: str) -> set[tuple[str, int]]:
    """(id, finished_at in microseconds) of every run in the archive."""
    dataset = _dataset(folder, "runs")
    if dataset is None:
        return set()
    table = dataset.to_table(columns=["id", "finished_at"])
    ids = table.column("id").to_pylist()
    finishes = table.column("finished_at").cast("int64").to_pylist()
    return set(zip(ids, finishes, strict=True))


def _rows(folder: str, table: str, column: str, value: str) -> list[dict[str, Any]]:
    ds = importlib.import_module("pyarrow.dataset")
    dataset = _dataset(folder, table)
    if dataset is None:
        return []
    rows: list[dict[str, Any]] = dataset.to_table(filter=ds.field(column) == value).to_pylist()
    return rows


def _seconds(value: datetime.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def load_archived(folder: str, run_id: str) -> base.RunLoad:
    """Rebuild a run and its journal from the archive (its latest export)."""
    runs = _rows(folder, "runs", "id", run_id)
    if not runs:
        raise errors.WorkflowNotFound(
            f"no run {run_id!r} in the archive {folder!r}; `durable export` writes finished "
            "runs there, check the id and the folder",
            workflow_id=run_id,
        )
    row = max(runs, key=lambda r: (r["finished_at"], r["export_id"]))
    export_id = row["export_id"]
    run = records.run_from_values(_journal(row, records.RUN_COLUMNS))

    def mine(table: str) -> list[dict[str, Any]]:
        found = _rows(folder, table, "run_id", run_id)
        found = [r for r in found if r["export_id"] == export_id]
        if table == "entries":  # the current generation's (the last), as the journal holds
            last = max((r.get("generation") or 1 for r in found), default=1)
            found = [r for r in found if (r.get("generation") or 1) == last]
        return sorted(found, key=lambda r: r["seq"])

    return base.RunLoad(
        run=run,
        entries=[base.EntryRecord(**_journal(r, records.ENTRY_COLUMNS)) for r in mine("entries")],
        attempts=[
            base.AttemptRecord(**_journal(r, records.ATTEMPT_COLUMNS)) for r in mine("attempts")
        ],
        timers=[base.TimerRecord(**_journal(r, records.TIMER_COLUMNS)) for r in mine("timers")],
    )


# -- prune --------------------------------------------------------------------------------


async def prune(
    journal: base.Journal,
    folder: str,
    *,
    older_than: float,
    progress: bool = False,
    blobs: list[int] | None = None,
    store_options: dict[str, Any] | None = None,
) -> int:
    """Delete from the journal the runs finished more than `older_than` seconds ago whose
    exact finish is in the archive at `folder`; return how many were deleted.

    The blobs those runs referenced are deleted too, except those another row still
    references (`durable.blobs.sweep`); their count is appended to `blobs` if given.
    """
    archived = archived_finishes(folder)
    deleted, bar = 0, _progress(progress, "runs")
    doomed: set[str] = set()
    referencing = await blob_sweep.uris_by_run(journal)  # one scan, before any delete
    try:
        async for page in _finished_pages(journal, 0.0, time.time() - older_than):
            batch = [
                (run.id, run.finished_at)
                for run in page
                if run.finished_at is not None and (run.id, _micros(run.finished_at)) in archived
            ]
            if batch:
                for run_id, _ in batch:
                    doomed |= referencing.get(run_id, set())
                deleted += await journal.delete_runs(batch)
            bar.update(len(batch))
    finally:
        bar.close()
    # after the runs are gone: a blob that another run references is kept
    gone = await blob_sweep.delete_unreferenced(journal, doomed, store_options)
    if blobs is not None:
        blobs.append(gone)
    return deleted
