"""The routes of the web view, mounted beside the API by `durable.http.app`.

Open (they hold no journal data): ``/`` (runs list), ``/runs/{id}`` (run page) and
``/static/*``.  Guarded by the API's token like every ``/api`` route: the ``/ui/``
fragments the pages fetch, and the audit file download.  Actions (cancel, resume,
restart, fork, messages) are the API's own endpoints, called by the page's script.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from durable import errors
from durable.http import paths
from durable.http.problems import ApiError
from durable.http.web import document, gather, listing, model, render
from durable.journal import base

__all__ = ["OPEN_EXACT", "OPEN_PREFIXES", "routes"]

OPEN_EXACT = ("/",)
OPEN_PREFIXES = ("/runs/", "/static/")

# the shells load only their own script and stylesheet; inline style attributes carry
# the timeline's bar positions
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'"
)
FRESH = {"Cache-Control": "no-store"}


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


async def _load(request: Request, run_id: str) -> base.RunLoad:
    load = await request.app.state.durable.engine.journal.load(run_id)
    if load is None:
        raise errors.WorkflowNotFound(workflow_id=run_id)
    return load  # type: ignore[no-any-return]


# -- open pages ---------------------------------------------------------------------------


async def list_page(request: Request) -> Response:
    page = document.shell(_root(request), "list")
    return HTMLResponse(page, headers={"Content-Security-Policy": POLICY, **FRESH})


async def run_page(request: Request) -> Response:
    page = document.shell(_root(request), "run", paths.segment(request, "id"))
    return HTMLResponse(page, headers={"Content-Security-Policy": POLICY, **FRESH})


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in document.ASSETS:
        raise ApiError(404, "not_found", f"no static file {name!r}")
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    return Response(document.asset(name), media_type=kind, headers={"Cache-Control": "no-cache"})


# -- guarded fragments ------------------------------------------------------------------------


async def runs_fragment(request: Request) -> Response:
    journal = request.app.state.durable.engine.journal
    filters = listing.Filters.parse(dict(request.query_params))
    rows, cursor, _ = await listing.page(journal, filters)
    tally, capped = await listing.counts(journal, filters)
    return HTMLResponse(listing.fragment(rows, cursor, tally, capped), headers=FRESH)


def _generation(request: Request) -> int | None:
    text = request.query_params.get("generation")
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, "bad_generation", f"generation={text!r}: give a number from 1")
    return int(text)


async def _page(request: Request) -> gather.RunPage:
    engine = request.app.state.durable.engine
    generation = _generation(request)
    try:
        return await gather.read(engine, paths.segment(request, "id"), generation)
    except errors.WorkflowNotFound:
        raise
    except errors.DurableError as exc:  # no such generation: the message names those there are
        if generation is None:
            raise
        raise ApiError(404, "generation_not_found", str(exc)) from None


async def run_fragment(request: Request) -> Response:
    page = await _page(request)
    return HTMLResponse(render.run_page(page, export=False), headers=FRESH)


async def graph_fragment(request: Request) -> Response:
    load = await _load(request, paths.segment(request, "id"))
    view = model.build(load, time.time())
    return HTMLResponse(render.graph(view, export=False), headers=FRESH)


def _int(request: Request, key: str, default: int | None = None) -> int:
    text = request.query_params.get(key)
    if text is None and default is not None:
        return default
    if text is None or not text.isdigit():
        raise ApiError(400, "bad_number", f"{key}={text!r}: give a whole number from 0")
    return int(text)


async def calls_fragment(request: Request) -> Response:
    """The table rows of one folded fan-out: the calls named `name` from seq `lo` to
    `hi`, `render.PAGE` at a time from `offset`."""
    load = await _load(request, paths.segment(request, "id"))
    name = request.query_params.get("name", "")
    lo, hi, offset = _int(request, "lo"), _int(request, "hi"), _int(request, "offset", 0)
    view = model.build(load, time.time())
    chosen = [c for c in view.calls if lo <= c.seq <= hi and c.name == name]
    page = chosen[offset : offset + render.PAGE]
    more = offset + render.PAGE < len(chosen)
    headers = {**FRESH, "X-Next-Offset": str(offset + render.PAGE) if more else ""}
    return HTMLResponse(render.bucket_rows(page, export=False), headers=headers)


async def export_file(request: Request) -> Response:
    page = await _page(request)
    text = document.audit_file(request.app.state.durable.engine, page)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in page.view.run.id)[:100]
    suffix = "" if page.generation is None else f"-generation-{page.generation}"
    disposition = f'attachment; filename="run-{safe}{suffix}.html"'
    return HTMLResponse(text, headers={**FRESH, "Content-Disposition": disposition})


def routes() -> list[Route]:
    """The web view's routes, to add to the app's."""
    return [
        Route("/", list_page, methods=["GET"], include_in_schema=False),
        Route("/runs/{id}", run_page, methods=["GET"], include_in_schema=False),
        Route("/static/{name}", static, methods=["GET"], include_in_schema=False),
        Route("/ui/runs", runs_fragment, methods=["GET"], include_in_schema=False),
        Route("/ui/runs/{id}", run_fragment, methods=["GET"], include_in_schema=False),
        Route("/ui/runs/{id}/graph", graph_fragment, methods=["GET"], include_in_schema=False),
        Route("/ui/runs/{id}/calls", calls_fragment, methods=["GET"], include_in_schema=False),
        Route("/ui/runs/{id}/export", export_file, methods=["GET"], include_in_schema=False),
    ]
