"""Start options across real worker processes: a partition's limit holds across
processes, and a delayed start survives a SIGKILL of the worker before it is due (run
once, not lost, not doubled).  The starting process imports none of the workflows: it
starts them by name."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import durable
from tests.cli.harness import ROOT
from tests.waiting import wait_status, wait_until


def _worker(db_url: str, effects: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DURABLE_TEST_EFFECTS": str(effects), "PYTHONPATH": str(ROOT)}
    env.pop("DURABLE_DATABASE_URL", None)
    command = [sys.executable, "-m", "durable.cli", "--db", db_url, "worker"]
    command += ["tests.e2e.start_jobs", "--concurrency", "8", "--poll", "0.5"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)


def _lines(effects: Path) -> list[list[str]]:
    if not effects.exists():
        return []
    return [line.split() for line in effects.read_text().splitlines()]


async def test_partition_limit_holds_across_worker_processes(db_url: str, tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    workers = [_worker(db_url, effects) for _ in range(2)]
    try:
        async with durable.Engine(db_url, execute=False) as starter:
            runs = [
                await starter.start(  # by name: the queue is the starter's to give
                    "tests.e2e.start.tenant_job",
                    partition,
                    0.1,
                    queue="tests.e2e.start.tenants",
                    partition_key=partition,
                )
                for _ in range(5)
                for partition in ("a", "b")
            ]
            for run in runs:
                assert await run.result(timeout=60) in {"a", "b"}
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
    rows = _lines(effects)
    assert len(rows) == 10
    for partition in ("a", "b"):
        spans = sorted((float(r[2]), float(r[3])) for r in rows if r[1] == partition)
        assert len(spans) == 5
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two runs of partition {partition} overlapped"


async def test_a_delayed_start_survives_a_sigkill_before_it_is_due(
    db_url: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    first = _worker(db_url, effects)
    second: Any = None
    try:
        async with durable.Engine(db_url, execute=False) as starter:
            await starter.start("tests.e2e.start.once", workflow_id="due", delay=2.0)
            record = await starter.journal.get_run("due")
            assert record is not None and record.start_at is not None
            os.kill(first.pid, signal.SIGKILL)  # before it is due: nobody has claimed it
            first.wait(timeout=30)
            assert await starter.get("due").status() is durable.Status.PENDING
            second = _worker(db_url, effects)
            await wait_status(starter, "due", durable.Status.SUCCEEDED, timeout=60)
            done = await starter.journal.get_run("due")
            assert done is not None and done.started_at is not None
            assert done.started_at >= record.start_at and done.attempt == 1
        await wait_until(lambda: len(_lines(effects)) >= 1, what="the step body to run")
        assert [row[0] for row in _lines(effects)] == ["due"]
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
