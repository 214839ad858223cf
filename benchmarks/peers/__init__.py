"""The four peers `benchmarks.compare` measures, one module each, behind one worker.

Each peer module (`durable_peer`, `dbos_peer`, `absurd_peer` (Postgres only),
`raw_peer`) defines the same async functions, one per scenario, taking a `Job` and
returning a dict of figures:

- ``sequential``: one workflow of ``job.steps`` steps (``seconds``);
- ``concurrent``: ``job.runs`` workflows of ``job.steps`` steps started at once (``seconds``);
- ``latency``: ``job.runs`` starts one after another (``samples``: seconds from start to
  the first step body running);
- ``recovery_prepare``: ``job.runs`` runs of a 5-step workflow brought to their third
  step, then ``READY`` printed and the process left to be SIGKILLed;
- ``recovery``: a fresh process finishing those runs (``seconds``);
- ``fanout``: one workflow gathering ``job.steps`` steps (``seconds``, ``peak_mib``).

- ``worker_latency``: ``job.runs`` runs of ``job.steps`` steps started one after another
  by a client that does not execute and run by one worker process (``samples``: seconds
  from start until the client has the result);
- ``worker_throughput``: ``job.runs`` runs of ``job.steps`` steps enqueued by that client
  and drained by ``job.workers`` worker processes started (and warmed up) beforehand
  (``seconds``, from the first start to the last run's end).

The worker scenarios live in ``{durable,dbos,absurd}_workers`` (no raw side), with
`benchmarks.peers.processes` starting and stopping the worker processes.

The raw peer does the same number of single-row INSERT + COMMIT with the driver the
backend uses (``sqlite3``, ``psycopg``) and no engine: the database's own limit.

``python -m benchmarks.peers PEER SCENARIO --url URL ...`` runs one measurement in a
fresh process and prints ``RESULT <json>`` as its last line.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["CRASH_AFTER", "RECOVERY_STEPS", "Job", "Progress", "peak_growth_mib", "rss_mib"]

RECOVERY_STEPS = 5
CRASH_AFTER = 2  # steps journaled before the SIGKILL; the third never returns


@dataclass(frozen=True)
class Job:
    """One measurement: where, how big, and the durability level asked of SQLite."""

    url: str
    steps: int
    runs: int
    durability: str = "process"
    workers: int = 1  # worker processes, in the worker scenarios

    @property
    def backend(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgres"

    @property
    def sqlite_path(self) -> str:
        """The file behind a ``sqlite:////abs/path`` URL."""
        return self.url.removeprefix("sqlite:///")


class Progress:
    """Counts runs that reached the step the crash waits in; prints READY at `target`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.reached = 0
        self._lock = threading.Lock()  # DBOS may run step bodies on several threads

    def reach(self) -> None:
        with self._lock:
            self.reached += 1
            ready = self.reached == self.target
        if ready:
            sys.stdout.write("READY\n")
            sys.stdout.flush()


def rss_mib() -> float:
    """The process's resident memory now."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_growth_mib(before: float) -> float:
    """How far the process's peak resident memory rose above `before` (MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return max(0.0, peak - before)


def elapsed(started: float) -> float:
    return time.perf_counter() - started
