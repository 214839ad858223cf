"""Worker processes for the worker scenarios (see `benchmarks.peers`): started from a
command each, ready once they print ``READY``, stopped with SIGTERM.

A worker's stderr goes to a temporary file, so that a worker that dies says why
(its last line) in the peer's error rather than in a stream nobody reads.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from benchmarks import workers

__all__ = ["THROUGHPUT_SLOTS", "WorkerProcesses", "poll_until"]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 120.0  # seconds a worker may take to start (DBOS migrates a fresh database)
# how many runs one throughput worker may hold at once: the ``--concurrency`` of
# `benchmarks.workers`' throughput workers, so that every peer's worker can hold every
# run in flight
THROUGHPUT_SLOTS = workers.WORKER_SLOTS


class WorkerProcesses:
    """Worker processes of one measurement, each ``python -m MODULE ARGS``."""

    def __init__(self) -> None:
        self.procs: list[tuple[subprocess.Popen[str], IO[str]]] = []

    def start(self, module: str, *args: str) -> None:
        """Start one worker and return once it has printed ``READY``."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        stderr = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        self.procs.append((proc, stderr))
        assert proc.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            line = proc.stdout.readline() if ready else ""
            if line.strip() == "READY":
                return
            if ready and line == "":
                raise RuntimeError(f"a {module} worker exited at start: {self._why(stderr)}")
        raise RuntimeError(f"a {module} worker was not ready after {READY_TIMEOUT:.0f} s")

    def check(self) -> None:
        """Raise if a worker has died (it would otherwise leave the client waiting)."""
        for proc, stderr in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"a worker exited with status {proc.returncode}: {self._why(stderr)}"
                )

    def stop(self) -> None:
        """SIGTERM every worker, and SIGKILL one that has not ended 10 s later."""
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, stderr in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            stderr.close()
        self.procs.clear()

    @staticmethod
    def _why(stderr: IO[str]) -> str:
        stderr.seek(0)
        lines = [
            line.strip()
            for line in stderr.read().splitlines()
            if line.strip() and not line.startswith("(Background on this error")  # SQLAlchemy
        ]
        return lines[-1][:240] if lines else "no output"


async def poll_until(
    done: Callable[[], Awaitable[bool]],
    interval: float,
    workers: WorkerProcesses,
    timeout: float = 600.0,
) -> None:
    """Call `done` every `interval` seconds until it is true; fail if a worker dies."""
    deadline = time.monotonic() + timeout
    while not await done():
        workers.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done after {timeout:.0f} s")
        await asyncio.sleep(interval)
