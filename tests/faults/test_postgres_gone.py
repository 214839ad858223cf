"""A worker told to stop (SIGTERM) while its Postgres database is gone stops soon after
its ``--grace`` for running steps: its last writes retry for `durable.engine.CLOSE_GRACE`
seconds, then fail as after a crash, instead of waiting out the 60 s outage limit once
per write (a worker holding runs took minutes)."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import durable
from durable.engine import CLOSE_GRACE
from durable.journal.postgres.connection import OUTAGE_LIMIT
from tests.e2e import worker_jobs
from tests.e2e.test_workers import _effects, _spawn
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(180)

GRACE = 2.0  # the worker's --grace: how long it lets its running steps finish
BOUND = GRACE + CLOSE_GRACE + 10  # and then the close; far below one OUTAGE_LIMIT


async def test_a_stop_does_not_wait_out_a_lost_database(
    postgres_url: str, postgres_admin_url: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    async with durable.Engine(postgres_url, execute=False, poll_interval=0) as client:
        for i in range(4):
            await client.start(worker_jobs.ten, 0.5, workflow_id=f"gone-{i}")
    worker = _spawn(postgres_url, effects, "--grace", str(GRACE))
    try:
        await wait_until(
            lambda: sum(_effects(effects).values()) >= 4,
            what="the worker's runs to be under way",
            timeout=60,
        )
        name = urllib.parse.urlsplit(postgres_url).path.lstrip("/")
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        time.sleep(1)  # its steps finish and their writes find no database
        began = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the worker did not stop within {BOUND:.0f}s of SIGTERM with its database "
                f"gone (--grace {GRACE}, close grace {CLOSE_GRACE}s, outage limit "
                f"{OUTAGE_LIMIT:.0f}s)"
            )
        stopped = time.monotonic() - began
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    log = next(tmp_path.glob("worker-*.log")).read_text()
    assert "stopped after" in log, log[-2000:]  # a clean stop, not a crash
    assert stopped < BOUND < OUTAGE_LIMIT
