"""A Postgres restart under two real `durable worker` processes (issue 14, item 1).

Every session ends with the server, the living workers' liveness locks too.  Before, a
worker that looked at another's runs right after the restart found its lock free, took
them over, and the two kept taking runs from each other: hundreds of steps that were not
in flight ran again.  Now the lock is taken again at once, and "free" is not trusted
while the server has just started.
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path
from typing import Any

import pytest

import durable
from durable.journal import open_journal
from tests.e2e import worker_jobs
from tests.e2e.test_workers import _spawn
from tests.waiting import wait_until

RUNS = 120
SLOTS = 10  # per worker: at most this many steps of a worker are in flight at once


def _bodies(path: Path) -> collections.Counter[tuple[str, int]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return collections.Counter((run_id, int(index)) for run_id, index, _ in rows)


async def test_a_restart_reruns_no_step_beyond_those_in_flight(
    postgres_server: Any, postgres_url: str, tmp_path: Path
) -> None:
    if postgres_server is None:
        pytest.skip("the server is not ours to restart (DURABLE_TEST_POSTGRES_URL)")
    effects = tmp_path / "effects.txt"
    async with durable.Engine(postgres_url, execute=False, poll_interval=0) as client:
        ids = [f"r{i:03d}" for i in range(RUNS)]
        for run_id in ids:
            await client.start(worker_jobs.ten, 0.05, workflow_id=run_id)
        workers = [
            _spawn(postgres_url, effects, "--concurrency", str(SLOTS), poll="0.2") for _ in range(2)
        ]
        try:
            await wait_until(
                lambda: effects.exists() and sum(_bodies(effects).values()) >= RUNS * 2,
                what="the workers to be under way (two steps a run on average)",
                timeout=60,
            )
            await postgres_server.restart_async("immediate")
            results = {}
            for run_id in ids:
                results[run_id] = await client.get(run_id).result(timeout=120)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                assert worker.wait(timeout=60) == 0  # the workers never gave up
    assert results == {run_id: 45 for run_id in ids}
    bodies = _bodies(effects)
    assert set(bodies) == {(run_id, step) for run_id in ids for step in range(10)}
    rerun = sum(count - 1 for count in bodies.values())
    # a crash loses the writes in flight: each worker had at most SLOTS steps running
    assert rerun <= 2 * SLOTS, f"{rerun} step bodies ran again after one restart"


async def _lock_held(url: str, owner: str) -> bool:
    import psycopg

    from durable.journal.postgres import owners

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s::oid AND objid = %s::oid AND objsubid = 2",
            (owners._NAMESPACE, owners.lock_key(owner) & 0xFFFFFFFF),
        )
        row = await cur.fetchone()
    return bool(row and row[0])


async def test_an_engine_takes_its_liveness_lock_again_after_a_restart(
    postgres_server: Any, postgres_url: str
) -> None:
    if postgres_server is None:
        pytest.skip("the server is not ours to restart (DURABLE_TEST_POSTGRES_URL)")
    live = open_journal(postgres_url)
    other = open_journal(postgres_url)
    await live.open()
    await other.open()
    try:
        await live.register_owner("host-a/boot/1/1/engine-a")
        await other.register_owner("host-b/boot/2/2/engine-b")  # it lives through it too
        assert await _lock_held(postgres_url, "host-a/boot/1/1/engine-a")
        await postgres_server.restart_async("immediate")
        # just restarted: a free lock proves nothing yet, the holder is presumed alive
        assert await other.owner_alive("host-a/boot/1/1/engine-a")
        await wait_until(
            lambda: _lock_held(postgres_url, "host-a/boot/1/1/engine-a"),
            what="the engine to take its liveness lock again after the restart",
            timeout=15,
        )
        assert await other.owner_alive("host-a/boot/1/1/engine-a")
        # to an engine that lived through the restart, any free lock right after it is
        # presumed held by an engine still reconnecting
        assert await _server_uptime(postgres_url) < owners_grace()
        assert await other.owner_alive("host-b/boot/2/2/never-registered")
    finally:
        await live.close()
        await other.close()


async def _server_uptime(url: str) -> float:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())")
        row = await cur.fetchone()
    assert row is not None
    return float(row[0])


def owners_grace() -> float:
    from durable.journal.postgres import owners

    return owners.RESTART_GRACE
