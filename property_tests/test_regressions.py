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


# [s0, gather[[s1 (fails 1/2)] | [timeout 0.02 [s2 (5 s)], s3 (broken)] | [mail m4 [],
# s5 (fails 1/2)]], s6], crashed at body point 10: the timeout and the mail's empty
# `recv` expire together; the live run numbered s5 before s3 (s2's `cancelled` entry
# was journaled after the recv's), and the replay must too
TIMEOUT_BESIDE_AN_EMPTY_MAILBOX = p.label(
    p.Chain(
        ops=[
            p.Step(),
            p.Gather(
                branches=[
                    p.Chain(ops=[p.Step(attempts=2, fail=1)]),
                    p.Chain(
                        ops=[
                            p.Deadline(body=p.Chain(ops=[p.Step(delay=p.LOSER_DELAY)])),
                            p.Step(broken=True),
                        ]
                    ),
                    p.Chain(ops=[p.Mail(values=[]), p.Step(attempts=2, fail=1)]),
                ]
            ),
            p.Step(),
        ]
    )
)


@pytest.mark.parametrize("crash_at", [8, 9, 10, 11, 12])
def test_a_step_cancelled_by_a_timeout_replays_in_its_turn(crash_at: int) -> None:
    """Replaying a step that a timeout gave up on waits for its ``cancelled`` entry's turn
    before the branch goes on, as the live run did: otherwise the calls after it get other
    numbers than the journal's and the resumed run fails with `NonDeterminismError`."""
    program = TIMEOUT_BESIDE_AN_EMPTY_MAILBOX
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        trace = asyncio.run(harness.execute(backend, program, "r", [crash_at]))
    assert trace.outcome == p.expected(program).outcome


@pytest.mark.postgres_only
def test_a_crash_while_an_engine_opens_is_resumed_by_the_next(postgres_cluster: str) -> None:
    """``[tx t0]`` crashed at its first body point twice: the second crash hits while
    `Engine.open` is still recovering runs (the resumed transaction step crashes the engine
    under it); `open` must not fail on the journal it lost, and a third engine finishes the
    run (found on Postgres by the property suite)."""
    program = p.label(p.Chain(ops=[p.Tx()]))
    with harness.postgres_backend(postgres_cluster) as backend:
        trace = asyncio.run(harness.execute(backend, program, "crashy", [1, 1]))
    assert trace.crashes == 2
    assert trace.outcome == p.expected(program).outcome
