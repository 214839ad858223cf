"""``durable schedule ...``: list, show and operate on the journal's schedules.

``list`` and ``show`` only read; the others write the schedule's row (and, for
``trigger`` and ``backfill``, create runs that the workers execute).  ``trigger`` and
``backfill`` of a schedule created by name, whose workflow this process does not
import, need ``-m MODULE`` to know whether the workflow takes the tick.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from durable import cli_output as output
from durable.engine import Engine
from durable.schedules.manage import ScheduleInfo

__all__ = ["add_parser"]


def _engine(args: argparse.Namespace) -> Engine:
    return Engine(args.db, execute=False, poll_interval=0)


def _timing(info: ScheduleInfo) -> str:
    if info.cron is not None:
        return f"cron {info.cron!r} {info.tz}"
    return f"every {info.every:g}s"


def _state(info: ScheduleInfo) -> str:
    return "paused" if info.paused else "active"


async def cmd_list(args: argparse.Namespace) -> int:
    async with _engine(args) as engine:
        schedules = await engine.schedules.list()
    if args.json:
        for info in schedules:
            output.print_json(info.to_json())
        return 0
    rows = [
        (
            info.id,
            info.workflow,
            _timing(info),
            _state(info),
            output.short_time(info.next_tick),
            info.last_run or "-",
        )
        for info in schedules
    ]
    headers = ["ID", "WORKFLOW", "WHEN", "STATE", "NEXT (UTC)", "LAST RUN"]
    for line in output.table(headers, rows, 5):
        print(line)
    return 0


async def cmd_show(args: argparse.Namespace) -> int:
    async with _engine(args) as engine:
        info = await engine.schedules.get(args.id)
    if args.json:
        output.print_json(info.to_json())
        return 0
    fields = [
        ("id", info.id),
        ("workflow", info.workflow),
        ("when", _timing(info)),
        ("args", repr(info.args)),
        ("overlap", info.overlap),
        ("catchup", f"{info.catchup} (window {info.catchup_window:.0f}s)"),
        ("jitter", f"{info.jitter:g}s"),
        ("state", _state(info) + (f": {info.note}" if info.note else "")),
        ("last tick handled", output.short_time(info.cursor)),
        ("next tick", output.short_time(info.next_tick)),
        ("buffered tick", output.short_time(info.buffered)),
        ("last run", info.last_run or "-"),
        ("declared by", info.origin),
    ]
    for name, value in fields:
        print(f"{name + ':':<19}{value}")
    print()
    if not info.skipped:
        print("no tick skipped")
        return 0
    print(f"ticks not run (latest {len(info.skipped)}):")
    rows = [(output.short_time(s.tick), s.reason, s.detail or "") for s in info.skipped]
    for line in output.table(["TICK (UTC)", "REASON", "DETAIL"], rows, 2):
        print(line)
    return 0


async def cmd_pause(args: argparse.Namespace) -> int:
    async with _engine(args) as engine:
        info = await engine.schedules.pause(args.id, note=args.note)
    print(f"{info.id}: paused" + (f" ({info.note})" if info.note else ""))
    return 0


async def cmd_resume(args: argparse.Namespace) -> int:
    async with _engine(args) as engine:
        info = await engine.schedules.resume(args.id)
    print(f"{info.id}: active, next tick {output.short_time(info.next_tick)} UTC")
    return 0


async def cmd_trigger(args: argparse.Namespace) -> int:
    async with _engine(args) as engine:
        run = await engine.schedules.trigger(args.id)
    print(run.id)
    return 0


async def cmd_backfill(args: argparse.Namespace) -> int:
    from durable.cli import parse_when

    start, end = parse_when(args.start), parse_when(args.end)
    async with _engine(args) as engine:
        runs = await engine.schedules.backfill(args.id, start, end)
    for run in runs:
        print(run.id)
    return 0


async def cmd_delete(args: argparse.Namespace) -> int:
    async with _engine(args) as engine:
        await engine.schedules.delete(args.id)
    print(f"{args.id}: deleted")
    return 0


def add_parser(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``schedule`` subcommands (`add` is the CLI's own subparser maker)."""
    group = add(commands, "schedule", cmd_list, "list and operate on schedules")
    subs = group.add_subparsers(dest="schedule_command", metavar="SUBCOMMAND", required=True)
    p = add(subs, "list", cmd_list, "every schedule")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = add(subs, "show", cmd_show, "a schedule and the ticks it did not run, with why")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="as one JSON object")
    p = add(subs, "pause", cmd_pause, "stop firing (due ticks are skipped: paused)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--note", metavar="T", help="why (shown by list and show)")
    for name, handler, text in [
        ("resume", cmd_resume, "fire again from the next tick"),
        ("trigger", cmd_trigger, "start a run now"),
        ("delete", cmd_delete, "delete the schedule (its runs stay)"),
    ]:
        add(subs, name, handler, text).add_argument("id", metavar="ID")
    p = add(subs, "backfill", cmd_backfill, "start the runs of the ticks in [START, END)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--start", required=True, metavar="DATE", help="ISO date or date-time (UTC)")
    p.add_argument("--end", required=True, metavar="DATE", help="ISO date or date-time (UTC)")
