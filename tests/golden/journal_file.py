"""The checked-in form of a journal: JSON lines, one row a line, bytes as base64.

A file holds one header line, then each run (the root first, then its children),
each followed by its entries, attempts and timers::

    {"type":"header","workflow":"golden.race","durable":"0.1.0","schema":1,...}
    {"type":"run","row":{"id":"race","name":"golden.race","status":"SUCCEEDED",...}}
    {"type":"entry","row":{"run_id":"race","seq":0,"ord":1,"kind":"step",...}}

Rows are the journal's own row types (`durable.journal.base`), so a file written by
an older version decodes by msgspec's evolution rules (a field added since takes its
default, a field removed since is ignored).  `restore` writes the rows back through
the `Journal` interface, not SQL, so a file outlives schema changes.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path

import msgspec

from durable.journal import base, open_journal

__all__ = ["Header", "read", "restore", "write"]

# the holder of restored runs while they are written (released at the end)
OWNER = "golden-restore"


class Header(msgspec.Struct, tag="header", kw_only=True):
    """What wrote the file."""

    workflow: str
    durable: str
    schema: int
    python: str


class _Run(msgspec.Struct, tag="run"):
    row: base.RunRecord


class _Entry(msgspec.Struct, tag="entry"):
    row: base.EntryRecord


class _Attempt(msgspec.Struct, tag="attempt"):
    row: base.AttemptRecord


class _Timer(msgspec.Struct, tag="timer"):
    row: base.TimerRecord


_Line = Header | _Run | _Entry | _Attempt | _Timer
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Line)


def write(path: Path, header: Header, loads: list[base.RunLoad]) -> None:
    """Write `loads` (the root run first) to `path`."""
    lines: list[msgspec.Struct] = [header]
    for load in loads:
        lines.append(_Run(load.run))
        lines.extend(_Entry(entry) for entry in sorted(load.entries, key=lambda e: e.seq))
        lines.extend(_Attempt(attempt) for attempt in load.attempts)
        lines.extend(_Timer(timer) for timer in load.timers)
    path.write_bytes(b"".join(_encoder.encode(line) + b"\n" for line in lines))


def read(path: Path) -> tuple[Header, list[base.RunLoad]]:
    """The header and the runs of a file written by `write` (the root run first)."""
    lines = [_decoder.decode(raw) for raw in path.read_bytes().splitlines() if raw.strip()]
    header, *rows = lines
    assert isinstance(header, Header), f"{path} does not start with a header line"
    loads: list[base.RunLoad] = []
    for line in rows:
        if isinstance(line, _Run):
            loads.append(base.RunLoad(run=line.row, entries=[], attempts=[], timers=[]))
            continue
        assert loads and line.row.run_id == loads[-1].run.id, f"{path}: a row before its run"
        if isinstance(line, _Entry):
            loads[-1].entries.append(line.row)
        elif isinstance(line, _Attempt):
            loads[-1].attempts.append(line.row)
        elif isinstance(line, _Timer):
            loads[-1].timers.append(line.row)
        else:
            raise AssertionError(f"{path}: a second header")
    return header, loads


async def restore(url: str, loads: list[base.RunLoad], *, unfinished: Collection[str] = ()) -> None:
    """Write `loads` into a new journal at `url` as they were journaled.

    Runs named in `unfinished` are left RUNNING with no holder, as a crash just before
    the run's end would leave them, for an engine to resume.
    """
    journal = open_journal(url)
    await journal.open()
    try:
        for load in loads:
            await _restore_run(journal, load, finished=load.run.id not in unfinished)
        await journal.release(OWNER)
    finally:
        await journal.close()


async def _restore_run(journal: base.Journal, load: base.RunLoad, *, finished: bool) -> None:
    run = load.run
    new = base.NewRun(
        id=run.id,
        name=run.name,
        input=run.input,
        parent_id=run.parent_id,
        parent_seq=run.parent_seq,
        root_id=run.root_id,
        queue=run.queue,
        metadata=run.metadata,
        owner=OWNER,
        lease_expires_at=time.time() + 3600,
        created_at=run.created_at,
        status=base.Status.RUNNING,
        priority=run.priority,
    )
    _, created = await journal.create_run(new)
    assert created, f"run {run.id!r} is in the file twice, or the journal is not new"
    if load.entries:
        await journal.append_entries(OWNER, load.entries)
    for attempt in load.attempts:
        await journal.record_attempt(OWNER, attempt)
    for timer in load.timers:
        await journal.set_timer(OWNER, timer)
    if finished:
        update = base.RunUpdate(
            run_id=run.id,
            status=run.status,
            at=run.finished_at or run.updated_at,
            output=run.output,
            error=run.error,
        )
        await journal.update_run(OWNER, update)
