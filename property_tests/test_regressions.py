"""Shrunk reproductions of durable bugs the properties found, kept as exact examples."""

from __future__ import annotations

import gc
import sys
import tempfile
from typing import Any

import pytest

from property_tests import harness
from property_tests import programs as p
from property_tests import rounds as r

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
            trace = harness.run(harness.execute(backend, NOW_THEN_SLEEP_BESIDE_A_STEP, "r", [1]))
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
        trace = harness.run(harness.execute(backend, program, "r", [crash_at]))
    assert trace.outcome == p.expected(program).outcome


@pytest.mark.postgres_only
def test_a_crash_while_an_engine_opens_is_resumed_by_the_next(postgres_cluster: str) -> None:
    """``[tx t0]`` crashed at its first body point twice: the second crash hits while
    `Engine.open` is still recovering runs (the resumed transaction step crashes the engine
    under it); `open` must not fail on the journal it lost, and a third engine finishes the
    run (found on Postgres by the property suite)."""
    program = p.label(p.Chain(ops=[p.Tx()]))
    with harness.postgres_backend(postgres_cluster) as backend:
        trace = harness.run(harness.execute(backend, program, "crashy", [1, 1]))
    assert trace.crashes == 2
    assert trace.outcome == p.expected(program).outcome


# [rounds r0 x1 [race[recv a|b | set_event f1 blocked | set_event f2 blocked]]], crashed at
# point 1 (after the race): the first event wins (nothing else can finish), the second
# loser's set_event was delivered before the race was decided, so it went on to its sleep,
# journaled ``cancelled`` (seq 6)
A_LOSER_PAST_ITS_EVENT = p.label(
    p.Chain(
        ops=[
            r.Rounds(
                moves=[
                    r.Duel(
                        entrants=[
                            r.Takes(topics=["a", "b"]),
                            r.Flag(eager=False),
                            r.Flag(eager=False),
                        ]
                    )
                ]
            )
        ]
    )
)


def test_a_race_replays_a_loser_up_to_the_calls_it_journaled() -> None:
    """A losing branch that made a call after its event was set (the sleep the race then
    gave up on, journaled ``cancelled``) makes that call on replay too: the replayed race
    must not give up on it before the journal says it was given up on.  Fails with
    `NonDeterminismError` ("the journal holds sleep 'sleep' ... the workflow stopped
    calling before reaching it") when the replay cancels the branch at its set_event
    (found by `test_races_and_timeouts_in_loops`)."""
    program = A_LOSER_PAST_ITS_EVENT
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        trace = harness.run(harness.execute(backend, program, "r", [1]))
    assert trace.crashes == 1
    assert trace.outcome == p.expected(program).outcome


# [rounds r0 x2 [race[sleep blocked | recv a|b]]], crashed at point 1 (after the first
# race): the workflow code goes on until its next await, and the next iteration's
# recv of two topics calls durable.race(recv("a"), recv("b")) on the crashed run
A_RACE_CALLED_ON_A_CRASHED_RUN = p.label(
    p.Chain(
        ops=[
            r.Rounds(
                moves=[r.Duel(entrants=[r.Nap(eager=False), r.Takes(topics=["a", "b"])])],
                times=2,
            )
        ]
    )
)


def test_a_race_called_on_a_crashed_run_leaves_no_coroutine_unawaited() -> None:
    """`durable.race` called once the run has stopped in this process raises
    `RunAborted` before it wraps its awaitables: it must close the coroutines it was
    handed, or each leaves a "coroutine 'recv' was never awaited" behind (which
    `harness.run` reports; found by `test_races_and_timeouts_in_loops`)."""
    program = A_RACE_CALLED_ON_A_CRASHED_RUN
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        trace = harness.run(harness.execute(backend, program, "r", [1]))
    assert trace.crashes == 1
    assert trace.outcome == p.expected(program).outcome


# [rounds r0 x1 [recv a; send 2 to c at [0] from a child; race[recv c | step w2 blocked |
# recv a|c]]], crashed at point 5 (when the blocked step starts): the recv of c (seq 3)
# has taken c:p1@0.0 and is journaled, the race (seq 2) is not
A_RECV_THAT_TOOK_ITS_MESSAGE_BEFORE_A_CRASH = p.label(
    p.Chain(
        ops=[
            r.Rounds(
                moves=[
                    r.Take(topic="a"),
                    r.Post(at=[0], topics=["c"], count=2, from_child=True),
                    r.Duel(
                        entrants=[
                            r.Take(topic="c"),
                            r.Work(eager=False),
                            r.Takes(topics=["a", "c"]),
                        ]
                    ),
                ]
            )
        ]
    )
)


def test_a_recv_that_took_its_message_before_a_crash_wins_its_race() -> None:
    """A recv whose message was taken (and journaled) before a crash, in a race whose
    winner was not journaled yet, is the one consumption the resumed race may have: it
    wins, and no other recv of the race takes a message.  Fails with the race won by the
    recv of several topics, which took c:p1@0.1, while c:p1@0.0 is consumed by a loser and
    lost (found by `test_races_and_timeouts_in_loops`)."""
    program = A_RECV_THAT_TOOK_ITS_MESSAGE_BEFORE_A_CRASH
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        trace = harness.run(harness.execute(backend, program, "r", [5]))
    assert trace.crashes == 1
    assert trace.outcome == p.expected(program).outcome


# [rounds r0 x1 [race[step w1 blocked | step w2 blocked]; race[step w3 blocked | sleep
# blocked]; race[set_event f4 blocked | step w5]]], crashed at point 9
SIX_LOSERS_AND_AN_EVENT = p.label(
    p.Chain(
        ops=[
            r.Rounds(
                moves=[
                    r.Duel(entrants=[r.Work(eager=False), r.Work(eager=False)]),
                    r.Duel(entrants=[r.Work(eager=False), r.Nap(eager=False)]),
                    r.Duel(entrants=[r.Flag(eager=False), r.Work(eager=True)]),
                ]
            )
        ]
    )
)


def test_a_crashed_sqlite_journal_opens_no_socket_again() -> None:
    """After `durable.testing.crash`, the SQLite journal's wake-up bus (`local_bus`) is
    closed; an announcement made afterwards must not open a new sender socket that nobody
    closes: it is left behind as "unclosed <socket.socket ... family=1, type=2>" (a
    ResourceWarning; found by `test_races_and_timeouts_in_loops`)."""
    program = SIX_LOSERS_AND_AN_EVENT
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        trace = harness.run(harness.execute(backend, program, "r", [9]))
    assert trace.crashes == 1
    assert trace.outcome == p.expected(program).outcome


# [rounds r0 x1 [race[set_event f1 blocked | step w2 | timeout(recv a|b)]]], crashed at
# point 3 (after the race): live, the event's outcome reached its branch after the
# timeout's recv of two topics had numbered its recvs (seqs 5 and 6), so the branch's
# sleep is seq 7
AN_EVENT_BESIDE_A_TIMED_RECV_OF_TWO_TOPICS = p.label(
    p.Chain(
        ops=[
            r.Rounds(
                moves=[
                    r.Duel(
                        entrants=[
                            r.Flag(eager=False),
                            r.Work(eager=True),
                            r.Limit(body=r.Takes(topics=["a", "b"])),
                        ]
                    )
                ]
            )
        ]
    )
)


def test_a_replayed_event_lets_its_branch_go_on_in_its_turn() -> None:
    """Replaying the race, the event's journaled outcome must reach its branch no sooner
    than the live one did: after the other branch's timeout and race have numbered their
    recvs.  Fails with `NonDeterminismError` at seq 5 ("the journal holds recv 'r0.a',
    the code asked for sleep 'sleep'"), after which the run neither fails nor finishes
    (the harness gives up after 20 s) (found by `test_races_and_timeouts_in_loops`)."""
    program = AN_EVENT_BESIDE_A_TIMED_RECV_OF_TWO_TOPICS
    with tempfile.TemporaryDirectory() as folder, harness.sqlite_backend(folder) as backend:
        trace = harness.run(harness.execute(backend, program, "r", [3]))
    assert trace.crashes == 1
    assert trace.outcome == p.expected(program).outcome
