"""Who may call the HTTP API: bearer tokens, compared in constant time.

With no token configured every request is let through, which `durable serve` allows
only on a loopback address.  Several tokens may be valid at once (rotation: add the
new one, move the clients over, remove the old one).  Webhook paths are left to the
webhook's own signature check (`durable.http.webhooks`).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from durable.http.problems import error_response

__all__ = ["BearerAuth", "Tokens", "is_loopback", "load_tokens"]

ENV = "DURABLE_API_TOKEN"


class Tokens:
    """The valid tokens (none: the API is open)."""

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        self._tokens = [t.encode() for t in tokens if t]

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries one of the tokens.  Every token is
        compared, each with `hmac.compare_digest`, so the time taken says nothing of
        which characters matched."""
        if not self._tokens:
            return True
        scheme, _, given = (authorization or "").partition(" ")
        offered = given.strip().encode()
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(token, offered)
        return matched and scheme.lower() == "bearer"


def load_tokens(env_value: str | None = None, token_file: str | None = None) -> Tokens:
    """The tokens of ``$DURABLE_API_TOKEN`` (comma-separated) and of `token_file` (one a
    line, ``#`` comments).  A token file that cannot be read is an `OSError`."""
    if env_value is None:
        env_value = os.environ.get(ENV, "")
    tokens = [t.strip() for t in env_value.split(",") if t.strip()]
    if token_file is not None:
        with open(token_file, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line and not line.startswith("#"):
                    tokens.append(line)
    return Tokens(tokens)


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: 401 for a request without a valid ``Authorization: Bearer``."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: Tokens,
        open_prefixes: Sequence[str] = (),
        open_exact: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.open_prefixes = tuple(open_prefixes)
        self.open_exact = frozenset(open_exact)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if (
            scope.get("method") == "OPTIONS"
            or path.startswith(self.open_prefixes)
            or path in self.open_exact
        ):
            await self.app(scope, receive, send)  # CORS preflight; signed webhooks
            return
        header = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value.decode("latin-1")
        if self.tokens.accepts(header):
            await self.app(scope, receive, send)
            return
        detail = (
            "this API needs a token: send Authorization: Bearer <token>"
            if header is None
            else "the token is not valid here"
        )
        response = error_response(
            401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)
