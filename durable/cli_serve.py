"""``durable serve``: the HTTP API (`durable.http`) on uvicorn, beside an engine.

It binds 127.0.0.1 unless told otherwise, and refuses any other address unless a
token is set (``$DURABLE_API_TOKEN`` or ``--token-file``): an open API on a network
would let anyone start and cancel runs.  The engine executes the runs of the modules
it imports, like a worker, unless ``--no-execute`` makes it an API front end only
(the workers then run everything).  SIGINT/SIGTERM stop it: uvicorn finishes the
requests in flight, then the engine releases its runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from durable.engine import Engine

__all__ = ["add_parser", "cmd_serve"]


class ServeError(Exception):
    """A reason not to serve, said in one line."""


async def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401  (checked here: one clear line when it is missing)

        from durable.http import auth
    except ImportError as exc:
        raise ServeError(
            f"durable serve needs the server extra ({exc}): pip install 'durable[server]'"
        ) from None
    tokens = auth.load_tokens(os.environ.get(auth.ENV, ""), args.token_file)
    if not auth.is_loopback(args.host) and not tokens:
        raise ServeError(
            f"refusing to serve on {args.host}, which is not a loopback address, without a "
            f"token: set {auth.ENV} or --token-file (or bind 127.0.0.1)"
        )
    listening = _bind(args.host, args.port)
    with listening:
        return await _serve(args, listening, tokens)


async def _serve(args: argparse.Namespace, listening: socket.socket, tokens: Any) -> int:
    import uvicorn

    from durable.http import create_app

    engine = Engine(args.db, execute=not args.no_execute)
    async with engine:
        app = create_app(
            engine, tokens=tokens, cors_origins=args.cors_origins or (), max_body=args.max_body
        )
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            lifespan="off",
            log_level=args.log_level,
            access_log=args.log_level in ("info", "debug", "trace"),
        )
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve(sockets=[listening]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            host, port = listening.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            guarded = f"{len(tokens)} token(s)" if tokens else "no token"
            print(f"durable: serving http://{shown}:{port} ({guarded})", file=sys.stderr)
            sys.stderr.flush()
        await task
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port is one line, not uvicorn's
    exit from inside its task."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def add_parser(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``serve`` subcommand (`add` is the CLI's own subparser maker)."""
    p = add(commands, "serve", cmd_serve, "serve the HTTP API (needs durable[server])")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument("--token-file", metavar="F", help="bearer tokens, one a line")
    p.add_argument("--no-execute", action="store_true", help="execute no run here (workers do)")
    p.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        metavar="ORIGIN",
        help="allow browser calls from this origin (repeatable; default: CORS off)",
    )
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest body in bytes")
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (info shows each request)",
    )
