"""Idempotent starts: one workflow id started many times, concurrently, gives one run."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import durable
from property_tests import effects, harness, programs
from property_tests.conftest import scaled
from property_tests.stats import STATS

ROOT = pathlib.Path(__file__).resolve().parents[1]


async def _start_many(url: str, program: programs.Chain, engines: int, starts: int) -> None:
    opened = [durable.Engine(url, poll_interval=0) for _ in range(engines)]
    for engine in opened:
        await engine.open()
    try:
        text = programs.encode(program)
        runs = await asyncio.gather(
            *(
                opened[i % engines].start(programs.interpret, text, workflow_id="same")
                for i in range(starts)
            )
        )
        assert {run.id for run in runs} == {"same"}
        outcomes = [await harness._outcome(engine, "same") for engine in opened]
        assert len(set(map(repr, outcomes))) == 1, f"engines disagree: {outcomes}"
        assert outcomes[0][0] == programs.expected(program).outcome
        listed = await opened[0].list(limit=1000)
        top = [info.id for info in listed if info.parent_id is None]  # children aside
        assert top == ["same"], "more than one run was created"
        assert all(info.root_id == "same" for info in listed)
    finally:
        for engine in opened:
            await engine.close()


@settings(max_examples=scaled(15))
@given(
    program=programs.programs(max_leaves=4),
    engines=st.integers(1, 3),
    starts=st.integers(2, 12),
)
def test_concurrent_starts_make_one_run(program: programs.Chain, engines: int, starts: int) -> None:
    """Starting workflow id ``same`` `starts` times concurrently, spread over `engines`
    engines (stand-ins for processes) on one SQLite file, returns handles on the one run
    ``same``; the database then holds exactly one run; every engine sees the same outcome,
    the model's; and every step/transaction body started exactly as often as in one
    crash-free run (the model's count), i.e. the run executed once."""
    note(f"program: {programs.describe(program)}")
    effects.LOG.pop("same", None)
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        asyncio.run(_start_many(backend.url, program, engines, starts))
    events = effects.LOG.pop("same", [])
    counts = {
        label: sum(1 for e in events if e.what == "start" and e.label == label)
        for label in programs.expected(program).starts
    }
    assert counts == programs.expected(program).starts, "a body ran more often than once per run"
    STATS["starts"] += starts


def _start_in_processes(url: str, program: programs.Chain, processes: int) -> None:
    """`processes` subprocesses start workflow id ``same`` at once and wait for it."""
    text = programs.encode(program)
    with tempfile.TemporaryDirectory() as folder:
        log = f"{folder}/log.jsonl"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PROP_LOG_FILE": log}
        command = [sys.executable, "-m", "property_tests.driver", url, "same", text, "0"]
        children = [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        outputs = [child.communicate(timeout=120)[0].strip() for child in children]
        assert [child.returncode for child in children] == [0] * processes
        want = programs.expected(program)
        assert [tuple(json.loads(out)) for out in outputs] == [want.outcome] * processes
        events = [event for _, event in effects.read_log(log)]
        counts = {
            label: sum(1 for e in events if e.what == "start" and e.label == label)
            for label in want.starts
        }
        assert counts == want.starts, "a body ran more often than once per run"

    async def top_level() -> list[str]:
        async with durable.Engine(url, poll_interval=0, execute=False) as inspector:
            listed = await inspector.list(limit=1000)
        return [info.id for info in listed if info.parent_id is None]

    assert asyncio.run(top_level()) == ["same"], "more than one run was created"
    STATS["starts"] += processes


@settings(max_examples=scaled(3))
@given(program=programs.programs(max_leaves=4), processes=st.integers(2, 3))
def test_starts_from_many_processes_make_one_run(program: programs.Chain, processes: int) -> None:
    """`processes` real processes start workflow id ``same`` at the same moment on one
    SQLite file: every one gets the model's outcome, the file holds one top-level run, and
    every body started exactly as often as in one crash-free run."""
    note(f"program: {programs.describe(program)}")
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        _start_in_processes(backend.url, program, processes)


@pytest.mark.postgres_only
@settings(max_examples=scaled(3))
@given(program=programs.programs(max_leaves=4), processes=st.integers(2, 3))
def test_starts_from_many_processes_make_one_run_on_postgres(
    postgres_cluster: str, program: programs.Chain, processes: int
) -> None:
    """As `test_starts_from_many_processes_make_one_run`, on a fresh Postgres database."""
    note(f"program: {programs.describe(program)}")
    with harness.postgres_backend(postgres_cluster) as backend:
        _start_in_processes(backend.url, program, processes)
    STATS["postgres_programs"] += 1
