"""Whole HTML documents: the two shells the browser loads (runs list, run page) and
the self-contained audit file of one run.

The shells hold no journal data, so they are served without the token: the page's
script asks the guarded ``ui/`` fragments for the data with ``Authorization: Bearer``
(the token the user typed, kept in the tab's sessionStorage).  The audit file inlines
its stylesheet and script and forbids every fetch in its Content-Security-Policy, so
it opens from a file with no network and cannot call anywhere.
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import urllib.parse

from durable.engine import Engine
from durable.http.web import gather, render, text

__all__ = ["asset", "audit_file", "export_html", "shell"]

ASSETS = ("web.css", "web.js", "export.js")

e = html.escape


@functools.cache
def asset(name: str) -> str:
    """A static file of the web view (one of `ASSETS`)."""
    return (importlib.resources.files("durable.http.web") / "static" / name).read_text("utf-8")


def shell(root: str, page: str, run_id: str = "") -> str:
    """The page the browser loads: `page` is ``list`` or ``run``."""
    if page == "list":
        statuses = "".join(
            f'<option value="{s}">{s.lower()}</option>'
            for s in ("PENDING", "RUNNING", "SLEEPING", "SUCCEEDED", "FAILED", "CANCELLED")
        )
        main = (
            '<form class="filters" id="filters">'
            '<label>status <select name="status"><option value="">any</option>'
            f"{statuses}</select></label>"
            '<label>workflow <input name="name"></label>'
            '<label>queue <input name="queue"></label>'
            '<label>from (UTC) <input name="from" type="datetime-local" step="1"></label>'
            '<label>to (UTC) <input name="to" type="datetime-local" step="1"></label>'
            '<label>schedule <input name="schedule"></label>'
            '<label>source <input name="source" placeholder="e.g. topic:orders"></label>'
            '<label>id <input name="q" placeholder="search by id"></label>'
            '<input type="hidden" name="limit"><button>apply</button></form>'
            '<div id="list" aria-live="polite"></div>'
        )
        title = "runs"
    else:
        main = f'<div id="run" data-run="{e(run_id)}"></div>'
        title = f"run {run_id}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<base href="{e(root)}/"><title>durable: {e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="static/web.css"><script defer src="static/web.js"></script>'
        f'</head><body data-page="{page}"><header><a class="home" href="./">durable</a>'
        '<span class="live" id="live"></span>'
        '<button class="forget" hidden>forget token</button></header>'
        '<form class="login" id="login" hidden><p>This server needs its API token '
        "(<code>DURABLE_API_TOKEN</code>). It is kept in this tab only (sessionStorage) "
        'and sent as <code>Authorization: Bearer</code>.</p><input type="password" '
        'name="token" autocomplete="current-password" placeholder="token" required>'
        '<button>sign in</button><span class="login-error" role="alert"></span></form>'
        f'<main id="main">{main}</main></body></html>'
    )


def _where(url: str) -> str:
    """The journal's URL without its password or query (which may hold one)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.username
    netloc = f"{user}@{host}" if user else host
    return f"{parts.scheme}://{netloc}{parts.path}"


async def export_html(engine: Engine, run_id: str, generation: int | None = None) -> str:
    """The audit file of `run_id` (`generation`: a past one, from 1): one HTML document
    with everything inline."""
    return audit_file(engine, await gather.read(engine, run_id, generation))


def audit_file(engine: Engine, page: gather.RunPage) -> str:
    """The audit file of a run page read already."""
    run_id = page.view.run.id
    body = render.run_page(page, export=True)
    shown = "" if page.generation is None else f" generation {page.generation}"
    policy = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        f"<title>durable audit: run {e(run_id)}{shown}</title><style>{asset('web.css')}</style>"
        f'</head><body class="export"><header><span class="home">durable</span> audit file, '
        f"written {text.when(page.now)} UTC from {e(_where(engine.url))}</header>"
        f"<main>{body}</main><script>{asset('export.js')}</script></body></html>"
    )
