"""The web view of durable: runs list, run page (graph, timeline, table, lineage,
messages), live updates, actions, and the self-contained audit file.

Rendered on the server (`render`, `listing`) with a small hand-written script and
stylesheet in ``static/``: there is nothing to build, the same Python draws the pages
and the audit file, and no JavaScript toolchain is needed to change or test it.
"""

from __future__ import annotations

from durable.http.web.document import export_html
from durable.http.web.views import OPEN_EXACT, OPEN_PREFIXES, routes

__all__ = ["OPEN_EXACT", "OPEN_PREFIXES", "export_html", "routes"]
