"""The `durable` command line (the only synchronous edge of the package).

Inspection commands (``list``, ``show``, ``history``, ``cancel``, ``replay``, ``export``,
``prune``) open an engine that executes nothing (``execute=False``), so they never take
runs over from the processes that hold them.  ``start --wait``, ``resume``, ``fork`` and
``restart`` open an executing engine, run the workflow here and print its result.

Every failure the user can act on (unknown id, unreachable database, module that fails
to import, bad JSON) is one line on stderr, ``durable: error: ...``, and exit status 1;
a replay that diverges exits with status 3.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from durable import cli_output as output
from durable import (
    cli_replay,
    cli_request,
    cli_schedules,
    cli_serve,
    cli_stream,
    errors,
    export,
)
from durable.blobs import sweep as blob_sweep
from durable.blobs.store import open_store
from durable.engine import Engine
from durable.journal import base
from durable.runs import RunInfo

__all__ = ["main"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class UsageError(Exception):
    """A bad argument, said in one line."""


# -- parsing values -------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``15m``, ``45s``, ``2w`` → seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"bad duration {text!r}: use a number and a unit, as 30d, 12h, 15m, 45s")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_when(text: str) -> datetime.datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or a duration ago (``7d``)."""
    if _DURATION.match(text):
        return datetime.datetime.now(datetime.UTC) - datetime.timedelta(
            seconds=parse_duration(text)
        )
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"bad date {text!r}: use YYYY-MM-DD, an ISO date-time, or a duration ago as 7d"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


def parse_json_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    """``JSON_ARGS``: a JSON array of positional arguments or an object of keyword ones."""
    if text is None:
        return [], {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"bad JSON_ARGS {text!r}: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    raise UsageError(f"bad JSON_ARGS {text!r}: give a JSON array or object")


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        detail = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        raise UsageError(
            f"cannot import module {module!r} ({detail}); check -m/--module and DURABLE_MODULES"
        ) from None


def import_modules(args: argparse.Namespace) -> None:
    """Import the workflow code named by ``-m`` options and ``DURABLE_MODULES``."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    names = [*(args.modules or []), *(getattr(args, "modules_sub", None) or [])]
    names += [m.strip() for m in os.environ.get("DURABLE_MODULES", "").split(",") if m.strip()]
    for name in dict.fromkeys(names):
        _import(name)


# -- engines --------------------------------------------------------------------------------


def _engine(args: argparse.Namespace, *, execute: bool) -> Engine:
    if execute:
        return Engine(args.db, poll_interval=0)
    return Engine(args.db, execute=False, poll_interval=0)


def _inspector(args: argparse.Namespace) -> Engine:
    """An engine for the commands that only read: it opens a journal that this process
    cannot write (a read-only mount, a file it may not write) read-only."""
    engine = Engine(args.db, execute=False, poll_interval=0)
    engine.journal.allow_read_only()
    return engine


async def _load(engine: Engine, run_id: str, generation: int | None = None) -> base.RunLoad:
    if generation is not None:
        await engine.generations(run_id)  # an unknown id: the error below
        return await engine.load_run(run_id, generation)
    load = await engine.journal.load(run_id)
    if load is None:
        raise errors.WorkflowNotFound(
            f"no run {run_id!r} in {engine.url}; `durable list` shows the runs there",
            workflow_id=run_id,
        )
    return load


# -- inspection commands --------------------------------------------------------------------


async def cmd_list(args: argparse.Namespace) -> int:
    status = None if not args.status else [s.upper() for s in args.status]
    if status and not set(status) <= {s.value for s in base.Status}:
        raise UsageError(f"bad --status {args.status}: use {', '.join(s for s in base.Status)}")
    async with _inspector(args) as engine:
        runs = await engine.list(status=status, name=args.name, limit=args.limit)
    if args.json:
        for info in runs:
            output.print_json(output.run_json(info))
        return 0
    delayed = any(info.start_at is not None and info.status == "PENDING" for info in runs)
    rows = [
        (
            info.id,
            info.name,
            str(info.status),
            output.short_time(info.created_at),
            _due(info) or output.duration(output.run_json(info)["duration"]),
        )
        for info in runs
    ]
    columns = ["ID", "WORKFLOW", "STATUS", "CREATED (UTC)", "TOOK/DUE" if delayed else "TOOK"]
    for line in output.table(columns, rows, 1):
        print(line)
    return 0


def _due(info: RunInfo) -> str:
    """When a delayed run not started yet is due (UTC, to the second), else ""."""
    if info.start_at is None or info.status != "PENDING":
        return ""
    return "due " + output.short_time(info.start_at)[5:]


async def cmd_show(args: argparse.Namespace) -> int:
    if args.html:
        return await _show_html(args)
    async with _inspector(args) as engine:
        load = await _load(engine, args.id, args.generation)
        lineage = await engine.lineage(args.id)
        keys = {e.name for e in load.entries if e.kind == "event"}
        events = {key: await engine.journal.get_event(args.id, key) for key in keys}
        past = await engine.journal.generations(args.id)
    sections = [output.summary(load.run), ["", "steps"], output.steps(load)]
    if past:
        sections += [["", "generations (continue_as_new)"], output.generations(past)]
    if lineage.children or lineage.id != load.run.id:
        sections += [["", "lineage"], output.tree(lineage, load.run.id)]
    messages = output.messages(load, events)
    if messages:
        sections += [["", "messages and events"], messages]
    for section in sections:
        for line in section:
            print(line)
    return 0


async def _show_html(args: argparse.Namespace) -> int:
    try:
        from durable.http import web
    except ImportError as exc:
        raise UsageError(f"show --html needs the server extra ({exc})") from None
    async with _inspector(args) as engine:
        await _load(engine, args.id, args.generation)  # the CLI's own message if unknown
        sys.stdout.write(await web.export_html(engine, args.id, args.generation))
    return 0


async def cmd_history(args: argparse.Namespace) -> int:
    async with _inspector(args) as engine:
        load = await _load(engine, args.id, args.generation)
    if args.json:
        for entry in load.entries:
            output.print_json(output.entry_json(entry))
        return 0
    rows = [
        (
            str(e.seq),
            str(e.ord),
            e.kind,
            e.name,
            e.status,
            str(e.attempts),
            output.duration(e.finished_at - e.started_at),
            output.error_text(e.error) or output.payload_text(e.output),
        )
        for e in load.entries
    ]
    headers = ["SEQ", "ORD", "KIND", "NAME", "STATUS", "TRIES", "TOOK", "OUTPUT / ERROR"]
    for line in output.table(headers, rows, 7) if rows else ["(no journal entries)"]:
        print(line)
    return 0


# -- operations -----------------------------------------------------------------------------


async def _finish(run: Any, label: str) -> int:
    try:
        value = await run.result()
    except errors.WorkflowFailed as exc:
        print(f"durable: run {run.id!r} failed: {exc}", file=sys.stderr)
        return 1
    except errors.Cancelled:
        print(f"durable: run {run.id!r} was cancelled", file=sys.stderr)
        return 1
    if label:
        print(label, file=sys.stderr)
    print(output.result_json(value))
    return 0


async def cmd_start(args: argparse.Namespace) -> int:
    positional, keywords = parse_json_args(args.json_args)
    target: Any = args.target  # a journal name (no ':'): started without importing it
    if ":" in args.target:
        module, _, name = args.target.partition(":")
        if not module or not name:
            raise UsageError(f"bad target {args.target!r}: use MODULE:WORKFLOW or a name")
        _import(module)
        target = getattr(importlib.import_module(module), name, None)
        if target is None:
            raise UsageError(f"module {module!r} has no workflow {name!r}")
    start_at = None
    if args.start_at is not None:
        try:
            start_at = datetime.datetime.fromisoformat(args.start_at)
        except ValueError:
            raise UsageError(f"bad --start-at {args.start_at!r}: use ISO 8601") from None
    async with _engine(args, execute=args.wait) as engine:
        run = await engine.start(
            target,
            *positional,
            workflow_id=args.id,
            queue=args.queue,
            start_at=start_at,
            delay=args.delay,
            partition_key=args.partition_key,
            dedup_key=args.dedup_key,
            **keywords,
        )
        if args.wait:
            return await _finish(run, "")
    print(run.id)
    return 0


async def cmd_cancel(args: argparse.Namespace) -> int:
    async with _engine(args, execute=False) as engine:
        await engine.cancel(args.id)
        status = await engine.get(args.id).status()
    print(f"{args.id}: {status}")
    return 0


async def cmd_resume(args: argparse.Namespace) -> int:
    async with _engine(args, execute=True) as engine:
        run = await engine.resume(args.id)
        return await _finish(run, f"resumed {args.id}")


async def cmd_fork(args: argparse.Namespace) -> int:
    async with _engine(args, execute=True) as engine:
        await engine.get(args.id).status()  # WorkflowNotFound before anything is written
        run = await engine.fork(args.id, from_step=args.from_step)
        print(run.id)
        return await _finish(run, f"forked {args.id} from seq {args.from_step} as {run.id}")


async def cmd_restart(args: argparse.Namespace) -> int:
    async with _engine(args, execute=True) as engine:
        run = await engine.restart(args.id)
        print(run.id)
        return await _finish(run, f"restarted {args.id} as {run.id}")


# -- archive --------------------------------------------------------------------------------


async def cmd_export(args: argparse.Namespace) -> int:
    export.require_pyarrow()
    since = None if args.since is None else parse_when(args.since).timestamp()
    until = None if args.until is None else parse_when(args.until).timestamp()
    async with _inspector(args) as engine:
        result = await export.export(
            engine.journal,
            args.dir,
            since=since,
            until=until,
            progress=True,
            with_blobs=args.with_blobs,
        )
    if not result.runs:
        print(f"nothing new to export to {args.dir}")
    else:
        print(
            f"exported {result.runs} run(s), {result.entries} entries, "
            f"in {len(result.files)} file(s) to {args.dir}"
            + (f", {result.blobs} blob(s) copied to its blobs/" if args.with_blobs else "")
        )
    return 0


async def cmd_prune(args: argparse.Namespace) -> int:
    folder = args.archive or os.environ.get("DURABLE_EXPORT_DIR")
    if not folder:
        raise UsageError(
            "prune deletes only runs already exported: give the export folder with "
            "--from DIR (or DURABLE_EXPORT_DIR)"
        )
    if not os.path.isdir(folder):
        raise UsageError(f"export folder {folder!r} does not exist: run `durable export` first")
    export.require_pyarrow()
    older = parse_duration(args.older_than)
    blobs: list[int] = []
    async with _engine(args, execute=False) as engine:
        deleted = await export.prune(
            engine.journal, folder, older_than=older, progress=True, blobs=blobs
        )
        swept = None
        if args.sweep_store:
            store = open_store(args.sweep_store)
            grace = parse_duration(args.grace)
            swept = await blob_sweep.sweep(engine.journal, store, older_than=grace)
    print(
        f"pruned {deleted} exported run(s) finished more than {args.older_than} ago "
        f"and {sum(blobs)} blob(s) no other run references"
    )
    if swept is not None:
        print(f"swept {swept} unreferenced blob(s) older than {args.grace} from {store.url}")
    return 0


async def cmd_worker(args: argparse.Namespace) -> int:
    try:
        process = importlib.import_module("durable.worker.process")
    except ImportError as exc:
        raise UsageError(f"the worker is not available in this installation ({exc})") from None
    result: int = await process.serve(args)
    return result


# -- the parser -----------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=argparse.SUPPRESS, help="database URL (default: $DURABLE_DATABASE_URL)"
    )
    parser.add_argument(
        "-m",
        "--module",
        dest="modules_sub",
        action="append",
        metavar="MODULE",
        help="import workflow code (repeatable; also $DURABLE_MODULES, comma-separated)",
    )


def _add(commands: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
    _common(parser)
    parser.set_defaults(handler=handler)
    return parser


def _add_inspection(commands: Any) -> None:
    p = _add(commands, "list", cmd_list, "runs, newest first")
    p.add_argument("--status", action="append", help="only runs with this status (repeatable)")
    p.add_argument("--name", help="only runs of this workflow name")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = _add(commands, "show", cmd_show, "summary, step table, lineage, messages of a run")
    p.add_argument("id", metavar="ID")
    p.add_argument("--html", action="store_true", help="one self-contained HTML audit file")
    p.add_argument("--generation", type=int, metavar="N", help="a past generation (from 1)")
    p = _add(commands, "history", cmd_history, "the journal of one run")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--generation", type=int, metavar="N", help="a past generation (from 1)")


def _add_operations(commands: Any) -> None:
    p = _add(commands, "start", cmd_start, "start a run")
    p.add_argument("target", metavar="MODULE:WORKFLOW", help="or a journal name, not imported")
    p.add_argument("json_args", metavar="JSON_ARGS", nargs="?", help="JSON array or object")
    p.add_argument("--id", help="workflow id (default: a new uuid)")
    p.add_argument("--queue", help="queue of the run")
    p.add_argument("--delay", type=float, metavar="SECONDS", help="start this much later")
    p.add_argument("--start-at", metavar="WHEN", help="start then (ISO 8601 with a zone)")
    p.add_argument("--partition-key", metavar="KEY", help="partition within its queue")
    p.add_argument("--dedup-key", metavar="KEY", help="the unfinished run with it, if any")
    p.add_argument("--wait", action="store_true", help="run it here and print its result")
    for name, handler, text in [
        ("cancel", cmd_cancel, "cancel a run and its descendants"),
        ("resume", cmd_resume, "carry a failed or cancelled run on from its journal"),
        ("restart", cmd_restart, "run it again as a new run, ignoring its journal"),
    ]:
        _add(commands, name, handler, text).add_argument("id", metavar="ID")
    p = _add(commands, "fork", cmd_fork, "new run reusing the results of calls before N")
    p.add_argument("id", metavar="ID")
    p.add_argument("--from-step", type=int, required=True, metavar="N")
    p = _add(commands, "worker", cmd_worker, "run the modules' workflows until SIGTERM")
    p.add_argument("worker_modules", nargs="+", metavar="MODULE")
    p.add_argument("--queue", dest="queues", action="append", metavar="Q")
    p.add_argument("--concurrency", type=int, default=None, metavar="N")
    p.add_argument("--burst", action="store_true", help="stop when there is nothing to do")
    p.add_argument("--grace", type=float, default=30.0, help="seconds to let steps finish")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between looks for runs")
    p.add_argument(
        "--lease", type=float, default=30.0, help="seconds a run's lease lasts unrenewed"
    )
    p.add_argument(
        "--telemetry", action="store_true", help="report to OpenTelemetry's global providers"
    )


def _add_archive(commands: Any) -> None:
    p = _add(commands, "export", cmd_export, "finished runs to Parquet (incremental)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--since", metavar="DATE", help="runs finished since")
    p.add_argument("--until", metavar="DATE", help="runs finished before")
    p.add_argument(
        "--with-blobs", action="store_true", help="also copy offloaded values into DIR/blobs/"
    )
    p = _add(commands, "prune", cmd_prune, "delete finished runs already exported")
    p.add_argument("--older-than", required=True, metavar="AGE", help="as 30d, 12h")
    p.add_argument("--from", "--archive", dest="archive", metavar="DIR", help="export folder")
    p.add_argument(
        "--sweep-store",
        metavar="URL",
        help="also delete blobs of this store that no run references (crash orphans)",
    )
    p.add_argument("--grace", default="1h", metavar="AGE", help="sweep only blobs older (1h)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `durable` command."""
    parser = argparse.ArgumentParser(prog="durable", description="Durable execution for Python.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--db", help="database URL (default: $DURABLE_DATABASE_URL)")
    parser.add_argument(
        "-m",
        "--module",
        dest="modules",
        action="append",
        metavar="MODULE",
        help="import workflow code (repeatable; also $DURABLE_MODULES, comma-separated)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_inspection(commands)
    _add_operations(commands)
    cli_replay.add_parser(commands, _add)
    _add_archive(commands)
    cli_serve.add_parser(commands, _add)
    cli_schedules.add_parser(commands, _add)
    cli_request.add_parser(commands, _add)
    cli_stream.add_parser(commands, _add)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"durable: error: {text}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `durable` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from durable import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    handler: Handler = args.handler
    logging.basicConfig(format="durable: %(levelname)s: %(message)s", level=logging.WARNING)
    try:
        if args.command != "worker":
            import_modules(args)
        return asyncio.run(handler(args))
    except (errors.DurableError, UsageError, cli_serve.ServeError, OSError, ValueError) as exc:
        print(_one_line(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("durable: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
