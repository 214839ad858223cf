"""Programs that continue as new: replay equivalence and idempotency across generation
switches, with in-process crashes at hypothesis-chosen body points (some land between a
generation's last call and its switch, some after it)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from property_tests import programs
from property_tests.conftest import scaled
from property_tests.test_replay import check_idempotency, check_replay_equivalence, run_pair


@settings(max_examples=scaled(40))
@given(program=programs.renewing_programs(), data=st.data())
def test_continue_as_new_replays_and_runs_bodies_once(
    program: programs.Chain, data: st.DataObject
) -> None:
    """For a generated program whose top level calls `durable.continue_as_new` once or
    twice (with the rest of the program, the output so far and the previous value),
    asserts everything `test_replay_equivalence` and `test_idempotency` assert: the
    crash-free outcome equals the model's, a run crashed at 0-3 points and resumed ends
    the same, journaled instants are stable, and no step or transaction journaled in any
    generation runs again."""
    model, reference, trace = run_pair(data, program)
    check_replay_equivalence(model, reference, trace)
    check_idempotency(program, model, reference, trace)
