"""Real `durable worker` processes for the fault tests, optionally started under a tool
that bends their world (``faketime`` for the clock, ``fiu-run`` for failing system calls),
and the step bodies they ran, read back from the effects file of `tests.e2e.worker_jobs`
(one line per body: run id, step index, pid)."""

from __future__ import annotations

import collections
import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.harness import ROOT

DURABLE = shutil.which("durable")


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def spawn(
    db_url: str,
    effects: Path,
    *extra: str,
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Worker:
    """``[prefix...] durable --db URL worker tests.e2e.worker_jobs [extra...]``; its stderr
    goes to a log file beside `effects`."""
    assert DURABLE is not None, "the `durable` command is not installed (pip install -e .)"
    log = effects.with_name(f"worker-{time.monotonic_ns()}.log")
    environment = {
        **os.environ,
        "DURABLE_TEST_EFFECTS": str(effects),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    command = [*prefix, DURABLE, "--db", db_url, "worker", "tests.e2e.worker_jobs", *extra]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
        )
    return Worker(process, log)


def stop(workers: list[Worker]) -> list[int]:
    """SIGTERM every worker that still runs (SIGCONT first, in case it is paused); their
    exit codes."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(18)  # SIGCONT: a stopped process cannot take SIGTERM
            worker.process.terminate()
    return [worker.process.wait(timeout=60) for worker in workers]


def bodies(effects: Path) -> list[tuple[str, int, int]]:
    """Every step body run: (run id, step index, pid), in the order they started."""
    if not effects.exists():
        return []
    rows = [line.split() for line in effects.read_text().splitlines() if line.strip()]
    return [(run_id, int(index), int(pid)) for run_id, index, pid in rows]


def reruns(effects: Path) -> int:
    """How many step bodies ran more than once (beyond their first run)."""
    counts = collections.Counter((run_id, index) for run_id, index, _ in bodies(effects))
    return sum(count - 1 for count in counts.values())


def require(tool: str, package: str) -> str:
    """The path of command-line `tool`; skipped without it, failed under CI=true."""
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing: apt-get install -y {package} (.ci/run does)")
        pytest.skip(f"{tool} is not installed (apt-get install -y {package})")
    return found


def faketime_env(offset: str) -> dict[str, str]:
    """The environment that runs a process with its wall clock moved by `offset` (libfaketime,
    preloaded directly: the ``faketime`` command would run the program as its child, so the
    pid a test signals and the pid that runs steps would differ).  The monotonic clock is
    left alone, as a wrong wall clock leaves it."""
    require("faketime", "faketime")
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    assert found, "libfaketimeMT.so.1 not found beside the faketime command"
    return {
        "LD_PRELOAD": found[0],
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
