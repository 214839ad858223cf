"""The small pieces every part of the web view writes: times, durations, status
badges, clipped values, errors, run links.  Every journaled text goes through
`html.escape`: names, errors and values come from user code and must never become
markup."""

from __future__ import annotations

import datetime
import html
import json
import urllib.parse
from typing import Any

from durable.http import payloads
from durable.http.web import model

__all__ = ["call_output", "error", "path", "run_link", "status_badge", "took", "value", "when"]

e = html.escape

CLIP = 120  # characters of a value shown before it is folded behind "more"
FULL = 65536  # characters of a value shown at most, even unfolded


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def took(start: float, end: float | None) -> str:
    if end is None:
        return "running"
    seconds = end - start
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def status_badge(status: str) -> str:
    return f'<span class="badge s-{e(status.lower())}">{e(status.lower())}</span>'


def value(data: Any) -> str:
    """A JSON value, clipped to `CLIP` characters with the rest behind a fold."""
    text = data if isinstance(data, str) else json.dumps(data, default=str, ensure_ascii=False)
    if len(text) <= CLIP:
        return f'<code class="v">{e(text)}</code>'
    shown = text[:FULL] + (f"... ({len(text) - FULL} more characters)" if len(text) > FULL else "")
    return (
        f'<details class="v"><summary><code>{e(text[:CLIP])}&hellip;</code></summary>'
        f"<pre>{e(shown)}</pre></details>"
    )


def error(data: bytes | None) -> str:
    found = payloads.error_json(data)
    if found is None:
        return ""
    return f'<span class="err">{e(found["type"])}: {e(found["message"])}</span>'


def call_output(call: model.Call) -> str:
    """A call's output, or its error."""
    if call.entry is None:
        return ""
    if call.status == "error":
        return error(call.entry.error)
    return value(payloads.entry_json(call.entry)["output"])


def path(run_id: str) -> str:
    """A run id as one segment of a URL (an id may hold ``?``, ``#`` or ``%``)."""
    return e(urllib.parse.quote(run_id, safe=""))


def run_link(run_id: str, export: bool) -> str:
    if export:
        return f"<code>{e(run_id)}</code>"
    return f'<a class="run-link" href="runs/{path(run_id)}" data-run="{e(run_id)}">{e(run_id)}</a>'
