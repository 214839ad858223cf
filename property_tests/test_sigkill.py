"""A sample of real SIGKILLs: the in-process crash model checked against a killed process."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from property_tests import effects, harness, programs
from property_tests.conftest import scaled
from property_tests.stats import STATS

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _drive(url: str, text: str, crash_at: int, log: str, incarnation: int) -> tuple[int, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROP_LOG_FILE": log,
        "PROP_INCARNATION": str(incarnation),
    }
    done = subprocess.run(
        [sys.executable, "-m", "property_tests.driver", url, "killed", text, str(crash_at)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout.strip()


def check_sigkill(backend: harness.Backend, program: programs.Chain, at: int) -> None:
    """Run `program` in a subprocess that SIGKILLs itself at body point `at` (clamped to
    the points the program has), resume it in a second one, and check what
    `test_sigkilled_process_resumes_to_the_model_result` asserts."""
    note(f"program: {programs.describe(program)}")
    text = programs.encode(program)
    model = programs.expected(program)
    points = 2 * sum(model.starts.values())  # start and end of each body (upper bound)
    crash_at = 1 + (at - 1) % max(1, points)
    with tempfile.TemporaryDirectory() as folder:
        log = f"{folder}/log.jsonl"
        code, _ = _drive(backend.url, text, crash_at, log, 0)
        killed = code == -signal.SIGKILL
        note(f"killed at point {crash_at}: {killed} (exit {code})")
        journaled = harness.asyncio.run(harness._snapshot(backend, "killed")).journaled()
        code, out = _drive(backend.url, text, 0, log, 1)
        assert code == 0, f"the resuming process failed: {out}"
        assert tuple(json.loads(out)) == model.outcome
        events = [event for _, event in effects.read_log(log)]
    again = {
        e.label for e in events if e.incarnation == 1 and e.what == "start" and e.label in journaled
    }
    assert not again, f"journaled before the kill, ran again after it: {again}"
    final = harness.asyncio.run(harness._snapshot(backend, "killed"))
    for label, op in programs.bodies(program).items():
        if isinstance(op, programs.Tx):
            want = 1 if final.journaled().get(label) == "ok" else 0
            assert final.effects.get(label, 0) == want, f"{label}: {final.effects}"
    STATS["programs"] += 1
    STATS["sigkills"] += killed


@settings(max_examples=scaled(6))
@given(program=programs.programs(max_leaves=6, loops=True), at=st.integers(1, 6))
def test_sigkilled_process_resumes_to_the_model_result(program: programs.Chain, at: int) -> None:
    """A subprocess running the interpreter on a generated program (loops of races
    included) SIGKILLs itself at crash point `at` (clamped to the points the program
    has); a second subprocess on the same SQLite file resumes it.  Asserts: the first
    process died by SIGKILL (when the point exists), the second prints the crash-free
    model's outcome, no step or transaction whose entry survived the kill ran its body in
    the second process, and every transaction's row exists exactly once if its entry is
    ``ok``, else not at all."""
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        check_sigkill(backend, program, at)


@pytest.mark.postgres_only
@settings(max_examples=scaled(4))
@given(program=programs.programs(max_leaves=6, loops=True), at=st.integers(1, 6))
def test_sigkilled_process_resumes_on_postgres(
    postgres_cluster: str, program: programs.Chain, at: int
) -> None:
    """As `test_sigkilled_process_resumes_to_the_model_result`, on a fresh database of the
    Postgres test cluster: the killed process's connections die with it, and the second
    process must find its advisory lock gone and take the run over."""
    with harness.postgres_backend(postgres_cluster) as backend:
        check_sigkill(backend, program, at)
    STATS["postgres_programs"] += 1
