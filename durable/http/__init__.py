"""The HTTP API of durable: `create_app` (an ASGI app to serve or mount) and `webhook`.

Needs the ``server`` extra (``pip install 'durable[server]'``: Starlette and uvicorn);
``durable serve`` runs it.  The routes and their status codes are in the README's
"HTTP API" section and in the app's own ``/openapi.json``.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("durable.http needs the server extra: pip install 'durable[server]'") from exc

from durable.http.app import create_app
from durable.http.webhooks import Webhook, webhook

__all__ = ["Webhook", "create_app", "webhook"]
