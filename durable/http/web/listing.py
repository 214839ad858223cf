"""The runs list: the journal's pages of runs (status and workflow filtered by the
journal, newest first) narrowed here by queue, time range, id and trigger (the
schedule or event source that started a run), and the counts by status of the runs
that match.

The journal's listing filters by status, name and a ``(created_at, id)`` cursor; the
queue, the time range, the id search and the trigger are applied to its rows here, reading
at most `SCAN` rows for one page (a filter that matches rarely shows fewer rows and says
how far it looked).  The counts read at most `SCAN` rows too and say so when capped.
"""

from __future__ import annotations

import datetime
import html
from dataclasses import dataclass

from durable.http import payloads
from durable.http.problems import ApiError
from durable.http.web import text, trigger
from durable.journal import base

__all__ = ["Filters", "counts", "fragment", "page"]

SCAN = 5000  # rows of the journal read at most for one page or one count
BATCH = 500

e = html.escape


@dataclass
class Filters:
    """What the runs list is narrowed to (from the query string)."""

    status: list[base.Status]
    name: str | None = None
    queue: str | None = None
    since: float | None = None
    until: float | None = None
    search: str | None = None
    schedule: str | None = None
    source: str | None = None
    limit: int = 50
    cursor: tuple[float, str] | None = None

    @classmethod
    def parse(cls, query: dict[str, str]) -> Filters:
        statuses = [s.strip().upper() for s in query.get("status", "").split(",") if s.strip()]
        if not set(statuses) <= {s.value for s in base.Status}:
            raise ApiError(
                400,
                "bad_status",
                f"status={statuses}: use {', '.join(s.value for s in base.Status)}",
            )
        limit = query.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 500:
            raise ApiError(400, "bad_limit", f"limit={limit!r}: give a number from 1 to 500")
        cursor = query.get("cursor")
        return cls(
            status=[base.Status(s) for s in statuses],
            name=query.get("name") or None,
            queue=query.get("queue") or None,
            since=_time(query, "from"),
            until=_time(query, "to"),
            search=(query.get("q") or "").strip() or None,
            schedule=query.get("schedule") or None,
            source=query.get("source") or None,
            limit=int(limit),
            cursor=payloads.decode_cursor(cursor) if cursor else None,
        )

    def keeps(self, record: base.RunRecord) -> bool:
        if self.queue is not None and record.queue != self.queue:
            return False
        if self.until is not None and record.created_at >= self.until:
            return False
        if self.search is not None and self.search not in record.id:
            return False
        if self.schedule is None and self.source is None:
            return True
        found = trigger.of(record)
        if self.schedule is not None and (found.kind, found.name) != ("schedule", self.schedule):
            return False
        return self.source is None or (found.kind, found.name) == ("source", self.source)

    def unpaged(self) -> Filters:
        """These filters but the status, the page size and the cursor (for the counts)."""
        return Filters(
            [],
            self.name,
            self.queue,
            self.since,
            self.until,
            self.search,
            self.schedule,
            self.source,
        )


def _time(query: dict[str, str], key: str) -> float | None:
    text = query.get(key, "").strip()
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, "bad_time", f"{key}={text!r}: give an ISO 8601 time, e.g. 2026-01-31T12:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


async def _scan(
    journal: base.Journal, filters: Filters, status: list[base.Status] | None, want: int
) -> tuple[list[base.RunRecord], bool]:
    """Up to `want` matching runs, newest first, and whether the scan was cut short at
    `SCAN` rows (more may match further back)."""
    before = filters.cursor
    if filters.until is not None and (before is None or before[0] > filters.until):
        before = (filters.until, "")
    found: list[base.RunRecord] = []
    read = 0
    while read < SCAN:
        rows = await journal.list_runs(status=status, name=filters.name, limit=BATCH, before=before)
        read += len(rows)
        for row in rows:
            if filters.since is not None and row.created_at < filters.since:
                return found, False
            if filters.keeps(row):
                found.append(row)
                if len(found) >= want:
                    return found, False
        if len(rows) < BATCH:
            return found, False
        before = (rows[-1].created_at, rows[-1].id)
    return found, True


async def page(
    journal: base.Journal, filters: Filters
) -> tuple[list[base.RunRecord], str | None, bool]:
    """One page of runs, the cursor of the next (None: last page) and whether the scan
    stopped at its bound."""
    found, capped = await _scan(journal, filters, filters.status or None, filters.limit + 1)
    if filters.search and not filters.cursor:
        exact = await journal.get_run(filters.search)
        if exact is not None and all(r.id != exact.id for r in found):
            found.insert(0, exact)
    rows = found[: filters.limit]
    more = len(found) > filters.limit or capped
    cursor = payloads.encode_cursor(rows[-1]) if more and rows else None
    return rows, cursor, capped


async def counts(journal: base.Journal, filters: Filters) -> tuple[dict[str, int], bool]:
    """How many runs of each status match the filters but the status, and whether the
    count stopped at `SCAN` runs."""
    found, capped = await _scan(journal, filters.unpaged(), None, SCAN)
    out = {s.value: 0 for s in base.Status}
    for row in found:
        out[row.status.value] += 1
    return out, capped or len(found) >= SCAN


def fragment(
    rows: list[base.RunRecord], cursor: str | None, tally: dict[str, int], capped: bool
) -> str:
    """The list's live part: the counts, the rows and the next page's cursor."""
    plus = "+" if capped else ""
    chips = "".join(
        f'<button class="count" data-status="{s}">{text.status_badge(s)} '
        f'<b data-count="{s}">{n:,}{plus if n else ""}</b></button>'
        for s, n in tally.items()
    )
    body = "".join(
        f'<tr data-run="{e(r.id)}"><td><a class="run-link" href="runs/{text.path(r.id)}" '
        f'data-run="{e(r.id)}">{e(r.id)}</a></td><td>{e(r.name)}</td>'
        f"<td>{text.status_badge(str(r.status))}</td><td>{e(r.queue or '-')}</td>"
        f"<td>{e(trigger.of(r).short)}</td>"
        f"<td>{text.when(r.created_at)}</td>"
        f"<td>{text.took(r.created_at, r.finished_at)}</td></tr>"
        for r in rows
    )
    titles = ("id", "workflow", "status", "queue", "started by", "created (UTC)", "took")
    head = "<tr>" + "".join(f"<th>{t}</th>" for t in titles) + "</tr>"
    empty = "" if rows else '<p class="empty">no run matches</p>'
    more = (
        f'<button class="next-page" data-cursor="{e(cursor)}">next page</button>' if cursor else ""
    )
    return f'<div class="counts">{chips}</div><table class="runs">{head}{body}</table>{empty}{more}'
