"""``durable stream ID KEY``: print a run's durable stream as its chunks are written.

It follows the stream until it ends (closed, or the run finished), like
`Engine.read_stream`; ``--offset N`` starts at chunk N.  Each chunk is one line: its
offset, the step and attempts that wrote it, and its value as JSON (``--json``: one
JSON object per line, as the HTTP API's ``chunk`` events)."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import Any

from durable import streams
from durable.cli_output import payload_text, print_json
from durable.engine import Engine
from durable.http.payloads import value_json

__all__ = ["add_parser", "cmd_stream"]


async def cmd_stream(args: argparse.Namespace) -> int:
    """Print the chunks of stream `args.key` of run `args.id` until it ends."""
    async with Engine(args.db, execute=False) as engine:
        async for chunk in streams.read_raw(engine, args.id, args.key, args.offset):
            assert chunk is not None  # not idle: no keep-alives
            if args.json:
                print_json(
                    {
                        "offset": chunk.position,
                        "value": value_json(chunk.value),
                        "step": chunk.step,
                        "attempt": chunk.attempt,
                        "run_attempt": chunk.run_attempt,
                        "written_at": datetime.datetime.fromtimestamp(
                            chunk.written_at, datetime.UTC
                        ).isoformat(),
                    }
                )
                continue
            writer = "workflow" if chunk.step is None else f"step {chunk.step}"
            attempts = f"attempt {chunk.attempt}, run attempt {chunk.run_attempt}"
            print(f"{chunk.position}\t{writer}, {attempts}\t{payload_text(chunk.value)}")
    return 0


def add_parser(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``stream`` subcommand (`add` is the CLI's own subparser maker)."""
    p = add(commands, "stream", cmd_stream, "print a run's durable stream until it ends")
    p.add_argument("id", metavar="ID")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="start at chunk N")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
