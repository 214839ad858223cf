"""I/O errors under a running SQLite worker: every ``pwrite()`` the worker makes fails
with EIO, or with EROFS, for two seconds, then works again.

What is injected and how: libfiu's POSIX preload (Debian ``fiu-utils``, run as
``fiu-run -x``) wraps the C library's ``pwrite``/``pwrite64`` in the worker process, and
``fiu-ctrl`` switches the failure on and off in the running process; SQLite writes its
database and WAL with ``pwrite``, so its commits fail as on a failing disk.

What is *not* injected: a real device error (that needs device-mapper's ``error``
target, which this machine lacks), and a real read-only remount under the worker
(Linux refuses ``mount -o remount,ro`` with "mount point is busy" while SQLite holds the
file open for writing; a journal already read-only at open is tested in
``test_read_only.py``).  The Postgres side is not injected here either: its writes are the
server's, and a server down or restarting is ``test_postgres_restart.py``'s.

Each run stopped by the error is released and finished once writes work again: every run
finishes, at most the step bodies in flight run again, none is stuck, the worker lives
on, and its log names each stopped run with SQLite's error and what to do.
"""

from __future__ import annotations

import errno
import re
import subprocess
from pathlib import Path

import pytest

import durable
from tests.e2e import worker_jobs
from tests.faults import processes
from tests.waiting import wait_until

RUNS = 8
SLOTS = RUNS  # one worker holds every run: at most one body of each in flight


def _control(fiu_ctrl: str, fifo: Path, pid: int, command: str) -> None:
    done = subprocess.run(
        [fiu_ctrl, "-f", str(fifo), "-c", command, str(pid)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and not done.stdout.strip(), (done.stdout, done.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("error", ["EIO", "EROFS"])
async def test_failing_writes_stop_runs_that_finish_once_writes_work(
    sqlite_url: str, tmp_path: Path, error: str
) -> None:
    fiu_run = processes.require("fiu-run", "fiu-utils")
    fiu_ctrl = processes.require("fiu-ctrl", "fiu-utils")
    effects, fifo = tmp_path / "effects.txt", tmp_path / "fiu"
    async with durable.Engine(sqlite_url, execute=False, poll_interval=0) as client:
        ids = [f"io{i:02d}" for i in range(RUNS)]
        for run_id in ids:
            await client.start(worker_jobs.ten, 0.2, workflow_id=run_id)
        worker = processes.spawn(
            sqlite_url,
            effects,
            "--concurrency",
            str(SLOTS),
            "--lease",
            "3",
            "--poll",
            "0.2",
            prefix=(fiu_run, "-x", "-f", str(fifo)),
        )
        try:
            await wait_until(
                lambda: len(processes.bodies(effects)) >= 2 * RUNS,
                what="the worker to be under way",
                timeout=60,
            )
            failing = f"name=posix/io/rw/pwrite,failinfo={getattr(errno, error)}"
            _control(fiu_ctrl, fifo, worker.pid, f"enable {failing}")
            await wait_until(
                lambda: "stopped in this process" in worker.text(),
                what="a commit to fail",
                timeout=30,
            )
            _control(fiu_ctrl, fifo, worker.pid, "disable name=posix/io/rw/pwrite")
            results = {run_id: await client.get(run_id).result(timeout=90) for run_id in ids}
            statuses = {await client.get(run_id).status() for run_id in ids}
        finally:
            (code,) = processes.stop([worker])
    log = worker.text()
    assert results == {run_id: 45 for run_id in ids}
    assert statuses == {durable.Status.SUCCEEDED}
    assert code == 0, log[-3000:]
    # each error names the run whose write it was, with SQLite's words and what to do
    stopped = set(re.findall(r"could not commit a write of run '(io\d\d)': disk I/O error", log))
    assert stopped and stopped <= set(ids), log[-3000:]
    assert "Check the disk that holds the journal" in log
    assert "carried on from its journal once storage works again" in log
    assert "Traceback" not in log, log[-3000:]
    assert processes.reruns(effects) <= SLOTS
    assert len({(run, step) for run, step, _ in processes.bodies(effects)}) == RUNS * 10
