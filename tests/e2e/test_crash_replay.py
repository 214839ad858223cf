"""Replay after a real SIGKILL: the resumed run ends as a crash-free run would, and no step
whose result was journaled runs its body again.

Each test starts many runs in one driver process (`tests.e2e.crashy`), each with its own
crash point, plus a crash-free reference run; the process kills itself once every run
has frozen at its point or finished.  A fresh process then resumes them all.
"""

from __future__ import annotations

import pathlib
import random

import pytest

import durable
from tests.e2e import crashy
from tests.e2e.harness import Driver, check_effects, check_journal, sample

STEPS = 20


def expected_sequential(n: int) -> list[str]:
    results, previous = [], "start"
    for index in range(n):
        previous = crashy.digest(previous, f"s{index}")
        results.append(previous)
    return results


def expected_branches(width: int, chain: int) -> list[str]:
    values = []
    for b in range(width):
        value = f"b{b}"
        for j in range(chain):
            value = crashy.digest(value, f"b{b}.{j}")
        values.append(value)
    return values


@pytest.mark.slow
async def test_sequential_killed_after_every_step(
    db_url: str, backend: str, tmp_path: pathlib.Path
) -> None:
    """For every k: killed right after step k is journaled (`after`), or inside the body of
    step k+1 after its side effect (`in`, so that body runs twice).
    """
    driver = Driver(db_url, tmp_path)
    ks = sample(list(range(STEPS)), backend, every=6)
    specs = [{"id": "reference", "workflow": "e2e.sequential", "args": [STEPS], "crash": None}]
    specs += [
        {"id": f"after-{k}", "workflow": "e2e.sequential", "args": [STEPS], "crash": f"after:{k}"}
        for k in ks
    ]
    specs += [
        {"id": f"in-{k}", "workflow": "e2e.sequential", "args": [STEPS], "crash": f"in:s{k + 1}"}
        for k in [-1, *ks]
        if k + 1 < STEPS
    ]
    crashed = driver.crash(specs)
    expected = expected_sequential(STEPS)
    assert crashed.runs["reference"]["result"] == expected
    ids = [spec["id"] for spec in specs[1:]]
    before = await driver.snapshot(ids)
    effects_before = driver.effects()
    for run_id in ids:
        k = int(run_id.split("-", 1)[1])
        journal = before[run_id]
        assert journal.status is durable.Status.RUNNING
        assert journal.labels == {f"s{i}" for i in range(k + 1)}, run_id
        assert [(e.seq, e.ord) for e in journal.entries] == [(i, i) for i in range(k + 1)]

    resumed = driver.resume(ids)
    after = await driver.snapshot(ids)
    effects_after = driver.effects()
    labels = [f"s{i}" for i in range(STEPS)]
    for run_id in ids:
        assert resumed.runs[run_id]["result"] == expected, run_id
        check_journal(before[run_id], after[run_id], STEPS)
        assert [e.ord for e in after[run_id].entries] == list(range(STEPS))
        check_effects(run_id, labels, before[run_id].labels, effects_before, effects_after)
        if run_id.startswith("in-"):  # the body the kill interrupted ran again, once
            k = int(run_id.split("-", 1)[1])
            assert effects_after[run_id, f"s{k + 1}"] == 2
    assert all(effects_after["reference", label] == 1 for label in labels)


@pytest.mark.parametrize("k", [0, 9, STEPS - 1])
async def test_sequential_killed_alone(db_url: str, tmp_path: pathlib.Path, k: int) -> None:
    """One run alone in its process: the kill comes at its crash point, nothing frozen."""
    driver = Driver(db_url, tmp_path)
    spec = {"id": f"solo-{k}", "workflow": "e2e.sequential", "args": [STEPS], "crash": f"after:{k}"}
    driver.crash([spec])
    before = await driver.snapshot([spec["id"]])
    effects_before = driver.effects()
    resumed = driver.resume([spec["id"]])
    after = await driver.snapshot([spec["id"]])
    assert resumed.runs[spec["id"]]["result"] == expected_sequential(STEPS)
    assert before[spec["id"]].labels == {f"s{i}" for i in range(k + 1)}
    check_journal(before[spec["id"]], after[spec["id"]], STEPS)
    labels = [f"s{i}" for i in range(STEPS)]
    check_effects(spec["id"], labels, before[spec["id"]].labels, effects_before, driver.effects())


@pytest.mark.slow
async def test_gather_of_50_killed_midway(
    db_url: str, backend: str, tmp_path: pathlib.Path
) -> None:
    """50 steps in one gather finish in random order; the kill lands after M of them."""
    driver = Driver(db_url, tmp_path)
    width, max_delay = 50, 0.15
    seeds = sample(list(range(12)), backend, every=5)
    cut = {seed: random.Random(seed).randint(5, 45) for seed in seeds}
    specs = [{"id": "reference", "workflow": "e2e.fanout", "args": [width, max_delay]}]
    specs += [
        {
            "id": f"fanout-{seed}",
            "workflow": "e2e.fanout",
            "args": [width, max_delay],
            "crash": f"count:{cut[seed]}",
        }
        for seed in seeds
    ]
    crashed = driver.crash(specs)
    expected = [crashy.digest("", f"g{i}") for i in range(width)]
    assert crashed.runs["reference"]["result"] == expected
    ids = [spec["id"] for spec in specs[1:]]
    before = await driver.snapshot(ids)
    effects_before = driver.effects()
    for seed, run_id in zip(seeds, ids, strict=True):
        journaled = before[run_id].labels
        # bodies returned before the M-th froze; their writes may still have been in flight
        assert 0 < len(journaled) < cut[seed], (run_id, sorted(journaled))
        assert before[run_id].status is durable.Status.RUNNING

    resumed = driver.resume(ids)
    after = await driver.snapshot(ids)
    effects_after = driver.effects()
    labels = [f"g{i}" for i in range(width)]
    shuffled = 0
    for run_id in ids:
        assert resumed.runs[run_id]["result"] == expected, run_id
        check_journal(before[run_id], after[run_id], width)
        check_effects(run_id, labels, before[run_id].labels, effects_before, effects_after)
        orders = [e.ord for e in after[run_id].entries]
        shuffled += orders != sorted(orders)
    assert shuffled == len(ids), "the steps were meant to finish out of call order"


@pytest.mark.slow
@pytest.mark.parametrize(("width", "chain", "runs"), [(4, 5, 60), (3, 8, 40)])
async def test_branches_killed_mid_chain(
    db_url: str, backend: str, tmp_path: pathlib.Path, width: int, chain: int, runs: int
) -> None:
    """A gather of branches that each chain steps with random latencies, killed inside the
    j-th step (j >= 1) of one branch, for many seeds: replay must hand each journaled
    result back to the branch that made the call, in the original interleaving.
    """
    driver = Driver(db_url, tmp_path)
    max_delay = 0.04
    seeds = sample(list(range(runs)), backend, every=10)
    points = {}
    for seed in seeds:
        rng = random.Random(seed)
        points[seed] = (rng.randrange(width), rng.randrange(1, chain))
    specs = [{"id": "reference", "workflow": "e2e.branches", "args": [width, chain, max_delay]}]
    specs += [
        {
            "id": f"branches-{seed}",
            "workflow": "e2e.branches",
            "args": [width, chain, max_delay],
            "crash": "in:b{}.{}".format(*points[seed]),
        }
        for seed in seeds
    ]
    crashed = driver.crash(specs)
    expected = expected_branches(width, chain)
    assert crashed.runs["reference"]["result"] == expected
    ids = [spec["id"] for spec in specs[1:]]
    before = await driver.snapshot(ids)
    effects_before = driver.effects()
    interleaved = 0
    for seed, run_id in zip(seeds, ids, strict=True):
        b, j = points[seed]
        mine = {label for label in before[run_id].labels if label.startswith(f"b{b}.")}
        assert mine == {f"b{b}.{i}" for i in range(j)}, (run_id, sorted(mine))

    resumed = driver.resume(ids)
    after = await driver.snapshot(ids)
    effects_after = driver.effects()
    labels = [f"b{b}.{j}" for b in range(width) for j in range(chain)]
    for run_id in ids:
        outcome = resumed.runs[run_id]
        assert outcome.get("result") == expected, (run_id, outcome)
        check_journal(before[run_id], after[run_id], width * chain)
        check_effects(run_id, labels, before[run_id].labels, effects_before, effects_after)
        # did the branches drift apart (call order unlike a round robin over the branches)?
        names = [h.output.split(":")[0] for h in after[run_id].history]
        round_robin = sorted(names, key=lambda n: tuple(map(int, n[1:].split(".")))[::-1])
        interleaved += names != round_robin
    assert interleaved >= len(ids) // 2, "the branches were meant to interleave"
