"""Running a generated program on a real journal, crashing it, and recording what happened.

`execute` starts the interpreter on a fresh database, crashes the engine in-process
(`durable.testing.crash`, as a SIGKILL would leave it) when the armed body point is
reached, snapshots the journal through an inspect-only engine, opens a fresh engine on
the same database (which resumes the run), and repeats for each crash point; it returns
a `Trace` of everything the properties look at.  `run` runs it as `asyncio.run` would,
and fails on what it leaves behind in the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import sys
import urllib.parse
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import sql

import durable
from durable import testing
from durable.journal import base
from property_tests import effects, programs
from property_tests.stats import STATS
from tests.postgres import TEMPLATE

TIMEOUT = 20.0
T = TypeVar("T")

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
    events: list[effects.Event] = field(default_factory=list)

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
            conn.execute(effects.EFFECTS_TABLE)
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
            conn.execute(effects.EFFECTS_TABLE)

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
        history = []  # every generation's (continue_as_new), oldest first
        for past in await inspector.generations(run_id):
            history.extend(await inspector.history(run_id, generation=past.generation))
        history.extend(await inspector.history(run_id))
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


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, except that what a run leaves behind fails the test, named, with
    the example that left it: tasks that ignore their cancellation (instead of hanging
    the test while the loop closes) and objects whose finalizer raised, such as a
    coroutine never awaited (a SIGKILLed process leaves nothing at all)."""
    unraisable: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(f"{info.exc_value} ({info.object!r})")
    # the collection at the end then looks only at what the run made: a full one, over
    # everything hypothesis holds, would cost more than most runs
    gc.freeze()
    loop = asyncio.new_event_loop()
    try:
        try:
            result = loop.run_until_complete(main)
        except BaseException as exc:
            stuck = _close(loop)
            if stuck:
                exc.add_note(f"and tasks left behind ignored their cancellation: {stuck}")
            raise
        stuck = _close(loop)
        gc.collect()
    finally:
        gc.unfreeze()
        sys.unraisablehook = previous
    assert not stuck, f"tasks left behind ignored their cancellation: {stuck}"
    assert not unraisable, f"left behind: {unraisable}"
    return result


def _close(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Cancel what is left on `loop`, wait (bounded) for it, close the loop; returns the
    tasks still pending."""

    async def leftovers() -> list[str]:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=5) if tasks else (set(), set())
        return sorted(repr(task.get_coro()) for task in pending)

    try:
        stuck = loop.run_until_complete(leftovers())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    return stuck


async def execute(
    backend: Backend, program: programs.Chain, run_id: str, crash_points: list[int]
) -> Trace:
    """Run `program` to its end, crashing at `crash_points` (one per incarnation)."""
    effects.LOG.pop(run_id, None)
    asyncio.get_running_loop().set_exception_handler(_loop_error)
    snapshots: list[Snapshot] = []
    text = programs.encode(program)
    crashes = 0
    try:
        for incarnation in range(len(crash_points) + 1):
            effects.CRASHER.incarnation = incarnation
            engine = durable.Engine(backend.url, poll_interval=0)
            crashed, doomed = asyncio.Event(), []
            at = crash_points[incarnation] if incarnation < len(crash_points) else 0
            crash = _crash_action(engine, crashed, doomed)
            effects.CRASHER.arm(at, crash)
            try:
                await engine.open()  # resumes the run after a crash
                if incarnation == 0:
                    wf = programs.interpret
                    await engine.start(wf, text, backend.dialect, workflow_id=run_id)
                done = await _until_crash_or_end(engine, run_id, crashed)
            except BaseException:
                # a run that neither finished nor crashed: stop it as a SIGKILL would, so
                # nothing is left running (and the event loop can close) behind the failure
                if not crashed.is_set():
                    crash()
                await asyncio.wait(doomed, timeout=5) if doomed else None
                raise
            if done is not None:
                points = effects.CRASHER.count
                await engine.close()
                break
            crashes += 1
            # the abandoned tasks unwind (a transaction rolls back) before anyone looks
            await asyncio.wait(doomed, timeout=10) if doomed else None
            snapshots.append(await _snapshot(backend, run_id))
        else:  # pragma: no cover - the last incarnation is never armed
            raise AssertionError("the last incarnation crashed")
    finally:
        effects.CRASHER.arm(0, None)
    snapshots.append(await _snapshot(backend, run_id))
    STATS["programs"] += 1
    STATS["crashes"] += crashes
    outcome, output = done
    return Trace(outcome, output, crashes, points, snapshots, effects.LOG.pop(run_id, []))
