"""Crash/replay properties of generated programs: replay equivalence, idempotency, journal
integrity.  Each example runs a program crash-free on one fresh SQLite file and with
in-process crashes at hypothesis-chosen body points on another.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections import Counter

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from durable.journal import base
from property_tests import harness, programs
from property_tests.conftest import scaled
from property_tests.stats import STATS


def run_pair(
    data: st.DataObject,
    program: programs.Chain,
    max_crashes: int = 3,
    postgres: str | None = None,
) -> tuple[programs.Expected, harness.Trace, harness.Trace]:
    """The model's answer, a crash-free trace, and a trace with crashes drawn from `data`,
    each on a fresh SQLite file (or a fresh database of the `postgres` cluster)."""
    note(f"program: {programs.describe(program)}")
    model = programs.expected(program)
    with tempfile.TemporaryDirectory() as folder:

        def backend(name: str) -> contextlib.AbstractContextManager[harness.Backend]:
            if postgres is not None:
                return harness.postgres_backend(postgres)
            return harness.sqlite_backend(folder, f"{name}.db")

        with backend("reference") as reference_db:
            reference = harness.run(harness.execute(reference_db, program, "reference", []))
        STATS["crash_free"] += 1
        points = st.integers(1, max(1, reference.points))
        crash_points = data.draw(st.lists(points, max_size=max_crashes), label="crash points")
        with backend("crashy") as crashy_db:
            trace = harness.run(harness.execute(crashy_db, program, "crashy", crash_points))
    note(f"crashes that happened: {trace.crashes}")
    return model, reference, trace


def check_replay_equivalence(
    model: programs.Expected, reference: harness.Trace, trace: harness.Trace
) -> None:
    assert reference.outcome == model.outcome, "the crash-free run disagrees with the model"
    if reference.outcome[0] == "ok":
        assert trace.outcome[0] == "ok", f"crashing and resuming failed the run: {trace.outcome}"
    assert trace.outcome == reference.outcome, "crashing and resuming changed the outcome"
    check_instants(trace)


def check_instants(trace: harness.Trace) -> None:
    """A now/uuid4/random value, once journaled, is what every later incarnation sees, and
    the output holds the values the last incarnation saw."""
    seen: dict[str, dict[int, list[str]]] = {}
    for event in trace.events:
        if event.what == "instant":
            seen.setdefault(event.label, {}).setdefault(event.incarnation, []).append(event.value)
    for label, by_incarnation in seen.items():
        for values in by_incarnation.values():
            assert len(set(values)) == 1, f"{label} changed within one incarnation: {values}"
        for crash, snapshot in enumerate(trace.snapshots[:-1]):
            journaled = {
                repr(h.output) for h in snapshot.history if h.kind in ("now", "uuid", "random")
            }
            value = by_incarnation.get(crash, [None])[0]
            if value in journaled:
                later = {v[0] for i, v in by_incarnation.items() if i > crash}
                assert later <= {value}, f"{label} was journaled as {value}, replayed as {later}"
    if trace.outcome[0] == "ok":
        # the value each instant last had (a finished child is answered from its parent's
        # journal, so its instants may last have been seen before the last crash); an
        # instant in a branch that failed later is not in the output
        final = [by_inc[max(by_inc)][0] for by_inc in seen.values()]
        assert Counter(programs.instants(trace.output)) <= Counter(final)


@settings(max_examples=scaled(160))
@given(program=programs.programs(), data=st.data())
def test_replay_equivalence(program: programs.Chain, data: st.DataObject) -> None:
    """Replay equivalence.  For a generated program (sequences, nested gathers, retried steps
    with injected transient or permanent failures, durable sleeps, now/uuid4/random,
    transaction steps, child workflows, races, timeouts, messages between runs) asserts:

    1. the crash-free run's outcome equals the model's (`programs.expected`): the output
       with now/uuid4/random values replaced by placeholders, or the error type and message;
    2. a run crashed in-process (`durable.testing.crash`) at 0-3 hypothesis-chosen body
       points, each time resumed by a fresh engine on the same SQLite file, ends with that
       same outcome;
    3. a now/uuid4/random value that was journaled before a crash is the value every later
       incarnation sees, and the final output holds the values of the last incarnation.
    """
    model, reference, trace = run_pair(data, program)
    check_replay_equivalence(model, reference, trace)


@settings(max_examples=scaled(120))
@given(program=programs.programs(), data=st.data())
def test_idempotency(program: programs.Chain, data: st.DataObject) -> None:
    """Idempotency.  Asserts, for every step and transaction of a generated program:

    1. crash-free, its body starts exactly as often as the model says (``fail + 1``, or
       ``attempts`` when broken; 0 if never reached);
    2. once its entry is in the journal (seen in the snapshot taken after crash i), its
       body never starts again in a later incarnation;
    3. in any one incarnation its body starts at most ``attempts`` times, so a step without
       retries runs at most 1 + (crashes that hit while it was in flight) times (this is
       also the bound checked for the losing steps of races and timeouts, whose
       ``cancelled`` entries do not name their label);
    4. a transaction's row exists exactly once if its entry is journaled ``ok`` and not at
       all otherwise, at every snapshot (after each crash and at the end).
    """
    model, reference, trace = run_pair(data, program)
    check_idempotency(program, model, reference, trace)


def check_idempotency(
    program: programs.Chain,
    model: programs.Expected,
    reference: harness.Trace,
    trace: harness.Trace,
) -> None:
    assert {label: sum(reference.starts(label).values()) for label in model.starts} == (
        model.starts
    ), "crash-free body starts differ from the model"
    for label in model.optional:
        assert sum(reference.starts(label).values()) <= 1, f"{label} started more than once"
    for label, op in programs.bodies(program).items():
        starts = trace.starts(label)
        in_flight = 0
        for crash, snapshot in enumerate(trace.snapshots[:-1]):
            journaled = snapshot.journaled()
            if label in journaled:
                again = {i: n for i, n in starts.items() if i > crash}
                assert not again, f"{label} was journaled at crash {crash}, then ran: {again}"
            elif any(i <= crash for i in starts):
                in_flight += 1
        for incarnation, count in starts.items():
            assert count <= op.attempts, f"{label} started {count} times in {incarnation}"
        if op.attempts == 1:
            assert sum(starts.values()) <= 1 + in_flight
        if isinstance(op, programs.Tx):
            for snapshot in trace.snapshots:
                rows = snapshot.effects.get(label, 0)
                want = 1 if snapshot.journaled().get(label) == "ok" else 0
                assert rows == want, f"{label}: {rows} rows, entry {snapshot.journaled()}"


@settings(max_examples=scaled(100))
@given(program=programs.programs(), data=st.data())
def test_journal_integrity(program: programs.Chain, data: st.DataObject) -> None:
    """Journal integrity across crashes.  Asserts:

    1. append-only: every entry, failed-attempt record and timer in the snapshot after
       crash i is present and unchanged (every field) in every later snapshot;
    2. at the end the entries' seqs are exactly 0..n-1 and their completion orders
       (``ord``, shared by a group journaled together) are non-negative;
    3. statuses only move forward: unfinished (PENDING/RUNNING/SLEEPING) after every
       crash, terminal at the end, matching the outcome; the run's attempt counter grows
       with every takeover;
    4. lineage: a top-level run is its own root and has no parent;
    5. the final journal holds the same entries, counted by (kind, name, status), as the
       crash-free run's.
    """
    _, reference, trace = run_pair(data, program)
    check_journal_integrity(reference, trace)


def check_journal_integrity(reference: harness.Trace, trace: harness.Trace) -> None:
    snapshots = trace.snapshots
    for earlier, later in itertools.pairwise(snapshots):
        entries = {e.seq: e for e in later.entries}
        for entry in earlier.entries:
            assert entries.get(entry.seq) == entry, f"entry {entry.seq} changed"
        attempts = {(a.seq, a.attempt): a for a in later.attempts}
        for attempt in earlier.attempts:
            assert attempts.get((attempt.seq, attempt.attempt)) == attempt
        timers = {t.seq: t for t in later.timers}
        for timer in earlier.timers:
            assert timers.get(timer.seq) == timer, f"timer {timer.seq} changed"
        assert later.attempt > earlier.attempt, "a takeover did not count as an attempt"
    final = snapshots[-1]
    assert [e.seq for e in final.entries] == list(range(len(final.entries)))
    assert all(e.ord >= 0 for e in final.entries)
    for snapshot in snapshots[:-1]:
        assert snapshot.status not in base.TERMINAL
    status = {"ok": base.Status.SUCCEEDED, "error": base.Status.FAILED}[trace.outcome[0]]
    assert final.status is status
    assert final.root_id == "crashy" and final.parent_id is None

    def shape(snapshot: harness.Snapshot) -> Counter[tuple[str, str, str]]:
        return Counter((e.kind, e.name, e.status) for e in snapshot.entries)

    assert shape(final) == shape(reference.snapshots[-1])


@settings(max_examples=scaled(40))
@given(program=programs.looping_programs(), data=st.data())
def test_races_and_timeouts_in_loops(program: programs.Chain, data: st.DataObject) -> None:
    """Races and timeouts in loops, mixing every primitive as winner and loser (steps,
    recvs of one topic and of several, sleeps, child workflows, events, timeouts; see
    `property_tests.rounds`), with messages the run sends itself (or a child sends it)
    and crash points between the moves.  Asserts, for the crash-free run and a run crashed
    at 0-3 points and resumed, everything `test_replay_equivalence`, `test_idempotency`
    and `test_journal_integrity` assert.  The output holds what every recv got and, after
    each loop, what was left on each topic, so a losing recv that consumed its message, or
    a message received twice, changes it; a call given up on that a replay treats
    differently fails the resumed run."""
    model, reference, trace = run_pair(data, program)
    check_replay_equivalence(model, reference, trace)
    check_idempotency(program, model, reference, trace)
    check_journal_integrity(reference, trace)


@pytest.mark.postgres_only
@settings(max_examples=scaled(24))
@given(program=programs.programs(max_leaves=6, loops=True), data=st.data())
def test_replay_equivalence_on_postgres(
    postgres_cluster: str, program: programs.Chain, data: st.DataObject
) -> None:
    """Replay equivalence (as `test_replay_equivalence`: model == crash-free outcome ==
    outcome after 0-2 in-process crashes, journaled instants stable) for programs that may
    hold loops of races (`property_tests.rounds`) on the Postgres journal,
    each run on its own database cloned from the test template; plus transaction rows
    exactly once iff the entry is ``ok`` at every snapshot."""
    model, reference, trace = run_pair(data, program, max_crashes=2, postgres=postgres_cluster)
    check_replay_equivalence(model, reference, trace)
    for label, op in programs.bodies(program).items():
        if isinstance(op, programs.Tx):
            for snapshot in trace.snapshots:
                want = 1 if snapshot.journaled().get(label) == "ok" else 0
                assert snapshot.effects.get(label, 0) == want, f"{label}: {snapshot.effects}"
    STATS["postgres_programs"] += 2
