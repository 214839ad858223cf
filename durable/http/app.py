"""`create_app`: the ASGI application of the HTTP API, to serve or to mount."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from durable import errors
from durable.engine import Engine
from durable.http import auth, openapi, paths, problems, routes, web, webhooks

__all__ = ["create_app"]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problems.error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


def create_app(
    engine: Engine,
    *,
    tokens: Sequence[str] | auth.Tokens | None = None,
    hooks: Iterable[webhooks.Webhook] | None = None,
    cors_origins: Sequence[str] = (),
    max_body: int = 1 << 20,
    max_wait: float = 300.0,
) -> Starlette:
    """The HTTP API of `engine` as an ASGI app (Starlette).

    The engine is not opened or closed by the app: open it around the server (as
    ``durable serve`` does) or in the lifespan of the service that mounts the app.

    Parameters
    ----------
    tokens:
        Bearer tokens, any of which a request must carry (``Authorization: Bearer
        <token>``); several for rotation.  None reads ``$DURABLE_API_TOKEN``
        (comma-separated); no token leaves the API open (fine on loopback only).
    hooks:
        The webhooks served at ``/api/hooks/{name}``; None serves those registered
        with `durable.http.webhook`.
    cors_origins:
        Origins allowed to call the API from a browser; none (the default) sends no
        CORS headers at all.
    max_body:
        Largest request body accepted, in bytes (413 beyond).
    max_wait:
        Longest ``?wait=`` a long-poll may ask, in seconds.

    Examples
    --------
    >>> import durable, durable.http
    >>> app = durable.http.create_app(durable.Engine("sqlite://:memory:"), tokens=["t0k3n"])
    >>> sorted({route.path for route in app.routes})[:3]
    ['/', '/api/hooks/{name}', '/api/runs']
    """
    if not isinstance(tokens, auth.Tokens):
        tokens = auth.load_tokens() if tokens is None else auth.Tokens(tokens)
    chosen = webhooks.registered().values() if hooks is None else hooks
    api = routes.Api(
        engine=engine,
        hooks={hook.name: hook for hook in chosen},
        max_body=max_body,
        max_wait=max_wait,
    )
    from durable import __version__

    api.openapi = openapi.document(routes.ENDPOINTS, title="durable", version=__version__)
    middleware = [Middleware(paths.EncodedSlashes)]  # run ids holding "/"
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            )
        )
    open_paths = [e.path.split("{")[0] for e in routes.ENDPOINTS if e.public]
    open_paths += web.OPEN_PREFIXES  # the web view's pages and assets hold no data
    middleware.append(
        Middleware(
            auth.BearerAuth, tokens=tokens, open_prefixes=open_paths, open_exact=web.OPEN_EXACT
        )
    )
    app = Starlette(
        routes=[Route(e.path, e.handler, methods=[e.method]) for e in routes.ENDPOINTS]
        + web.routes(),
        middleware=middleware,
        exception_handlers={
            HTTPException: _http_error,
            problems.ApiError: problems.handle,
            errors.DurableError: problems.handle,
            Exception: problems.handle,  # the 500s: logged here, no traceback sent
        },
    )
    app.state.durable = api
    return app
