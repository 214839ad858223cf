"""Idempotent starts: one workflow id started many times, concurrently, gives one run."""

from __future__ import annotations

import asyncio
import tempfile

from hypothesis import given, note, settings
from hypothesis import strategies as st

import durable
from property_tests import harness, programs
from property_tests.conftest import scaled
from property_tests.stats import STATS


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
    programs.LOG.pop("same", None)
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        asyncio.run(_start_many(backend.url, program, engines, starts))
    events = programs.LOG.pop("same", [])
    counts = {
        label: sum(1 for e in events if e.what == "start" and e.label == label)
        for label in programs.expected(program).starts
    }
    assert counts == programs.expected(program).starts, "a body ran more often than once per run"
    STATS["starts"] += starts
