"""durable side by side with DBOS Transact, Absurd (Postgres only) and the raw database,
on SQLite and Postgres.

    python -m benchmarks.compare                     # both backends, 5 rounds
    python -m benchmarks.compare --backend sqlite --rounds 3
    python -m benchmarks.compare --quick             # a tenth of the sizes, 1 round
    pip install -e '.[bench]'                        # DBOS, Absurd and matplotlib

Scenarios: sequential (1 workflow of 2,000 steps), concurrent (200 workflows of 10
steps started at once), start latency (200 starts, start to first step body), recovery
(2,000 runs of a 5-step workflow SIGKILLed after 2 steps each, finished by a fresh
process), fan-out (one workflow gathering 10,000 steps), and through worker processes:
worker latency (200 starts by a client that does not execute, start to result through
one worker) and worker throughput (500 runs of 10 steps enqueued by that client and
drained by 1, 2 and 4 workers).  Every measurement runs in a fresh process on a fresh
database (each worker count of worker throughput on its own); within a round the peers
take turns, in an order that rotates from round to round.  Prints medians and the
ratios durable/DBOS, durable/Absurd and durable/raw, and writes CSV files and (with
matplotlib) a PNG chart.
``benchmarks/README.md`` explains how to read them.

The Postgres database named by ``--pg-url`` is dropped and created again before each
measurement: point it at a database that holds nothing you want to keep.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql

from benchmarks import _compare_report as report

ROOT = Path(__file__).resolve().parent.parent
PEERS = report.PEERS
ONLY_ON = {"absurd": "postgres"}  # a peer that runs on one backend only
# peer -> (modules it needs, why it is unavailable without them), checked before any run
NEEDS = {
    "dbos": (("dbos",), "the dbos package is not installed"),
    "absurd": (("absurd_sdk", "absurdctl"), "absurd-sdk / absurdctl are not installed"),
}
SCENARIOS = (
    "sequential",
    "concurrent",
    "latency",
    "recovery",
    "fanout",
    "worker_latency",
    "worker_throughput",
)
WORKER_SCENARIOS = ("worker_latency", "worker_throughput")  # not for raw: no engine
WORKER_COUNTS = report.WORKER_COUNTS  # worker processes of worker_throughput
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/bench"


@dataclass(frozen=True)
class Size:
    """How big a scenario is: steps per workflow and workflows (runs, or starts)."""

    steps: int
    runs: int

    def scaled(self, scenario: str, factor: float) -> Size:
        """The scenario shrunk by `factor` along the dimension it is about."""
        if factor == 1:
            return self
        if scenario in ("sequential", "fanout"):
            return Size(max(1, round(self.steps * factor)), self.runs)
        return Size(self.steps, max(1, round(self.runs * factor)))


FULL = {
    "sequential": Size(steps=2000, runs=1),
    "concurrent": Size(steps=10, runs=200),
    "latency": Size(steps=1, runs=200),
    "recovery": Size(steps=5, runs=2000),
    "fanout": Size(steps=10_000, runs=1),
    "worker_latency": Size(steps=1, runs=200),
    "worker_throughput": Size(steps=10, runs=500),
}


class PeerFailed(Exception):
    """A measurement did not produce figures; the message says why, in one line."""


@dataclass
class Options:
    backends: list[str]
    rounds: int
    scale: float
    dbos_scale: float
    absurd_scale: float
    durability: str
    pg_url: str
    timeout: float
    out: Path
    scenarios: list[str]
    tmpdir: str = ""
    # (backend, peer, scenario or "*") -> why that peer is not measured there
    unavailable: dict[tuple[str, str, str], str] = field(default_factory=dict)


# -- databases --------------------------------------------------------------------------


def _maintenance(pg_url: str) -> tuple[str, str]:
    """The conninfo of the server's `postgres` database, and the benchmark database's name."""
    params = conninfo.conninfo_to_dict(pg_url)
    name = str(params.get("dbname") or "bench")
    params["dbname"] = "postgres"
    return conninfo.make_conninfo(**params), name  # type: ignore[arg-type]


def reset_postgres(pg_url: str) -> None:
    """Drop and create the benchmark database, so each measurement starts empty."""
    maintenance, name = _maintenance(pg_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def fresh_url(options: Options, backend: str, label: str) -> str:
    if backend == "postgres":
        reset_postgres(options.pg_url)
        return options.pg_url
    path = os.path.join(options.tmpdir, f"{label}.db")
    return f"sqlite:///{path}"


def drop_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


# -- one measurement ----------------------------------------------------------------------


def _command(
    peer: str, scenario: str, url: str, size: Size, durability: str, workers: int = 1
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.peers",
        peer,
        scenario,
        f"--url={url}",
        f"--steps={size.steps}",
        f"--runs={size.runs}",
        f"--durability={durability}",
        f"--workers={workers}",
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _reason(stderr: str, fallback: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else fallback)[:240]


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group has no process left
    process.wait()


def run_worker(command: list[str], timeout: float) -> dict[str, Any]:
    """Run one measurement process; its figures, or `PeerFailed`.

    The process leads a process group of its own, so that the worker processes it
    starts in the worker scenarios are killed with it on a timeout or an interrupt."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise PeerFailed(f"timed out after {timeout:.0f} s") from exc
    finally:
        _kill_group(process)  # and any worker it left behind
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return report.loads(line.removeprefix("RESULT "))
    raise PeerFailed(_reason(stderr, f"exit status {process.returncode}, no result"))


def crash_prepared(command: list[str], timeout: float) -> None:
    """Start the runs that recovery resumes and SIGKILL their process once every one of
    them has journaled its first steps and is inside the next one."""
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PeerFailed(f"recovery setup not ready after {timeout:.0f} s")
                ready, _, _ = select.select([process.stdout], [], [], min(left, 1.0))
                line = process.stdout.readline() if ready else ""
                if line.strip() == "READY":
                    return
                if ready and line == "":
                    process.wait()
                    stderr.seek(0)
                    raise PeerFailed(_reason(stderr.read(), "recovery setup exited early"))
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()


def measure(options: Options, backend: str, scenario: str, peer: str, label: str) -> dict[str, Any]:
    """One peer, one scenario, on a fresh database; its figures (with the size it ran)."""
    peer_scale = {"dbos": options.dbos_scale, "absurd": options.absurd_scale}.get(peer, 1.0)
    factor = options.scale * peer_scale
    size = FULL[scenario].scaled(scenario, factor)
    if scenario == "worker_throughput":
        figures = _worker_counts(options, backend, peer, label, size)
    else:
        figures = _measure_once(options, backend, scenario, peer, label, size)
    figures.update(steps=size.steps, runs=size.runs)
    return figures


def _measure_once(
    options: Options,
    backend: str,
    scenario: str,
    peer: str,
    label: str,
    size: Size,
    workers: int = 1,
) -> dict[str, Any]:
    url = fresh_url(options, backend, label)
    try:
        if scenario == "recovery":
            prepare = _command(peer, "recovery_prepare", url, size, options.durability)
            crash_prepared(prepare, options.timeout)
        command = _command(peer, scenario, url, size, options.durability, workers)
        return run_worker(command, options.timeout)
    finally:
        drop_sqlite(url)


def _worker_counts(
    options: Options, backend: str, peer: str, label: str, size: Size
) -> dict[str, Any]:
    """worker_throughput with each number of workers, each on a fresh database: the
    seconds of each, keyed by the number (as a string: the figures go through JSON)."""
    seconds = {}
    for count in WORKER_COUNTS:
        try:
            figures = _measure_once(
                options, backend, "worker_throughput", peer, f"{label}-{count}", size, count
            )
        except PeerFailed as exc:
            raise PeerFailed(f"{count} worker(s): {exc}") from exc
        seconds[str(count)] = figures["seconds"]
    return {"seconds": seconds}


# -- the comparison ------------------------------------------------------------------------


def _display(peer: str) -> str:
    return report.NAMES[peer]


def _peers(options: Options, backend: str, scenario: str | None = None) -> list[str]:
    """The peers measured on `backend` (in `scenario`, if given), in turn order."""
    return [
        p
        for p in PEERS
        if ONLY_ON.get(p, backend) == backend
        and (backend, p, "*") not in options.unavailable
        and not (p == "raw" and scenario in WORKER_SCENARIOS)
    ]


def _check_backend(options: Options, backend: str) -> str | None:
    """Why `backend` cannot be measured, or None."""
    if backend == "postgres":
        try:
            reset_postgres(options.pg_url)
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0]
    return None


def _fail(options: Options, backend: str, peer: str, scenario: str, reason: str) -> None:
    print(f"{_display(peer)} unavailable: {reason} ({backend}, {scenario})", flush=True)
    options.unavailable[(backend, peer, scenario)] = reason


def run_backend(options: Options, backend: str, rows: list[report.Measurement]) -> None:
    for scenario in options.scenarios:
        peers = _peers(options, backend, scenario)
        for index in range(options.rounds):
            order = peers[index % len(peers) :] + peers[: index % len(peers)]
            for peer in order:
                if (backend, peer, scenario) in options.unavailable:
                    continue
                label = f"{backend}-{scenario}-{peer}-{index}"
                try:
                    figures = measure(options, backend, scenario, peer, label)
                except PeerFailed as exc:
                    _fail(options, backend, peer, scenario, str(exc))
                    continue
                row = report.Measurement(backend, scenario, peer, index + 1, figures)
                rows.append(row)
                print(f"  {backend:<8} {scenario:<10} round {index + 1}  {row.brief()}", flush=True)


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a tenth of every size")
    parser.add_argument(
        "--dbos-scale",
        type=float,
        default=1.0,
        help="shrink DBOS's sizes only (it is slow); ratios then compare per-step figures",
    )
    parser.add_argument(
        "--absurd-scale",
        type=float,
        default=1.0,
        help="shrink Absurd's sizes only, as --dbos-scale does DBOS's",
    )
    parser.add_argument(
        "--sqlite-durability",
        choices=("process", "full"),
        default="process",
        help="durable's level on SQLite, and the raw baseline's synchronous= to match",
    )
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, dest="scenarios")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="wiped before each measurement")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    return Options(
        backends=["sqlite", "postgres"] if args.backend == "both" else [args.backend],
        rounds=args.rounds or (1 if args.quick else 5),
        scale=0.1 if args.quick else 1.0,
        dbos_scale=args.dbos_scale,
        absurd_scale=args.absurd_scale,
        durability=args.sqlite_durability,
        pg_url=args.pg_url,
        timeout=args.timeout,
        out=args.out,
        scenarios=args.scenarios or list(SCENARIOS),
    )


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    for peer, (modules, missing) in NEEDS.items():
        backends = [b for b in options.backends if ONLY_ON.get(peer, b) == b]
        if backends and any(importlib.util.find_spec(m) is None for m in modules):
            reason = f"{missing} (pip install -e '.[bench]')"
            print(f"{_display(peer)} unavailable: {reason}")
            for backend in backends:
                options.unavailable[(backend, peer, "*")] = reason
    rows: list[report.Measurement] = []
    with tempfile.TemporaryDirectory(prefix="durable-compare-") as folder:
        options.tmpdir = folder
        for backend in options.backends:
            reason = _check_backend(options, backend)
            if reason is not None:
                print(f"Postgres unavailable: {reason}")
                continue
            measured = {p for s in options.scenarios for p in _peers(options, backend, s)}
            peers = ", ".join(_display(p) for p in PEERS if p in measured)
            print(f"{backend}: {options.rounds} round(s); {peers}", flush=True)
            run_backend(options, backend, rows)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    summary = report.summarize(rows)
    print()
    print(report.table(summary, options.rounds, options.durability))
    written = report.write(options.out, stamp, rows, summary)
    print("\n".join(f"wrote {path}" for path in written))


if __name__ == "__main__":
    main()
