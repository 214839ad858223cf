"""Shrunk reproductions of durable bugs the properties found, kept as exact examples."""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
from typing import Any

import pytest

from property_tests import harness
from property_tests import programs as p

# [gather[[now i0, sleep 0.0] | [step s1]]], crashed at body point 1 (when s1 starts)
NOW_THEN_SLEEP_BESIDE_A_STEP = p.Chain(
    ops=[
        p.Gather(
            branches=[
                p.Chain(ops=[p.Instant(kind="now", label="i0"), p.Sleep(seconds=0.0)]),
                p.Chain(ops=[p.Step(label="s1")]),
            ]
        )
    ]
)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_crash_leaves_nothing_behind_in_the_event_loop() -> None:
    """Crashing ``[gather[[now, sleep 0] | [step]]]`` when the step's body starts must
    leave no un-awaited coroutine and no exception raised in an event-loop callback (a
    SIGKILLed process leaves nothing at all); the resumed run still succeeds."""
    unraisable: list[str] = []
    previous = sys.unraisablehook

    def hook(info: Any) -> None:
        unraisable.append(f"{info.exc_type.__name__}: {info.exc_value}")

    sys.unraisablehook = hook
    harness.LOOP_ERRORS.clear()
    try:
        with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
            trace = asyncio.run(harness.execute(backend, NOW_THEN_SLEEP_BESIDE_A_STEP, "r", [1]))
            gc.collect()
    finally:
        sys.unraisablehook = previous
    assert trace.crashes == 1
    assert trace.outcome == ("ok", [[["<now>", None], ["s1"]]])
    assert unraisable == [] and harness.LOOP_ERRORS == []
