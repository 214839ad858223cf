"""Worker processes, started with the real `durable worker` command, sharing one journal:
handed work at once, killed and replaced, claiming at once without sharing a run."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import durable
from tests.e2e import worker_jobs
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DURABLE = shutil.which("durable")  # the console script `pip install` made


def _spawn(db_url: str, effects: Path, *extra: str, poll: str = "0.2") -> subprocess.Popen[bytes]:
    assert DURABLE is not None, "the `durable` command is not installed (pip install -e .)"
    log = effects.with_name(f"worker-{time.monotonic_ns()}.log")
    env = {
        **os.environ,
        "DURABLE_TEST_EFFECTS": str(effects),
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [DURABLE, "--db", db_url, "worker", "tests.e2e.worker_jobs", "--poll", poll, *extra],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _effects(path: Path) -> collections.Counter[tuple[str, int]]:
    if not path.exists():
        return collections.Counter()
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return collections.Counter((run_id, int(index)) for run_id, index, _ in lines)


@pytest.mark.slow
async def test_workers_survive_sigkills_and_run_everything_once(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    runs = 500
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        ids = [f"job-{i}" for i in range(runs)]
        for run_id in ids:
            await client.start(worker_jobs.ten, 0.02, workflow_id=run_id)
        workers = [_spawn(db_url, effects, "--concurrency", "10") for _ in range(3)]
        rng = random.Random(7)
        kills = 0
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                done = await client.list(status="SUCCEEDED", limit=1000)
                if len(done) == runs:
                    break
                await asyncio.sleep(0.5)
                if kills < 4 and len(done) < runs * 0.8:
                    victim = workers.pop(rng.randrange(len(workers)))
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    workers.append(_spawn(db_url, effects, "--concurrency", "10"))
            results = {run_id: await client.get(run_id).result(timeout=5) for run_id in ids}
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
        assert results == {run_id: 45 for run_id in ids}
        assert kills >= 2
        counted = _effects(effects)
        for run_id in ids:
            history = await client.history(run_id)
            assert [h.seq for h in history] == list(range(10))
            for entry in history:
                # a body may run again only if the kill came before its entry was written,
                # and at most once per kill
                assert 1 <= counted[(run_id, entry.seq)] <= 1 + kills


async def test_sigterm_hands_runs_over_at_once(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        await client.start(worker_jobs.ten, 0.3, workflow_id="slow")
        first = _spawn(db_url, effects, "--grace", "5")
        await wait_until(
            lambda: _effects(effects),
            what="the worker to start a step body",
            timeout=30,
            interval=0.05,
        )
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        info = await client.get("slow").info()
        assert info.owner is None and info.status is durable.Status.RUNNING
        handed = time.monotonic()
        second = _spawn(db_url, effects)
        try:
            assert await client.get("slow").result(timeout=30) == 45
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        assert time.monotonic() - handed < 15  # no lease expiry (30 s) was waited for
        counted = _effects(effects)
        assert all(counted[("slow", index)] == 1 for index in range(10)), counted


async def test_sleeping_run_holds_no_slot(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        await client.start(worker_jobs.nap, 6.0, workflow_id="napper")
        await client.start(worker_jobs.ten, 0.0, workflow_id="busy")
        worker = _spawn(db_url, effects, "--concurrency", "1")
        try:
            # with one slot, "busy" can only run while "napper" sleeps without holding it
            assert await client.get("busy").result(timeout=20) == 45
            assert await client.get("napper").status() is durable.Status.SLEEPING
            assert await client.get("napper").result(timeout=30) == "rested"
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)


def _intervals(path: Path) -> list[tuple[float, float]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(float(start), float(end)) for _, start, end in rows]


async def test_queue_concurrency_holds_across_workers(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        ids = [f"narrow-{i}" for i in range(8)]
        for run_id in ids:
            await client.start(worker_jobs.narrow_job, 0.4, workflow_id=run_id)
        workers = [_spawn(db_url, effects, "--concurrency", "5") for _ in range(3)]
        try:
            for run_id in ids:
                assert await client.get(run_id).result(timeout=60) == "ok"
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
    spans = _intervals(effects)
    assert len(spans) == 8
    most = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert most == 2, spans  # the limit is used, and never exceeded


async def test_queue_rate_limit_holds(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        ids = [f"metered-{i}" for i in range(9)]
        for run_id in ids:
            await client.start(worker_jobs.metered_job, workflow_id=run_id)
        workers = [_spawn(db_url, effects) for _ in range(2)]
        try:
            for run_id in ids:
                assert await client.get(run_id).result(timeout=60) == "ok"
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
    begun = sorted(start for start, _ in _intervals(effects))
    # at most 3 runs start in any one-second window (a little slack for clock reads)
    for index, first in enumerate(begun):
        assert sum(1 for t in begun[index:] if t < first + 0.95) <= 3, begun
    assert len(begun) == 9
    assert begun[-1] - begun[0] >= 1.9  # 9 runs at 3 per second take at least 2 s


async def test_cancel_reaches_a_run_in_another_process(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        run = await client.start(worker_jobs.stuck, 60.0, workflow_id="stuck")
        worker = _spawn(db_url, effects)
        try:
            await wait_until(
                lambda: _effects(effects)[("stuck", 0)],
                what="the worker to start the body of step 0 of 'stuck'",
                timeout=30,
                interval=0.05,
            )
            asked = time.monotonic()
            await run.cancel()
            with pytest.raises(durable.Cancelled):
                await run.result(timeout=20)
            assert time.monotonic() - asked < 5
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        assert _effects(effects)[("stuck", -1)] == 1  # the step's body saw the cancellation
