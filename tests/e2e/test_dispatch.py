"""Push dispatch through the real `durable worker` command: work started in another
process is picked up at once (the workers' poll is 30 s, so only a push can pass), a
freed slot takes the next run at once, and workers claiming together keep priorities
and never share a run."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import durable
from tests.e2e import worker_jobs
from tests.e2e.test_workers import _effects, _spawn

SLOW_POLL = "30"  # longer than any wait below: a test that passes was pushed its work


def _spans(path: Path, prefix: str) -> list[tuple[float, float]]:
    """(start, end) of the timed steps of the runs whose ids start with `prefix`."""
    rows = [line.split() for line in path.read_text().splitlines()]
    return sorted((float(r[1]), float(r[2])) for r in rows if r[0].startswith(prefix))


def _stop(workers: list) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=30)


async def test_runs_started_elsewhere_are_picked_up_without_the_poll(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        worker = _spawn(db_url, effects, poll=SLOW_POLL)
        try:
            # taken when the worker opens; once it is done, the worker is listening
            assert await client.run(worker_jobs.ten, 0.0, workflow_id="warm") == 45
            for index in range(5):  # one at a time: each is announced, claimed, run
                run = await client.start(worker_jobs.ten, 0.0, workflow_id=f"pushed-{index}")
                assert await run.result(timeout=10) == 45
        finally:
            _stop([worker])


async def test_a_freed_slot_takes_the_next_run_at_once(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        worker = _spawn(db_url, effects, "--concurrency", "1", poll=SLOW_POLL)
        try:
            assert await client.run(worker_jobs.ten, 0.0, workflow_id="warm") == 45
            ids = [f"queued-{i}" for i in range(6)]
            for run_id in ids:  # all announced while the one slot is busy
                await client.start(worker_jobs.ranked, 0.2, workflow_id=run_id)
            for run_id in ids:
                assert await client.get(run_id).result(timeout=15) == "ok"
        finally:
            _stop([worker])
    spans = _spans(effects, "queued-")
    assert len(spans) == 6
    # one slot: the runs ran one after another, never two at once
    assert all(end <= spans[i + 1][0] + 0.01 for i, (_, end) in enumerate(spans[:-1]))


async def test_three_workers_claiming_at_once_keep_priorities(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        priorities = [5, 11, 0, 8, 2, 9, 3, 10, 1, 7, 4, 6]
        for priority in priorities:
            await client.start(
                worker_jobs.ranked, 0.3, workflow_id=f"p{priority}", priority=priority
            )
        workers = [_spawn(db_url, effects, "--concurrency", "1", poll=SLOW_POLL) for _ in range(3)]
        try:
            for priority in priorities:
                assert await client.get(f"p{priority}").result(timeout=60) == "ok"
        finally:
            _stop(workers)
    started = {}
    for line in effects.read_text().splitlines():
        run_id, begin, _ = line.split()
        started[int(run_id[1:])] = float(begin)
    assert sorted(started) == sorted(priorities)
    top, bottom = [started[p] for p in (11, 10, 9)], [started[p] for p in range(6)]
    assert max(top) < min(bottom), started  # the three highest went before the lower half


async def test_workers_claiming_together_never_share_a_run(db_url, tmp_path) -> None:
    effects = tmp_path / "effects.txt"
    runs = 300
    async with durable.Engine(db_url, execute=False, poll_interval=0) as client:
        workers = [_spawn(db_url, effects, "--concurrency", "20", poll=SLOW_POLL) for _ in range(3)]
        try:
            assert (
                await client.run(
                    worker_jobs.ten,
                    0.0,
                    workflow_id="warm",
                )
                == 45
            )
            ids = [f"shared-{i}" for i in range(runs)]
            for run_id in ids:
                await client.start(worker_jobs.ten, 0.005, workflow_id=run_id)
            deadline = time.monotonic() + 90
            results = {}
            for run_id in ids:
                left = max(1.0, deadline - time.monotonic())
                results[run_id] = await client.get(run_id).result(timeout=left)
        finally:
            _stop(workers)
    assert results == {run_id: 45 for run_id in ids}
    counted = _effects(effects)
    assert all(counted[(run_id, step)] == 1 for run_id in ids for step in range(10))
    pids: dict[str, set[str]] = {}
    for line in Path(effects).read_text().splitlines():
        run_id, _, pid = line.split()
        pids.setdefault(run_id, set()).add(pid)
    assert all(len(pids[run_id]) == 1 for run_id in ids)  # one owner executed each run
    assert len({next(iter(pids[run_id])) for run_id in ids}) >= 2  # the work was shared
