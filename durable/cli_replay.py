"""``durable replay``: re-execute a run's workflow code against its journal (or a Parquet
export), executing no step body and writing nothing, and report the first divergence;
``--check`` does it for every matching run (the check before deploying new code).
Exit status 3 for a divergence, 4 for a journal row that could not be read."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from durable import cli_output as output
from durable import errors, export
from durable.runtime import registry, replayer

__all__ = ["CORRUPT", "DIVERGED", "add_parser", "cmd_replay"]

DIVERGED = 3
CORRUPT = 4  # a journal row could not be read


class ReplayUsageError(ValueError):
    """A bad argument of ``durable replay``, said in one line."""


def _on_call(seq: int, kind: str, name: str, matched: bool) -> None:
    print(
        f"  seq {seq:>4}  {kind:<11} {output.clip(name, 44):<44} {'ok' if matched else 'DIVERGED'}"
    )


def _on_break(seq: int) -> None:
    import pdb

    print(f"break before seq {seq}: `up` shows the workflow's frame, `c` continues")
    pdb.Pdb().set_trace(sys._getframe(1))


def _report(report: replayer.ReplayReport, use_pdb: bool) -> int:
    where = f"run {report.workflow_id!r} ({report.name})"
    if report.divergence is not None:
        print(f"diverged: {report.divergence}")
        if use_pdb:
            import pdb

            traceback = report.divergence.__traceback__
            if traceback is not None:
                pdb.post_mortem(traceback)
            else:
                pdb.set_trace()
        return DIVERGED
    if report.corrupt is not None:
        print(f"cannot replay {where}: {report.corrupt}")
        return CORRUPT
    if report.live_at is not None:
        print(f"replayed {where} to the end of its journal: {report.live_at}")
    elif report.continued:
        print(f"replayed {where}: it continues as new, as journaled")
    elif report.error is not None:
        print(f"replayed {where}: it raises {type(report.error).__name__}: {report.error}")
    else:
        print(f"replayed {where}: it returns {output.result_json(report.result)}")
    return 0


async def _check(args: argparse.Namespace) -> int:
    from durable import cli

    since = None if args.since is None else cli.parse_when(args.since)
    async with cli._inspector(args) as engine:
        broken = await engine.check(name=args.name, since=since)
    for report in broken:
        label = "corrupt: " if report.corrupt is not None else ""
        print(f"{report.workflow_id}  {report.name}: {label}{report.problem}")
    if broken:
        print(
            f"{len(broken)} run(s) would break under the current code or cannot be read",
            file=sys.stderr,
        )
        return DIVERGED if any(r.divergence is not None for r in broken) else CORRUPT
    print("no run would break under the current code")
    return 0


def _quiet_divergence(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # the replayer leaves its diverged workflow task's exception unretrieved; the report
    # already says it, so asyncio's "never retrieved" complaint is noise here
    if not isinstance(context.get("exception"), errors.NonDeterminismError):
        loop.default_exception_handler(context)


async def cmd_replay(args: argparse.Namespace) -> int:
    from durable import cli  # the engines of the command line (it imports this module)

    # the report prints the divergence; the runtime's own error log of it would repeat it
    logging.getLogger("durable.runtime").setLevel(logging.CRITICAL)
    asyncio.get_running_loop().set_exception_handler(_quiet_divergence)
    if args.check:
        return await _check(args)
    if args.id is None:
        raise ReplayUsageError("replay needs a run ID (or --check)")
    on_break = _on_break if args.break_at is not None else None
    if args.archive is not None:
        load = export.load_archived(args.archive, args.id)
        definition = registry.lookup_workflow(load.run.name)
        if definition is None:
            raise errors.NotRegistered(workflow_id=args.id, name=load.run.name)
        engine = cli._engine(args, execute=False)  # not opened: only its codec is used
        report = await replayer.replay(
            load,
            definition,
            engine.codec,
            on_call=_on_call,
            break_at=args.break_at,
            on_break=on_break,
        )
    else:
        async with cli._inspector(args) as engine:
            report = await engine.replay(
                args.id,
                on_call=_on_call,
                break_at=args.break_at,
                on_break=on_break,
                generation=args.generation,
            )
    return _report(report, args.pdb)


def add_parser(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``replay`` to the `durable` command's subparsers."""
    p = add(commands, "replay", cmd_replay, "re-execute a run's code against its journal")
    p.add_argument("id", metavar="ID", nargs="?")
    p.add_argument("--pdb", action="store_true", help="debugger at the divergence")
    p.add_argument("--break-at", type=int, metavar="N", help="debugger before call N")
    p.add_argument("--check", action="store_true", help="replay every matching run")
    p.add_argument("--name", help="with --check: only this workflow name")
    p.add_argument("--since", metavar="DATE", help="with --check: runs created since")
    p.add_argument("--from", dest="archive", metavar="DIR", help="replay from a Parquet export")
    p.add_argument("--generation", type=int, metavar="N", help="a past generation (from 1)")
