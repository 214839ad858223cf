"""The run page as HTML: summary, failure banner, graph, timeline and table, with the
sections of `durable.http.web.sections` beside them.  The same functions draw the page
the server sends to the web view and the self-contained audit file (`export=True`:
every folded call written out, no action buttons, no links that need the server).

Every journaled text goes through `html.escape`: names, errors and values come from
user code and must never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from durable.http import payloads
from durable.http.web import gather, model, sections
from durable.http.web.text import (
    call_output,
    error,
    path,
    run_link,
    status_badge,
    took,
    value,
    when,
)
from durable.journal import base

__all__ = ["bucket_rows", "graph", "run_page"]

PAGE = 500  # calls of a folded fan-out loaded at a time in the web view

e = html.escape


# -- summary and banner ----------------------------------------------------------------


def _summary(page: gather.RunPage, export: bool) -> str:
    view = page.view
    run = view.run
    status = status_badge(str(run.status)) + f" attempt {run.attempt}"
    created, finished = run.created_at, run.finished_at
    if page.generation is not None:  # a past generation: it ended by continuing as new
        past = page.generations[page.generation - 1]
        status = status_badge("continued") + f" generation {page.generation} of {page.current}"
        created, finished = past.started_at, past.ended_at
    rows = [
        ("workflow", e(run.name)),
        ("status", status),
        ("created", when(created)),
        ("finished", f"{when(finished)} (took {took(created, finished)})"),
        ("queue", e(run.queue or "-")),
        *sections.trigger_rows(view, export),
        ("calls", f"{len(view.calls):,}"),
        ("input", value(payloads.input_json(run.input))),
    ]
    if page.generations and page.generation is None:
        rows.append(("generation", f"{page.current} (continued as new {page.current - 1} times)"))
    metadata = payloads.value_json(run.metadata)
    if metadata:  # what started it, and the caller's tags
        rows.append(("metadata", value(metadata)))
    if page.generation is None and run.output is not None:
        rows.append(("output", value(payloads.value_json(run.output))))
    if page.generation is None and run.error is not None:
        rows.append(("error", error(run.error)))
    cells = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="summary">{cells}</table>'


def _banner(view: model.RunView) -> str:
    if view.run.status is not base.Status.FAILED:
        return ""
    failing = view.failing
    if failing is None:
        return f'<div class="banner" role="alert">The run failed: {error(view.run.error)}</div>'
    assert failing.entry is not None
    return (
        f'<a class="banner" role="alert" href="#call-{failing.seq}" data-jump="{failing.seq}">'
        f"Failed at call #{failing.seq} <b>{e(failing.name)}</b> after "
        f"{len(failing.attempts)} attempt(s): {error(failing.entry.error)} "
        "&mdash; go to the call</a>"
    )


# -- graph -------------------------------------------------------------------------------


def _node(view: model.RunView, call: model.Call, export: bool) -> str:
    marks = ""
    if call.won_race is not None:
        marks = f'<span class="mark win">won race #{call.won_race}</span>'
    elif call.lost_race is not None:
        marks = f'<span class="mark lost">lost race #{call.lost_race}, cancelled</span>'
    if call.kind == "continue" and call.status == "ok":
        nxt = view.generation + 1
        said = f"continued as new: generation {nxt}"
        href = f"runs/{path(view.run.id)}?generation={nxt}"
        marks += (
            f'<span class="mark">{said}</span>'
            if export
            else f'<a class="mark next-generation" href="{href}">{said} &rarr;</a>'
        )
    tries = f" · {len(call.attempts)} attempts" if len(call.attempts) > 1 else ""
    head = (
        f'<span class="seq">#{call.seq}</span> <span class="kind">{e(call.kind)}</span> '
        f"<b>{e(call.name)}</b> {status_badge(call.status)}{tries}{marks}"
    )
    classes = f"node k-{e(call.kind)} s-{e(call.status)}"
    if call.kind == "race" and call.seq in view.races:
        race = view.races[call.seq]
        winner = f"winner #{race.winner}" if race.winner is not None else "undecided"
        head += f' <span class="mark">{winner}; {len(race.losers)} cancelled</span>'
    child_id = call.entry.child_id if call.entry is not None else None
    if child_id:
        lazy = "" if export else f' data-lazy="ui/runs/{path(child_id)}/graph"'
        return (
            f'<details class="{classes} child" id="node-{call.seq}"><summary>{head} '
            f"child run {run_link(child_id, export)}</summary>"
            f'<div class="child-graph"{lazy}></div></details>'
        )
    return f'<div class="{classes}" id="node-{call.seq}">{head}</div>'


def _bucket_label(bucket: model.Bucket) -> str:
    counts = bucket.counts
    said = ", ".join(
        f"{counts[s]:,} {s}" for s in ("ok", "error", "cancelled", "retrying") if s in counts
    )
    return (
        f"<b>{e(bucket.name)}</b> &times; {len(bucket.calls):,}: {said.replace('error', 'failed')}"
    )


def _bucket_node(view: model.RunView, bucket: model.Bucket, export: bool) -> str:
    lo, hi = bucket.seqs
    failed = "".join(_node(view, c, export) for c in bucket.failed[:PAGE])
    return (
        f'<details class="node bucket" id="bucket-{lo}"><summary>{_bucket_label(bucket)} '
        f'<span class="seq">#{lo}&ndash;#{hi}</span></summary>{failed}'
        f'<p class="hint">every call of the fan-out is in the table</p></details>'
    )


def graph(view: model.RunView, export: bool) -> str:
    stages = []
    for group in view.groups:
        nodes = [
            _bucket_node(view, m, export) if isinstance(m, model.Bucket) else _node(view, m, export)
            for m in group.members
        ]
        together = f'<span class="together">{group.size:,} at once</span>' if group.size > 1 else ""
        stages.append(
            f'<div class="stage">{together}<div class="lane">{"".join(nodes)}</div></div>'
        )
    if not stages:
        return '<p class="empty">no call journaled yet</p>'
    return '<div class="graph">' + "".join(stages) + "</div>"


# -- timeline ------------------------------------------------------------------------------


class _Scale:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.span = start, max(end - start, 1e-6)

    def at(self, ts: float) -> float:
        return max(0.0, min(100.0, (ts - self.start) / self.span * 100))

    def bar(self, cls: str, start: float, end: float, title: str) -> str:
        left = self.at(start)
        width = max(self.at(end) - left, 0.25)
        return (
            f'<span class="bar {cls}" style="left:{left:.3f}%;width:{width:.3f}%" '
            f'title="{e(title)}"></span>'
        )


def _call_bars(call: model.Call, scale: _Scale, now: float) -> str:
    bars = []
    for attempt in call.attempts:
        end = attempt.finished_at if attempt.finished_at is not None else now
        if attempt.retry_at is not None:  # a failed attempt, then its backoff
            found = payloads.error_json(attempt.error) or {"type": "?", "message": ""}
            said = f"attempt {attempt.number} failed: {found['type']}: {found['message']}"
            bars.append(scale.bar("fail", attempt.started_at, end, said))
            gap = f"backoff {took(end, attempt.retry_at)} before attempt {attempt.number + 1}"
            bars.append(scale.bar("gap", end, attempt.retry_at, gap))
        else:
            cls = {"ok": "ok", "error": "fail", "cancelled": "cancel"}.get(call.status, "run")
            said = f"attempt {attempt.number}: {call.status}, {took(attempt.started_at, end)}"
            bars.append(scale.bar(cls, attempt.started_at, end, said))
    return "".join(bars)


def _timeline_row(call: model.Call, scale: _Scale, now: float) -> str:
    failed = [a for a in call.attempts if a.retry_at is not None]
    errors = ""
    if failed or call.status == "error":
        said = [f"attempt {a.number}: {error(a.error)}" for a in failed]
        if call.status == "error" and call.entry is not None:
            said.append(f"attempt {len(call.attempts)}: {error(call.entry.error)}")
        errors = '<div class="tl-errors">' + "<br>".join(s for s in said if s) + "</div>"
    return (
        f'<div class="tl-row s-{e(call.status)}" id="tl-{call.seq}">'
        f'<span class="tl-label">#{call.seq} {e(call.name)}</span>'
        f'<span class="tl-track">{_call_bars(call, scale, now)}</span>{errors}</div>'
    )


def timeline(view: model.RunView, now: float) -> str:
    scale = _Scale(view.start, view.end)
    rows = []
    for group in view.groups:
        for member in group.members:
            if isinstance(member, model.Call):
                rows.append(_timeline_row(member, scale, now))
                continue
            end = member.finished_at if member.finished_at is not None else now
            span = scale.bar("span", member.started_at, end, f"{len(member.calls):,} calls")
            lo, _ = member.seqs
            rows.append(
                f'<div class="tl-row bucket" id="tl-{lo}"><span class="tl-label">'
                f'{_bucket_label(member)}</span><span class="tl-track">{span}</span></div>'
            )
            rows.extend(_timeline_row(c, scale, now) for c in member.failed[:PAGE])
    axis = (
        f'<div class="tl-axis"><span>{when(view.start)}</span>'
        f"<span>{took(view.start, view.end)}</span><span>{when(view.end)}</span></div>"
    )
    legend = (
        '<p class="legend"><span class="bar ok"></span> ok <span class="bar fail"></span> '
        'failed attempt <span class="bar gap"></span> backoff <span class="bar cancel"></span> '
        'cancelled <span class="bar run"></span> running</p>'
    )
    return f'<div class="timeline">{legend}{axis}{"".join(rows)}</div>'


# -- table -------------------------------------------------------------------------------


def _row(call: model.Call, export: bool) -> str:
    child = ""
    if call.entry is not None and call.entry.child_id:
        child = run_link(call.entry.child_id, export)
    fork = "" if export else f'<button class="fork" data-seq="{call.seq}">fork here</button>'
    return (
        f'<tr id="call-{call.seq}" class="s-{e(call.status)}"><td>{call.seq}</td>'
        f"<td>{e(call.kind)}</td><td>{e(call.name)}</td><td>{status_badge(call.status)}</td>"
        f"<td>{len(call.attempts)}</td><td>{took(call.started_at, call.finished_at)}</td>"
        f"<td>{call_output(call)}</td><td>{child}</td><td>{fork}</td></tr>"
    )


def bucket_rows(calls: Iterable[model.Call], export: bool) -> str:
    return "".join(_row(call, export) for call in calls)


def table(view: model.RunView, export: bool) -> str:
    body = []
    for group in view.groups:
        for member in group.members:
            if isinstance(member, model.Call):
                body.append(f"<tbody>{_row(member, export)}</tbody>")
                continue
            lo, hi = member.seqs
            shown = member.calls if export else member.failed[:PAGE]
            lazy = (
                "" if export else f' data-bucket="{e(member.name)}" data-lo="{lo}" data-hi="{hi}"'
            )
            body.append(
                f'<tbody class="bucket"{lazy}><tr class="bucket-head"><td colspan="9">'
                '<button class="expand" aria-expanded="false">&#9656;</button> '
                f"{_bucket_label(member)} "
                f'<span class="seq">#{lo}&ndash;#{hi}</span></td></tr>'
                f"{bucket_rows(shown, export)}</tbody>"
            )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("seq", "kind", "name", "status", "tries", "took", "output / error", "child", "")
    )
    note = (
        '<p class="hint">Call inputs are not journaled (only their fingerprint); the run\'s '
        "input is in the summary.</p>"
    )
    return f'{note}<table class="calls"><thead><tr>{head}</tr></thead>{"".join(body)}</table>'


# -- actions and the page ------------------------------------------------------------


def _actions(page: gather.RunPage) -> str:
    if page.generation is not None:  # a past generation: only its audit file
        return (
            '<div class="actions"><button class="download">download audit file</button>'
            '<span class="action-result" role="status"></span></div>'
        )
    finished = page.view.run.status in base.TERMINAL
    return (
        '<div class="actions">'
        f'<button data-action="cancel"{" disabled" if finished else ""}>cancel</button>'
        '<button data-action="resume">resume</button>'
        '<button data-action="restart">restart</button>'
        '<button class="download">download audit file</button>'
        '<form class="send"><input name="topic" placeholder="topic" required>'
        '<input name="value" placeholder="JSON value, e.g. {&quot;ok&quot;: true}">'
        "<button>send message</button></form>"
        '<form class="ask"><input name="request" placeholder="request name" required>'
        '<input name="value" placeholder="JSON value">'
        '<input name="wait" type="number" min="0" max="300" step="any" value="10" '
        'title="seconds to wait for the reply">'
        "<button>send request</button></form>"
        '<span class="action-result" role="status"></span></div>'
    )


def run_page(page: gather.RunPage, *, export: bool) -> str:
    """The run page's body (`export`: for the audit file)."""
    view = page.view
    run = view.run
    parts = [
        ("graph", "Graph", sections.generations(page, export) + graph(view, export)),
        ("timeline", "Timeline", timeline(view, page.now)),
        ("table", "Table", table(view, export)),
        (
            "lineage",
            "Lineage",
            f'<div class="lineage">{sections.lineage(page.tree, run.id, export)}</div>',
        ),
        ("messages", "Messages and events", sections.messages(view, page.events)),
        ("requests", "Requests", sections.requests(page, export)),
    ]
    tabs = "".join(
        f'<button class="tab" data-tab="{key}" role="tab">{title}</button>'
        for key, title, _ in parts
    )
    panels = "".join(
        f'<section class="panel" id="panel-{key}" data-panel="{key}">'
        f"<h2>{title}</h2>{body}</section>"
        for key, title, body in parts
    )
    shown = "" if page.generation is None else f" generation {page.generation}"
    generation = "" if page.generation is None else f' data-generation="{page.generation}"'
    last = max((c.entry.ord for c in view.calls if c.entry), default=-1)
    return (
        f'<article class="run" data-id="{e(run.id)}" data-status="{e(str(run.status))}" '
        f'data-ord="{last}"{generation}>'
        f"<h1>Run <code>{e(run.id)}</code>{shown} {status_badge(str(run.status))}</h1>"
        f"{_banner(view)}{_summary(page, export)}{'' if export else _actions(page)}"
        f'<nav class="tabs" role="tablist">{"" if export else tabs}</nav>{panels}</article>'
    )
