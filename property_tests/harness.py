"""Running a generated program on a real journal, crashing it, and recording what happened.

`execute` starts the interpreter on a fresh database, crashes the engine in-process
(`durable.testing.crash`, as a SIGKILL would leave it) when the armed body point is
reached, snapshots the journal through an inspect-only engine, opens a fresh engine on
the same database (which resumes the run), and repeats for each crash point; it returns
a `Trace` of everything the properties look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

import durable
from durable import testing
from durable.journal import base
from property_tests import programs
from property_tests.stats import STATS
from tests.postgres import TEMPLATE

TIMEOUT = 20.0

# What the event loop reported as unhandled (an exception in a callback, a task's exception
# never retrieved) while `execute` ran; asyncio would only print these.
LOOP_ERRORS: list[str] = []


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    LOOP_ERRORS.append(f"{context.get('message')}: {context.get('exception')!r}")


@dataclass
class Snapshot:
    """One run's journal at a moment (after a crash, or at the end)."""

    status: base.Status
    attempt: int
    root_id: str
    parent_id: str | None
    entries: list[base.EntryRecord]
    attempts: list[base.AttemptRecord]
    timers: list[base.TimerRecord]
    history: list[durable.HistoryEntry]
    effects: dict[str, int]
    # the journals of the run's descendants (child workflows), entry by entry
    family: list[durable.HistoryEntry] = field(default_factory=list)

    def journaled(self) -> dict[str, str]:
        """Labels of the steps and transactions with an entry (in the run's journal or a
        descendant's), and the entry's status."""
        found = {}
        for entry in [*self.history, *self.family]:
            if entry.kind not in ("step", "transaction"):
                continue
            if entry.status == "ok":
                found[str(entry.output)] = "ok"
            elif entry.error is not None:
                found[entry.error.split(": ", 1)[1].split(" ")[0]] = "error"
        return found


@dataclass
class Trace:
    """Everything one execution of a program did."""

    outcome: tuple[Any, ...]
    output: Any
    crashes: int
    points: int  # body points reached in the last incarnation
    snapshots: list[Snapshot]  # one after each crash, then the final one
    events: list[programs.Event] = field(default_factory=list)

    def starts(self, label: str) -> dict[int, int]:
        """How many times the body of `label` started, per incarnation."""
        counts: dict[int, int] = {}
        for event in self.events:
            if event.what == "start" and event.label == label:
                counts[event.incarnation] = counts.get(event.incarnation, 0) + 1
        return counts


class Backend:
    """Where a run's journal lives: a fresh database per `execute`."""

    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        self.url = url

    def prepare(self) -> None:
        with contextlib.closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as conn:
            conn.execute(programs.EFFECTS_TABLE)
            conn.commit()

    def effects(self, run_id: str) -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute(
                "SELECT label, count(*) FROM prop_effects WHERE run_id = ? GROUP BY label",
                (run_id,),
            ).fetchall()
        return {label: count for label, count in rows}


@contextlib.contextmanager
def sqlite_backend(folder: str, name: str = "journal.db") -> Iterator[Backend]:
    backend = Backend(f"sqlite:///{folder}/{name}")
    backend.prepare()
    yield backend


class PostgresBackend(Backend):
    """A database cloned from the test template (``CREATE DATABASE ... TEMPLATE``)."""

    dialect = "postgres"

    def prepare(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(programs.EFFECTS_TABLE)

    def effects(self, run_id: str) -> dict[str, int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT label, count(*) FROM prop_effects WHERE run_id = %s GROUP BY label",
                (run_id,),
            ).fetchall()
        return {label: count for label, count in rows}


@contextlib.contextmanager
def postgres_backend(cluster_url: str) -> Iterator[Backend]:
    """A fresh database on the test cluster, dropped afterwards."""
    name = f"durable_prop_{uuid.uuid4().hex[:12]}"
    ident = sql.Identifier(name)
    with psycopg.connect(cluster_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, sql.Identifier(TEMPLATE))
        )
    parts = urllib.parse.urlsplit(cluster_url)
    backend = PostgresBackend(urllib.parse.urlunsplit(parts._replace(path=f"/{name}")))
    try:
        backend.prepare()
        yield backend
    finally:
        with psycopg.connect(cluster_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


async def _snapshot(backend: Backend, run_id: str) -> Snapshot:
    inspector = durable.Engine(backend.url, poll_interval=0, execute=False)
    await inspector.open()
    try:
        load = await inspector.journal.load(run_id)
        assert load is not None, f"run {run_id} vanished from the journal"
        history = await inspector.history(run_id)
        family = []
        for member in await inspector.journal.list_runs(root_id=run_id, limit=10_000):
            if member.id != run_id:
                assert member.root_id == run_id and member.parent_id is not None
                family.extend(await inspector.history(member.id))
    finally:
        await inspector.close()
    return Snapshot(
        status=load.run.status,
        attempt=load.run.attempt,
        root_id=load.run.root_id,
        parent_id=load.run.parent_id,
        entries=sorted(load.entries, key=lambda e: e.seq),
        attempts=list(load.attempts),
        timers=list(load.timers),
        history=history,
        effects=backend.effects(run_id),
        family=family,
    )


async def _outcome(engine: durable.Engine, run_id: str) -> tuple[tuple[Any, ...], Any]:
    try:
        value = await engine.get(run_id).result(timeout=TIMEOUT)
    except durable.WorkflowFailed as failure:
        cause = failure.__cause__
        return ("error", type(cause).__name__, str(cause)), None
    except durable.Cancelled:
        return ("cancelled",), None
    return ("ok", programs.normalize(value)), value


async def _until_crash_or_end(
    engine: durable.Engine, run_id: str, crashed: asyncio.Event
) -> tuple[tuple[Any, ...], Any] | None:
    """The run's outcome, or None if the engine crashed first."""
    result = asyncio.ensure_future(_outcome(engine, run_id))
    crash = asyncio.ensure_future(crashed.wait())
    await asyncio.wait({result, crash}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if crashed.is_set():
        result.cancel()
        await asyncio.gather(result, crash, return_exceptions=True)
        return None
    crash.cancel()
    await asyncio.gather(crash, return_exceptions=True)
    if not result.done():
        result.cancel()
        raise AssertionError(f"run {run_id} neither finished nor crashed in {TIMEOUT}s")
    return result.result()


def _crash_action(engine: durable.Engine, crashed: asyncio.Event, doomed: list[Any]) -> Any:
    def action() -> None:
        doomed.extend(engine.scheduler.tasks())
        testing.crash(engine)
        crashed.set()

    return action


async def execute(
    backend: Backend, program: programs.Chain, run_id: str, crash_points: list[int]
) -> Trace:
    """Run `program` to its end, crashing at `crash_points` (one per incarnation)."""
    programs.LOG.pop(run_id, None)
    asyncio.get_running_loop().set_exception_handler(_loop_error)
    snapshots: list[Snapshot] = []
    text = programs.encode(program)
    crashes = 0
    try:
        for incarnation in range(len(crash_points) + 1):
            programs.CRASHER.incarnation = incarnation
            engine = durable.Engine(backend.url, poll_interval=0)
            crashed, doomed = asyncio.Event(), []
            at = crash_points[incarnation] if incarnation < len(crash_points) else 0
            programs.CRASHER.arm(at, _crash_action(engine, crashed, doomed))
            await engine.open()  # resumes the run after a crash
            if incarnation == 0:
                await engine.start(programs.interpret, text, backend.dialect, workflow_id=run_id)
            done = await _until_crash_or_end(engine, run_id, crashed)
            if done is not None:
                points = programs.CRASHER.count
                await engine.close()
                break
            crashes += 1
            # the abandoned tasks unwind (a transaction rolls back) before anyone looks
            await asyncio.wait(doomed, timeout=10) if doomed else None
            snapshots.append(await _snapshot(backend, run_id))
        else:  # pragma: no cover - the last incarnation is never armed
            raise AssertionError("the last incarnation crashed")
    finally:
        programs.CRASHER.arm(0, None)
    snapshots.append(await _snapshot(backend, run_id))
    STATS["programs"] += 1
    STATS["crashes"] += crashes
    outcome, output = done
    return Trace(outcome, output, crashes, points, snapshots, programs.LOG.pop(run_id, []))
