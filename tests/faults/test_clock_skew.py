"""A worker whose clock is 45 s ahead (``faketime``, from Debian's ``faketime`` package)
next to a healthy worker: it must take none of the healthy worker's runs.

On Postgres leases are written and judged by the server's clock.  On SQLite every
engine is on one machine: a holder that is a live process of this machine is taken over
only when its lease has gone unrenewed for a whole lease period by the taker's own
monotonic clock, which no wall-clock skew or step moves (``faketime`` is told to leave
the monotonic clock alone, as a wrong wall clock does)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

import durable
from tests.e2e import worker_jobs
from tests.faults import processes
from tests.waiting import wait_until

RUNS = 12


@pytest.mark.slow
async def test_a_worker_45_s_ahead_takes_no_run_from_a_healthy_one(
    db_url: str, tmp_path: Path
) -> None:
    skewed = processes.faketime_env("+45s")
    effects = tmp_path / "effects.txt"
    options = ("--concurrency", str(RUNS), "--lease", "3", "--poll", "0.2")
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        ids = [f"skew{i:02d}" for i in range(RUNS)]
        for run_id in ids:
            await client.start(worker_jobs.ten, 0.8, workflow_id=run_id)
        healthy = processes.spawn(db_url, effects, *options)
        workers = [healthy]
        try:
            await wait_until(
                lambda: {run for run, _, _ in processes.bodies(effects)} == set(ids),
                what="the healthy worker to hold every run",
                timeout=60,
            )
            ahead = processes.spawn(
                db_url,
                effects,
                *options,
                env=skewed,
            )
            workers.append(ahead)
            await wait_until(
                lambda: "started" in ahead.text(), what="the worker ahead to be up", timeout=30
            )
            assert _clock_ahead(ahead.text()) > 40, "faketime did not move its clock"
            # it looks for runs to take over while the healthy worker still holds them all
            statuses = [await client.get(run_id).status() for run_id in ids]
            assert set(statuses) == {durable.Status.RUNNING}, statuses
            results = {run_id: await client.get(run_id).result(timeout=120) for run_id in ids}
        finally:
            codes = processes.stop(workers)
    assert results == {run_id: 45 for run_id in ids}
    assert codes == [0, 0], [worker.text()[-2000:] for worker in workers]
    ran = processes.bodies(effects)
    by_ahead = [(run, step) for run, step, pid in ran if pid == ahead.pid]
    assert by_ahead == [], f"the worker 45 s ahead took runs it had no right to: {by_ahead}"
    assert processes.reruns(effects) == 0
    assert len(ran) == RUNS * 10
    assert "Traceback" not in ahead.text() and "Traceback" not in healthy.text()


def _clock_ahead(log: str) -> float:
    """How far ahead the clock that stamped the log's "started" line is, in seconds."""
    line = next(line for line in log.splitlines() if "started" in line)
    stamped = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return (stamped - datetime.datetime.now()).total_seconds()
