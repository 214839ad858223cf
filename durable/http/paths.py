"""Run ids in URL paths.  An id may hold ``/`` (an event source's run ids do:
``handle@topic:orders/17``, an object's path), sent percent-encoded as ``%2F``; ASGI
servers decode the path before routing, so the id would split into segments and match
no route.  `EncodedSlashes` routes such a request on its raw path with only ``%2F``
and ``%25`` left encoded, and `segment` decodes a path parameter read from it.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from durable.http.problems import ApiError

__all__ = ["EncodedSlashes", "segment"]

FLAG = "durable.encoded_slashes"  # set in the scope when the path kept its escapes
_KEPT = re.compile(rb"(%2[fF5])")


def _partly_decoded(raw: bytes) -> str:
    pieces = _KEPT.split(raw)
    return "".join(
        piece.decode("ascii").upper()
        if i % 2
        else urllib.parse.unquote_to_bytes(piece).decode("utf-8", "replace")
        for i, piece in enumerate(pieces)
    )


class EncodedSlashes:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: Any = scope.get("raw_path")
        if scope["type"] == "http" and isinstance(raw, bytes) and b"%2f" in raw.lower():
            scope = dict(scope)
            scope["path"] = _partly_decoded(raw.split(b"?", 1)[0])
            scope[FLAG] = True
        await self.app(scope, receive, send)


def segment(request: Request, name: str) -> str:
    """Path parameter `name`, its ``%2F`` and ``%25`` decoded when `EncodedSlashes`
    kept them; a 400 for a NUL character, which no journal column can hold."""
    value: str = request.path_params[name]
    if request.scope.get(FLAG):
        value = urllib.parse.unquote(value)
    if "\x00" in value:
        raise ApiError(400, "bad_text", f"{name} holds a NUL character")
    return value
