"""A real Postgres failover under two `durable worker` processes (issues 14 and 23).

A primary and a streaming standby are started from the machine's binaries; the workers
and a client use the multi-host URL (``...?target_session_attrs=read-write``).  Mid-way
through the runs the primary is SIGKILLed (all its processes, as a crashed machine) and
the standby promoted.  With asynchronous replication the primary's WAL sender is paused
first, so the standby really lacks commits the primary acknowledged: steps, claims, run
ends.  Before the fence of issue 23 the engines went on appending from what they
remembered and journals got holes (then `NonDeterminismError` at replay); now every
run finishes SUCCEEDED with the right output and contiguous seqs, and only lost steps
(and those in flight) run again.  With synchronous replication nothing acknowledged is
lost: no step beyond those in flight runs again.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

import durable
from tests.e2e.test_workers import DURABLE, ROOT
from tests.faults import failover_jobs
from tests.faults.replication import Pair, bin_dir_or_skip
from tests.waiting import wait_until

RUNS = 200
STEPS = 20
SLOTS = 10  # per worker: at most this many steps of a worker are in flight at once
DELAY = 0.01

ENTRIES = "SELECT count(*) FROM durable.entries"
ENDED = "SELECT count(*) FROM durable.runs WHERE status = 'SUCCEEDED'"

pytestmark = pytest.mark.slow


def _spawn(url: str, effects: Path) -> subprocess.Popen[bytes]:
    assert DURABLE is not None, "the `durable` command is not installed (pip install -e .)"
    log = effects.with_name(f"worker-{time.monotonic_ns()}.log")
    env = {**os.environ, "DURABLE_TEST_EFFECTS": str(effects), "PYTHONPATH": str(ROOT)}
    command = [DURABLE, "--db", url, "worker", "tests.faults.failover_jobs"]
    options = ["--concurrency", str(SLOTS), "--poll", "0.2", "--lease", "15"]
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [*command, *options], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
        )


def _bodies(path: Path) -> collections.Counter[tuple[str, int]]:
    if not path.exists():
        return collections.Counter()
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return collections.Counter((run_id, int(index)) for run_id, index, _ in rows)


async def _count(pair: Pair, which: str, query: str) -> int:
    cluster = pair.primary if which == "primary" else pair.standby
    return await asyncio.to_thread(pair.count, cluster, query)


async def _all_succeeded(url: str) -> bool:
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cur = await conn.execute("SELECT count(*) FROM durable.runs WHERE status = 'SUCCEEDED'")
            row = await cur.fetchone()
    except psycopg.OperationalError:
        return False  # the standby is not promoted yet
    return bool(row and row[0] == RUNS)


async def _journals(url: str) -> dict[str, list[int]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT run_id, array_agg(seq ORDER BY seq) FROM durable.entries GROUP BY run_id"
        )
        return {run_id: list(seqs) for run_id, seqs in await cur.fetchall()}


async def _fail_over(pair: Pair, tmp_path: Path) -> dict[str, Any]:
    """Run everything across one failover; returns the figures the tests look at."""
    await asyncio.to_thread(pair.start)
    await wait_until(lambda: asyncio.to_thread(pair.streaming), what="the standby to stream")
    url = pair.url()
    effects = tmp_path / "effects.txt"
    ids = [f"r{i:03d}" for i in range(RUNS)]
    figures: dict[str, Any] = {}
    async with durable.Engine(url, execute=False, poll_interval=0) as client:
        for run_id in ids:
            await client.start(failover_jobs.steps, STEPS, DELAY, workflow_id=run_id)
        # the runs' creations are on the standby: what is lost is the workers' doing
        await wait_until(lambda: asyncio.to_thread(pair.caught_up), what="the standby to catch up")
        workers = [_spawn(url, effects) for _ in range(2)]
        try:
            await wait_until(
                lambda: sum(_bodies(effects).values()) >= RUNS * STEPS * 0.3,
                what="the workers to be under way (30% of the steps)",
                timeout=60,
            )
            if not pair.synchronous:
                pair.pause_sender()
                paused = await _count(pair, "primary", ENTRIES)
                await wait_until(
                    lambda: _more(pair, paused + 100),
                    what="100 entries committed on the primary since its WAL sender paused",
                )
            # the workers are held still a moment, so the primary's count is exactly what
            # it acknowledged (their steps in flight stay in flight)
            for worker in workers:
                worker.send_signal(signal.SIGSTOP)
            await asyncio.sleep(0.2)  # let commits already sent land
            figures["acknowledged"] = await _count(pair, "primary", ENTRIES)
            figures["ended"] = await _count(pair, "primary", ENDED)
            pair.kill_primary()
            for worker in workers:
                worker.send_signal(signal.SIGCONT)
            await wait_until(
                lambda: asyncio.to_thread(pair.standby_replayed),
                what="the standby to replay what it received",
            )
            figures["on_standby"] = await _count(pair, "standby", ENTRIES)
            figures["ended_on_standby"] = await _count(pair, "standby", ENDED)
            await asyncio.to_thread(pair.promote)
            await wait_until(lambda: _all_succeeded(url), what="every run to succeed", timeout=90)
            figures["exited"] = [worker.poll() for worker in workers]
            figures["results"] = {r: await client.get(r).result(timeout=10) for r in ids}
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            figures["codes"] = [worker.wait(timeout=60) for worker in workers]
    figures["journals"] = await _journals(url)
    figures["bodies"] = _bodies(effects)
    figures["logs"] = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
    return figures


async def _more(pair: Pair, at_least: int) -> bool:
    return await _count(pair, "primary", ENTRIES) >= at_least


def _check(figures: dict[str, Any]) -> int:
    """The guarantees of both levels; returns how many step bodies ran again."""
    ids = [f"r{i:03d}" for i in range(RUNS)]
    assert figures["exited"] == [None, None]  # the workers never gave up
    assert figures["codes"] == [0, 0]
    assert figures["results"] == dict.fromkeys(ids, sum(range(STEPS)))
    holes = {r: s for r, s in figures["journals"].items() if s != list(range(STEPS))}
    assert holes == {}, f"journals with holes or missing entries: {holes}"
    assert "NonDeterminismError" not in figures["logs"]
    assert "diverged" not in figures["logs"]
    bodies = figures["bodies"]
    assert set(bodies) == {(r, step) for r in ids for step in range(STEPS)}
    return int(sum(count - 1 for count in bodies.values()))


def _report(level: str, figures: dict[str, Any]) -> int:
    """Print what the failover lost and ran again (``pytest -s``); returns the entries lost."""
    lost = int(figures["acknowledged"] - figures["on_standby"])
    ends = figures["ended"] - figures["ended_on_standby"]
    rerun = sum(count - 1 for count in figures["bodies"].values())
    print(
        f"\n{level} failover: {lost} of {figures['acknowledged']} acknowledged entries and "
        f"{ends} run ends lost; {rerun} of {RUNS * STEPS} step bodies ran again"
    )
    return lost


async def test_an_asynchronous_failover_reruns_lost_steps_and_never_writes_a_hole(
    tmp_path: Path,
) -> None:
    pair = Pair(bin_dir_or_skip(), synchronous=False)
    try:
        figures = await _fail_over(pair, tmp_path)
    finally:
        await asyncio.to_thread(pair.remove)
    rerun, lost = _check(figures), _report("asynchronous", figures)
    assert lost > 0, "the standby did not lag: the test lost nothing"
    # what ran again: the steps whose entries were lost, and those in flight
    assert rerun <= lost + 2 * SLOTS, f"{rerun} step bodies ran again, {lost} entries were lost"


async def test_a_synchronous_failover_reruns_no_step_beyond_those_in_flight(
    tmp_path: Path,
) -> None:
    pair = Pair(bin_dir_or_skip(), synchronous=True)
    try:
        figures = await _fail_over(pair, tmp_path)
    finally:
        await asyncio.to_thread(pair.remove)
    rerun, lost = _check(figures), _report("synchronous", figures)
    assert lost == 0
    assert rerun <= 2 * SLOTS, f"{rerun} step bodies ran again after a synchronous failover"


async def test_after_a_failover_a_free_liveness_lock_proves_nothing_for_a_while() -> None:
    """A promoted standby has been up since it started streaming, long before the
    failover: an engine must not read its uptime as "just restarted"."""
    from durable.journal import open_journal
    from durable.journal.postgres import owners

    pair = Pair(bin_dir_or_skip(), synchronous=False)
    try:
        await asyncio.to_thread(pair.start)
        await wait_until(lambda: asyncio.to_thread(pair.streaming), what="the standby to stream")
        live, other = open_journal(pair.url()), open_journal(pair.url())
        await live.open()
        await other.open()
        try:
            await live.register_owner("host-a/boot/1/1/engine-a")
            await other.register_owner("host-b/boot/2/2/engine-b")
            uptime = "SELECT extract(epoch FROM now() - pg_postmaster_start_time())"
            await wait_until(
                lambda: _uptime_above(pair, uptime, owners.RESTART_GRACE + 1),
                what="the standby to be up longer than the restart grace",
                timeout=owners.RESTART_GRACE + 30,
            )
            pair.kill_primary()
            await asyncio.to_thread(pair.promote)
            # nobody holds this one's lock, but engines are still reconnecting
            assert await other.owner_alive("host-c/boot/3/3/still-reconnecting")
            assert await other.owner_alive("host-a/boot/1/1/engine-a")
        finally:
            await live.close()
            await other.close()
    finally:
        await asyncio.to_thread(pair.remove)


async def _uptime_above(pair: Pair, query: str, seconds: float) -> bool:
    dsn = f"postgresql://postgres@127.0.0.1:{pair.standby.port}/postgres"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(query)
        row = await cur.fetchone()
    return bool(row and float(row[0]) > seconds)
