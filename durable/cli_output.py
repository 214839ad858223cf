"""How the `durable` command line prints runs, journal entries and values: JSON objects
(one per line) and the human tables of ``list``, ``show`` and ``history``."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any

from durable import codec, export
from durable.engine import LineageNode, RunInfo
from durable.journal import base

__all__ = [
    "clip",
    "duration",
    "entry_json",
    "error_text",
    "iso",
    "messages",
    "payload",
    "payload_text",
    "print_json",
    "result_json",
    "run_json",
    "short_time",
    "steps",
    "summary",
    "table",
    "tree",
    "when",
]

WIDTH = 80


def iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def short_time(value: datetime.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 2, 0)] + ".."


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], flexible: int) -> list[str]:
    """Columns aligned to their widest cell; column `flexible` is clipped to fit WIDTH."""
    rows = [list(row) for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    spare = WIDTH - 1 - (sum(widths) + 2 * (len(widths) - 1))
    if spare < 0:
        widths[flexible] = max(widths[flexible] + spare, 8)
    lines = []
    for row in [list(headers), *rows]:
        cells = [clip(cell, widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
    return lines


def run_json(info: RunInfo) -> dict[str, Any]:
    """A run as one ``--json`` object (documented in the README)."""
    duration = None
    if info.finished_at is not None:
        duration = (info.finished_at - info.created_at).total_seconds()
    return {
        "id": info.id,
        "name": info.name,
        "status": str(info.status),
        "parent_id": info.parent_id,
        "root_id": info.root_id,
        "queue": info.queue,
        "attempt": info.attempt,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.updated_at),
        "finished_at": iso(info.finished_at),
        "duration": duration,
        "start_at": iso(info.start_at),
        "partition_key": info.partition_key,
        "dedup_key": info.dedup_key,
        "detached": info.detached,
    }


def payload(data: bytes | None) -> Any:
    text = export.payload_json(data)
    return None if text is None else json.loads(text)


def payload_text(data: bytes | None) -> str:
    if data is None:
        return "-"
    if not codec.intact(data):
        return f"<corrupt: {len(data)} bytes fail their checksum>"
    text = export.payload_json(data)
    return f"<{len(data)} bytes, not plain data>" if text is None else text


def error_text(data: bytes | None) -> str | None:
    kind, message = export._error_fields(data)
    if kind is None:
        return None
    return kind if message is None else f"{kind}: {message}"


def when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


def entry_json(entry: base.EntryRecord) -> dict[str, Any]:
    """A journal entry as one ``--json`` object (documented in the README)."""
    return {
        "seq": entry.seq,
        "ord": entry.ord,
        "kind": entry.kind,
        "name": entry.name,
        "status": entry.status,
        "attempts": entry.attempts,
        "started_at": when(entry.started_at),
        "finished_at": when(entry.finished_at),
        "duration": entry.finished_at - entry.started_at,
        "output": payload(entry.output),
        "output_plain": entry.output is None or export.payload_json(entry.output) is not None,
        "error": error_text(entry.error),
        "child_id": entry.child_id,
        "fingerprint": entry.fingerprint,
    }


def print_json(value: Any) -> None:
    print(json.dumps(value, default=str, ensure_ascii=False))


def result_json(value: Any) -> str:
    try:
        import msgspec

        return msgspec.json.encode(value).decode()
    except (TypeError, ValueError):
        return json.dumps(repr(value))


def summary(run: base.RunRecord) -> list[str]:
    info = RunInfo.from_record(run)
    took = run_json(info)["duration"]
    pairs = [
        ("run", run.id),
        ("workflow", run.name),
        ("status", f"{run.status}  (attempt {run.attempt})"),
        ("parent", run.parent_id or "-"),
        ("root", run.root_id),
        ("queue", run.queue or "-"),
        ("created", short_time(info.created_at)),
        *_start_options(info),
        ("finished", f"{short_time(info.finished_at)}  (took {duration(took)})"),
        ("input", payload_text(run.input)),
        ("output", payload_text(run.output)),
    ]
    error = error_text(run.error)
    if error is not None:
        pairs.append(("error", error))
    return [clip(f"{key:<9} {value}", WIDTH - 1) for key, value in pairs]


def _start_options(info: RunInfo) -> list[tuple[str, str]]:
    """The summary's lines for the options the run was started with, if any."""
    pairs = []
    if info.start_at is not None:
        due = "" if info.status is not base.Status.PENDING else "  (not started: PENDING)"
        pairs.append(("due", f"{short_time(info.start_at)}{due}"))
    if info.partition_key is not None:
        pairs.append(("partition", info.partition_key))
    if info.dedup_key is not None:
        pairs.append(("dedup key", info.dedup_key))
    if info.detached:
        pairs.append(("detached", "yes: not cancelled with its parent"))
    return pairs


def steps(load: base.RunLoad) -> list[str]:
    failures: dict[int, int] = {}
    for attempt in load.attempts:
        failures[attempt.seq] = failures.get(attempt.seq, 0) + 1
    rows = []
    for entry in load.entries:
        detail = error_text(entry.error) or payload_text(entry.output)
        tries = max(entry.attempts, failures.get(entry.seq, 0) + 1)
        rows.append(
            (
                str(entry.seq),
                entry.kind,
                entry.name,
                entry.status,
                str(tries),
                duration(entry.finished_at - entry.started_at),
                detail,
            )
        )
    headers = ["SEQ", "KIND", "NAME", "STATUS", "TRIES", "TOOK", "RESULT / ERROR"]
    return table(headers, rows, 6) if rows else ["(no journal entries)"]


def tree(node: LineageNode, mark: str) -> list[str]:
    lines = []
    for depth, member in node.walk():
        here = "  <- this run" if member.id == mark else ""
        line = f"{'  ' * depth}{'- ' if depth else ''}{member.id}  {member.name}  {member.status}"
        lines.append(clip(line + here, WIDTH - 1))
    return lines


def messages(load: base.RunLoad, events: dict[str, bytes | None]) -> list[str]:
    wanted = {
        "recv": "received",
        "recv_any": "received",
        "send": "sent",
        "event": "event set",
        "request": "request taken",
        "reply": "replied",
        "reject": "rejected",
    }
    rows = [
        (
            str(e.seq),
            wanted[e.kind],
            e.name,
            payload_text(events.get(e.name) if e.kind == "event" else e.output),
        )
        for e in load.entries
        if e.kind in wanted
    ]
    return table(["SEQ", "WHAT", "TOPIC / KEY", "VALUE"], rows, 3) if rows else []


def generations(past: Sequence[Any]) -> list[str]:
    """The past generations of a run that continued as new, as a table."""
    rows = [
        (
            str(g.generation),
            short_time(datetime.datetime.fromtimestamp(g.started_at, datetime.UTC)),
            duration(g.ended_at - g.started_at),
            str(g.entries),
        )
        for g in past
    ]
    rows.append((str(len(past) + 1), "(current)", "", ""))
    return table(["GENERATION", "STARTED (UTC)", "TOOK", "ENTRIES"], rows, 3)
