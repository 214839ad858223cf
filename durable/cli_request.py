"""``durable request ID NAME [JSON]``: request/reply into a running run from a shell.

It needs none of the workflow's code (it opens an engine that executes nothing): the
reply is printed as JSON; a rejection, a finished run or no reply within ``--timeout``
is one line on stderr and exit status 1 (the request then stays queued: run the
command again with the printed ``--request-id`` to wait for its answer).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from durable import cli_output as output
from durable.engine import Engine

__all__ = ["add_parser", "cmd_request"]


class RequestUsageError(ValueError):
    """A bad argument of ``durable request``, said in one line."""


async def cmd_request(args: argparse.Namespace) -> int:
    try:
        value = None if args.json_value is None else json.loads(args.json_value)
    except json.JSONDecodeError as exc:
        raise RequestUsageError(f"bad JSON value {args.json_value!r}: {exc}") from None
    async with Engine(args.db, execute=False, poll_interval=0) as engine:
        reply = await engine.request(
            args.id, args.name, value, timeout=args.timeout, request_id=args.request_id
        )
    print(output.result_json(reply))
    return 0


def add_parser(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``request`` to the `durable` command's subparsers."""
    p = add(commands, "request", cmd_request, "send a request to a running run, print its reply")
    p.add_argument("id", metavar="ID")
    p.add_argument("name", metavar="NAME", help="the name its recv_request waits for")
    p.add_argument("json_value", metavar="JSON", nargs="?", help="the request's value (JSON)")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the reply (default 60)"
    )
    p.add_argument("--request-id", help="idempotency key: the same id waits for the same answer")
