"""The run page's sections beside the graph, timeline and table: what started the run,
its continue-as-new generations, its lineage, its messages and events, and the
requests sent to it.  Drawn the same for the web view and the audit file (`export`:
plain ids instead of links that need the server).

Every journaled text goes through `html.escape`, as in `durable.http.web.render`.
"""

from __future__ import annotations

import html
import urllib.parse
from typing import Any

from durable.http import payloads
from durable.http.web import gather, model, trigger
from durable.http.web.text import call_output, path, run_link, status_badge, value, when
from durable.runs import LineageNode

__all__ = ["generations", "lineage", "messages", "requests", "trigger_rows"]

e = html.escape

# the journal entries the messages section lists, by kind
MESSAGE_KINDS = {
    "recv": "received",
    "recv_any": "received",
    "send": "sent",
    "event": "event set",
    "request": "request taken",
    "reply": "replied",
    "reject": "rejected",
}


def _list_link(key: str, name: str, export: bool) -> str:
    if export:
        return f"<code>{e(name)}</code>"
    query = urllib.parse.urlencode({key: name})
    return f'<a class="trigger-link" href="./?{e(query)}">{e(name)}</a>'


def trigger_rows(view: model.RunView, export: bool) -> list[tuple[str, str]]:
    """The summary's rows saying what started the run."""
    found = trigger.of(view.run)
    if found.kind == "caller":
        return [("started by", "a caller (code, the CLI or the HTTP API)")]
    if found.kind == "parent":
        call = dict(found.details).get("call")
        at = f" at its call #{call}" if call is not None else ""
        return [("started by", f"parent run {run_link(found.name, export)}{at}")]
    filter_key = {"schedule": "schedule", "source": "source"}.get(found.kind)
    name = _list_link(filter_key, found.name, export) if filter_key else f"<b>{e(found.name)}</b>"
    rows = [("started by", f"{found.kind} {name}")]
    rows += [(f"{found.kind} {key}", value(said)) for key, said in found.details]
    return rows


def generations(page: gather.RunPage, export: bool) -> str:
    """The run's generations (continue-as-new), each linked to its own page, the one
    shown marked."""
    if not page.generations:
        return ""
    shown = page.generation or page.current
    items = []
    for past in page.generations:
        label = (
            f"generation {past.generation}: {past.entries:,} calls, "
            f"{when(past.started_at)} &ndash; {when(past.ended_at)}"
        )
        items.append((past.generation, label))
    items.append((page.current, f"generation {page.current} (current)"))
    out = []
    for number, label in items:
        here = number == shown
        if export or here:
            out.append(f"<li{' class=here' if here else ''}>{label}</li>")
        else:
            query = "" if number == page.current else f"?generation={number}"
            href = f"runs/{path(page.view.run.id)}{query}"
            out.append(f'<li><a class="generation" href="{href}">{label}</a></li>')
    note = (
        f'<p class="hint">Generation {shown} of {page.current}: each `continue_as_new` '
        "archived the journal before it and began a new one under the same id.</p>"
    )
    return f'{note}<ol class="generations">{"".join(out)}</ol>'


def lineage(node: LineageNode, mark: str, export: bool) -> str:
    here = ' class="here"' if node.id == mark else ""
    kids = "".join(f"<li>{lineage(child, mark, export)}</li>" for child in node.children)
    inner = f"<ul>{kids}</ul>" if kids else ""
    return (
        f"<span{here}>{run_link(node.id, export)} {e(node.name)} "
        f"{status_badge(str(node.status))}</span>{inner}"
    )


def _shown(call: model.Call, events: dict[str, bytes | None]) -> str:
    if call.kind == "event":
        return value(payloads.value_json(events.get(call.name)))
    return call_output(call)


def messages(view: model.RunView, events: dict[str, bytes | None]) -> str:
    rows = [
        f"<tr><td>#{call.seq}</td><td>{MESSAGE_KINDS[call.kind]}</td><td>{e(call.name)}</td>"
        f"<td>{when(call.finished_at)}</td><td>{_shown(call, events)}</td></tr>"
        for call in view.calls
        if call.kind in MESSAGE_KINDS and call.entry is not None
    ]
    if not rows:
        return '<p class="empty">no message, event or request</p>'
    head = "<tr><th>seq</th><th>what</th><th>topic / key</th><th>at</th><th>value</th></tr>"
    return f'<table class="calls">{head}{"".join(rows)}</table>'


def _answer(record: Any) -> str:
    if record.answer is None:
        return "-"
    said = value(payloads.value_json(record.answer))
    return f'<span class="err">rejected: </span>{said}' if record.state == "rejected" else said


def requests(page: gather.RunPage, export: bool) -> str:
    """The requests sent to the run, queued ones too, with the call that took each."""
    if not page.requests:
        return '<p class="empty">no request was sent to this run</p>'
    rows = []
    for record in page.requests:
        taken = "-"
        if record.taken_seq is not None:
            call = page.view.call(record.taken_seq)
            same = call is not None and call.entry is not None and call.kind == "request"
            taken = (
                f'<a href="#call-{record.taken_seq}" data-jump="{record.taken_seq}">'
                f"#{record.taken_seq}</a>"
                if same and not export
                else f"#{record.taken_seq}"
            )
        rows.append(
            f'<tr class="rq-{e(record.state)}"><td>{e(record.name)}</td>'
            f"<td><code>{e(record.key)}</code></td><td>{status_badge(record.state)}</td>"
            f"<td>{when(record.sent_at)}</td><td>{taken}</td>"
            f"<td>{value(payloads.value_json(record.value))}</td><td>{_answer(record)}</td>"
            f"<td>{when(record.answered_at)}</td></tr>"
        )
    titles = ("name", "request id", "state", "sent", "taken by", "value", "answer", "answered")
    head = "<tr>" + "".join(f"<th>{t}</th>" for t in titles) + "</tr>"
    return f'<table class="calls requests">{head}{"".join(rows)}</table>'
