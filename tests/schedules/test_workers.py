"""Real ``durable worker`` processes firing schedules, on both backends: several workers
and one SIGKILLed mid-way give each tick exactly one run (executed once: the workflow
writes its tick in a transaction step), and a worker frozen like a sleeping laptop
(SIGSTOP, then SIGCONT) wakes to one run for the ticks it slept through, not a burst."""

from __future__ import annotations

import collections
import datetime
import os
import pathlib
import shutil
import signal
import subprocess
import time
from typing import Any

import psycopg

import durable
from durable.schedules import policy
from tests.waiting import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
DURABLE = shutil.which("durable")


def spawn(
    db_url: str, backend: str, log: pathlib.Path, hold: float = 0.0
) -> subprocess.Popen[bytes]:
    """A worker; its runs of ``sched.record_tick`` sleep `hold` seconds after recording."""
    assert DURABLE is not None, "the `durable` command is not installed (pip install -e .)"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DURABLE_TEST_DIALECT": backend}
    env["DURABLE_TEST_HOLD"] = str(hold)
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [DURABLE, "--db", db_url, "worker", "tests.schedules.jobs", "--poll", "0.2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def fired_rows(db_url: str, backend: str) -> list[tuple[str, int]]:
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return [(str(t), int(p)) for t, p in conn.execute("select tick, pid from fired")]
    with psycopg.connect(db_url) as conn:
        return [(str(t), int(p)) for t, p in conn.execute("select tick, pid from fired")]


async def prepare(db_url: str, backend: str) -> None:
    """The journal (schema first: durable refuses a database with foreign tables), then
    the table the workflow writes."""
    async with durable.Engine(db_url, execute=False):
        pass
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute("create table fired (tick text, pid integer)")
    else:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("create table fired (tick text, pid integer)")


def tick_of(run_id: str) -> float:
    return datetime.datetime.fromisoformat(run_id.partition("@")[2]).timestamp()


async def accounted(engine: durable.Engine, schedule_id: str, interval: float) -> dict[str, Any]:
    """Every tick from the schedule's creation to its cursor: run or skipped, never both,
    never neither."""
    info = await engine.schedules.get(schedule_id)
    assert info.created_at is not None and info.cursor is not None
    runs = {r.id for r in await engine.list(limit=1000) if r.id.startswith(f"{schedule_id}@")}
    skips = {s.tick.timestamp(): s.reason for s in info.skipped}
    ticks = []
    for tick in durable.Every(interval).ticks_after(info.created_at.timestamp()):
        if tick > info.cursor.timestamp():
            break
        ticks.append(tick)
    run_ticks = {tick_of(r) for r in runs}
    assert run_ticks <= set(ticks) | {info.created_at.timestamp()}, "a run off the schedule"
    for tick in ticks:
        ran, skipped = tick in run_ticks, tick in skips
        assert ran != skipped, f"tick {tick}: run {ran}, skipped {skipped}"
    return {"ticks": ticks, "runs": runs, "skips": skips}


async def test_workers_fire_each_tick_once_across_a_sigkill(db_url, backend, tmp_path) -> None:
    await prepare(db_url, backend)
    interval = 0.5
    log = tmp_path / "workers.log"
    # runs last 1 s (a durable sleep), so the killed worker holds some mid-way
    workers = [spawn(db_url, backend, log, hold=1.0) for _ in range(3)]
    try:
        async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
            await engine.schedules.create(
                "beat", "sched.record_tick", every=interval, overlap="allow_all"
            )

            async def count(n: int) -> bool:
                return len(await engine.list(name="sched.record_tick", limit=1000)) >= n

            await wait_until(lambda: count(6), what="six ticks fired", timeout=30)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            await wait_until(lambda: count(14), what="eight more ticks after the kill", timeout=30)
            for worker in workers[1:]:
                stop(worker)
            await engine.schedules.pause("beat")  # no more ticks from the worker spawned below
            result = await accounted(engine, "beat", interval)
            assert len(result["runs"]) >= 14
            # runs the killed worker held are carried on by the others
            for run_id in result["runs"]:
                if await engine.get(run_id).status() is not durable.Status.SUCCEEDED:
                    workers.append(spawn(db_url, backend, log))
                    break
            for run_id in result["runs"]:
                assert (
                    await engine.get(run_id).result(timeout=60)
                    == datetime.datetime.fromtimestamp(tick_of(run_id), datetime.UTC).isoformat()
                )
        executed = collections.Counter(tick for tick, _ in fired_rows(db_url, backend))
        assert len(executed) == len(result["runs"])
        assert set(executed.values()) == {1}, "a tick's run executed twice"
    finally:
        for worker in workers:
            stop(worker)
    assert "Traceback" not in log.read_text(errors="replace")


async def test_a_frozen_worker_wakes_to_one_run_not_a_burst(db_url, backend, tmp_path) -> None:
    await prepare(db_url, backend)
    interval = 0.5
    log = tmp_path / "worker.log"
    worker = spawn(db_url, backend, log)
    try:
        async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
            await engine.schedules.create("nap", "sched.plain", every=interval, args=["z"])

            async def fired() -> int:
                return len(await engine.list(name="sched.plain", limit=1000))

            await wait_until(lambda: fired(), what="a first tick", timeout=30)
            worker.send_signal(signal.SIGSTOP)  # the lid closes
            frozen_at = time.time()
            await wait_until(lambda: time.time() - frozen_at > 3.2, what="3 s asleep", timeout=10)
            woke_at = time.time()
            worker.send_signal(signal.SIGCONT)

            async def caught_up() -> bool:
                info = await engine.schedules.get("nap")
                return info.cursor is not None and info.cursor.timestamp() >= woke_at

            await wait_until(caught_up, what="the worker to catch up", timeout=30)
            result = await accounted(engine, "nap", interval)
        slept = [t for t in result["ticks"] if frozen_at + interval < t < woke_at]
        assert len(slept) >= 5
        ran = [t for t in slept if policy.run_id("nap", t) in result["runs"]]
        assert len(ran) <= 1, f"a burst of {len(ran)} runs after the sleep"
        assert sum(1 for t in slept if result["skips"].get(t) == "catch-up") >= len(slept) - 1
    finally:
        worker.send_signal(signal.SIGCONT)
        stop(worker)
    assert "Traceback" not in log.read_text(errors="replace")
