"""A paused holder: a worker holding runs is stopped with SIGSTOP, another worker takes
its runs over once their leases have run out (and gone unrenewed for a lease), then the
first is let go on with SIGCONT.  It must not write into the runs it lost: only the step
bodies it had in flight run again, every run finishes, none is left stuck, and both
workers live on."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import durable
from tests.e2e import worker_jobs
from tests.faults import processes
from tests.waiting import wait_until

RUNS = 10
SLOTS = RUNS  # the paused worker holds every run: at most this many bodies in flight


async def _owners(client: durable.Engine, ids: list[str]) -> set[str | None]:
    return {(await client.get(run_id).info()).owner for run_id in ids}


@pytest.mark.slow
async def test_a_paused_holder_loses_its_runs_and_writes_nothing_into_them(
    db_url: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    options = ("--concurrency", str(SLOTS), "--lease", "2", "--poll", "0.2")
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        ids = [f"paused{i:02d}" for i in range(RUNS)]
        for run_id in ids:
            await client.start(worker_jobs.ten, 0.3, workflow_id=run_id)
        paused = processes.spawn(db_url, effects, *options)
        workers = [paused]
        try:
            await wait_until(
                lambda: {run for run, _, _ in processes.bodies(effects)} == set(ids),
                what="the first worker to hold every run",
                timeout=60,
            )
            paused.process.send_signal(signal.SIGSTOP)
            held = await _owners(client, ids)
            assert len(held) == 1 and None not in held, held
            taker = processes.spawn(db_url, effects, *options)
            workers.append(taker)
            await wait_until(
                lambda: _owners_other_than(client, ids, held),
                what="the second worker to take every run of the paused one",
                timeout=60,
            )
            by_paused_at_cont = _ran_by(effects, paused.pid)
            paused.process.send_signal(signal.SIGCONT)
            results = {run_id: await client.get(run_id).result(timeout=120) for run_id in ids}
            statuses = {await client.get(run_id).status() for run_id in ids}
        finally:
            codes = processes.stop(workers)
    assert results == {run_id: 45 for run_id in ids}
    assert statuses == {durable.Status.SUCCEEDED}
    assert codes == [0, 0], [worker.text()[-2000:] for worker in workers]
    # once let go on, the paused worker started no step body of the runs it lost
    assert _ran_by(effects, paused.pid) == by_paused_at_cont
    # only the bodies it had in flight when it stopped ran again (each run has one step
    # running at a time)
    assert processes.reruns(effects) <= SLOTS
    assert len({(run, step) for run, step, _ in processes.bodies(effects)}) == RUNS * 10
    for worker in workers:
        assert "Traceback" not in worker.text(), worker.text()[-3000:]


async def _owners_other_than(client: durable.Engine, ids: list[str], held: set[str | None]) -> bool:
    return not await _owners(client, ids) & held


def _ran_by(effects: Path, pid: int) -> list[tuple[str, int]]:
    return [(run, step) for run, step, ran in processes.bodies(effects) if ran == pid]
