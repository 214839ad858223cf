"""A code change between crash and resume: diverging replays fail loudly and touch nothing;
changes after the journaled part carry on.
"""

from __future__ import annotations

import pathlib

import pytest

import durable
from tests.e2e import crashy
from tests.e2e.harness import Driver

STEPS = 20


async def test_swapped_steps_fail_with_nondeterminism(db_url: str, tmp_path: pathlib.Path) -> None:
    """Steps 3 and 4 swapped in the resuming code: FAILED with `NonDeterminismError` at seq 3,
    no step body runs, and the journal is byte-for-byte what the crash left.
    """
    driver = Driver(db_url, tmp_path)
    specs = [
        {"id": "swapped", "workflow": "e2e.sequential", "args": [STEPS], "crash": "after:10"},
        {"id": "later", "workflow": "e2e.sequential", "args": [STEPS], "crash": "after:2"},
    ]
    driver.crash(specs)
    before = await driver.snapshot(["swapped", "later"])
    effects_before = driver.effects()

    resumed = driver.resume(["swapped", "later"], swap=(3, 4))
    after = await driver.snapshot(["swapped", "later"])
    effects_after = driver.effects()

    failed = resumed.runs["swapped"]
    assert failed["status"] == "FAILED"
    assert failed["cause_type"] == "NonDeterminismError"
    assert (failed["cause_workflow_id"], failed["cause_seq"]) == ("swapped", 3)
    assert "'swapped'" in failed["cause_message"] and "seq 3" in failed["cause_message"]
    assert after["swapped"].status is durable.Status.FAILED
    assert after["swapped"].entries == before["swapped"].entries
    assert after["swapped"].history == before["swapped"].history
    assert after["swapped"].attempts == before["swapped"].attempts
    assert all(effects_after[k] == n for k, n in effects_before.items() if k[0] == "swapped")
    assert sum(n for k, n in effects_after.items() if k[0] == "swapped") == 11

    # the same error from this process, through the public API
    async with durable.Engine(db_url, execute=False) as engine:
        with pytest.raises(durable.WorkflowFailed) as caught:
            await engine.get("swapped").result()
    cause = caught.value.__cause__
    assert isinstance(cause, durable.NonDeterminismError)
    assert "'swapped'" in str(cause) and "seq 3" in str(cause)
    assert (cause.workflow_id, cause.seq) == ("swapped", 3)

    # a run killed before the swapped steps never called them: it carries on, swapped
    swapped_order = [*range(3), 4, 3, *range(5, STEPS)]
    expected, previous = [], "start"
    for index in swapped_order:
        previous = crashy.digest(previous, f"s{index}")
        expected.append(previous)
    assert resumed.runs["later"] == {"id": "later", "status": "SUCCEEDED", "result": expected}
    assert after["later"].entries[:3] == before["later"].entries
