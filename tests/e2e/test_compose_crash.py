"""Composition after a real SIGKILL: children, races, `recv` and durable timeouts.

Each test starts its runs in one driver process (`tests.e2e.composer`) that kills itself
once every run has frozen at its crash point or finished (a crash-free reference run
among them), then resumes them in a fresh process and compares: same outcome as the
reference, no step body whose result was journaled runs again (counted in the effects
file, per root), consistent lineage and cancellation records.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from typing import Any

import pytest

import durable
from durable.journal import base
from tests.e2e import crashy
from tests.e2e.harness import Driver

MODULE = "tests.e2e.composer"


def labels(history: list[durable.HistoryEntry]) -> set[str]:
    """Labels of the `compose.work` steps with a journaled result."""
    return {
        h.output.split(":")[0] for h in history if h.name == "compose.work" and h.status == "ok"
    }


async def tree_state(db_url: str, root: str) -> dict[str, dict[str, Any]]:
    """Every run under `root`: its record and history (read without executing anything)."""
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        records = await engine.journal.list_runs(root_id=root, limit=1000)
        return {
            record.id: {"record": record, "history": await engine.history(record.id)}
            for record in records
        }


def check_lineage(tree: dict[str, dict[str, Any]], root: str) -> None:
    """parent_id/root_id consistent: each child is ``<parent>.<seq>`` of a run of the tree,
    journaled there as the child entry of that seq."""
    for run_id, state in tree.items():
        record: base.RunRecord = state["record"]
        assert record.root_id == root, (run_id, record.root_id)
        if run_id == root:
            assert record.parent_id is None
            continue
        assert record.parent_id in tree, (run_id, record.parent_id)
        assert run_id == f"{record.parent_id}.{record.parent_seq}", run_id
        if record.status in base.TERMINAL:
            parent_history = {h.seq: h for h in tree[record.parent_id]["history"]}
            entry = parent_history.get(record.parent_seq)
            if entry is not None:
                assert entry.kind == "child", (run_id, entry)


def leaf_value(name: str, chain: int) -> str:
    value = name
    for j in range(chain):
        value = crashy.digest(value, f"{name}.{j}")
    return value


async def test_family_killed_while_children_run(db_url: str, tmp_path: pathlib.Path) -> None:
    """Five children chaining steps with random latencies, then a sixth awaited directly;
    the kill lands after M step bodies of the tree, inside the last child, or between.
    """
    driver = Driver(db_url, tmp_path, MODULE)
    width, chain, spread = 5, 3, 0.08
    cuts = [4, 10, 12, 14]  # of 15 bodies: the first children finish after about 10
    points = [f"count:{m}" for m in cuts] + ["in:c0.0", "after:gathered", "in:final.1"]
    specs = [{"id": "ref", "workflow": "compose.family", "args": [width, chain, spread]}]
    specs += [
        {"id": f"fam{i}", "workflow": "compose.family", "args": [width, chain, spread], "crash": p}
        for i, p in enumerate(points)
    ]
    crashed = driver.crash(specs)
    expected = [leaf_value(f"c{b}", chain) for b in range(width)] + [leaf_value("final", 2)]
    assert crashed.runs["ref"]["result"] == expected
    roots = [spec["id"] for spec in specs[1:]]
    before = {root: await tree_state(db_url, root) for root in roots}
    effects_before = driver.effects()
    mixed = 0
    for root, point in zip(roots, points, strict=True):
        tree = before[root]
        check_lineage(tree, root)
        assert tree[root]["record"].status is durable.Status.RUNNING, root
        statuses = {tree[f"{root}.{b}"]["record"].status for b in range(width)}
        mixed += len(statuses) > 1
        if point == "in:c0.0":
            assert f"{root}.{width}" not in tree
        if point in ("after:gathered", "in:final.1"):
            assert statuses == {durable.Status.SUCCEEDED}, (root, statuses)
    assert mixed >= 2, "the kills were meant to land while some children had finished"

    resumed = driver.resume(roots)
    effects_after = driver.effects()
    child_ids = [f"{{root}}.{b}" for b in range(width + 1)]
    every_label = [f"c{b}.{j}" for b in range(width) for j in range(chain)]
    every_label += ["final.0", "final.1"]
    for root in roots:
        assert resumed.runs[root].get("result") == expected, resumed.runs[root]
        tree = await tree_state(db_url, root)
        assert set(tree) == {root, *(c.format(root=root) for c in child_ids)}, sorted(tree)
        check_lineage(tree, root)
        assert {s["record"].status for s in tree.values()} == {durable.Status.SUCCEEDED}
        parent = tree[root]["history"]
        assert [(h.seq, h.kind, h.status) for h in parent] == [
            (seq, "child", "ok") for seq in range(width + 1)
        ]
        kept = {h.seq: h for h in parent}
        for entry in before[root][root]["history"]:
            assert kept[entry.seq] == entry, (root, entry.seq)
        journaled: set[str] = set()
        for run_id, state in before[root].items():
            journaled |= labels(state["history"])
            if state["record"].status is durable.Status.SUCCEEDED:
                # a child that had finished is not run again: same record, same journal
                assert tree[run_id]["record"].finished_at == state["record"].finished_at
                assert tree[run_id]["history"] == state["history"]
        for label in every_label:
            ran_before = effects_before[root, label]
            ran_after = effects_after[root, label] - ran_before
            if label in journaled:
                assert (ran_before, ran_after) == (1, 0), (root, label, ran_before, ran_after)
            else:
                assert ran_before <= 1 and ran_after == 1, (root, label, ran_before, ran_after)
        lineage = await lineage_of(db_url, root)
        assert [(depth, node.id) for depth, node in lineage.walk()] == [
            (0, root),
            *((1, c.format(root=root)) for c in child_ids),
        ]
    assert all(effects_after["ref", label] == 1 for label in every_label)


async def lineage_of(db_url: str, run_id: str) -> durable.LineageNode:
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        return await engine.lineage(run_id)


@pytest.mark.parametrize(
    ("winner", "point"),
    [
        ("step", "started:2"),
        ("child", "started:2"),
        ("step", "after:raced"),
        ("child", "after:raced"),
    ],
)
async def test_race_killed(
    db_url: str,
    backend: str,
    tmp_path: pathlib.Path,
    request: pytest.FixtureRequest,
    winner: str,
    point: str,
) -> None:
    """A step (seq 0) races a child run (seq 1).  Killed while both run (``started:2``:
    the race is undecided, the resumed race runs again and the faster one wins again) or
    right after the race was decided (``after:raced``: the journaled winner stands, the
    loser stays cancelled and runs no more).
    """
    driver = Driver(db_url, tmp_path, MODULE)
    fast, slow = 0.4, 30.0
    args = [fast, slow] if winner == "step" else [slow, fast]
    loser = "child" if winner == "step" else "step"
    index = {"step": 0, "child": 1}
    specs = [
        {"id": "ref", "workflow": "compose.race", "args": args},
        {"id": "raced", "workflow": "compose.race", "args": args, "crash": point},
    ]
    crashed = driver.crash(specs)
    expected = crashy.digest(crashy.digest(w_prev(winner), winner), "after")
    assert crashed.runs["ref"]["result"] == expected
    root = "raced"
    before = await tree_state(db_url, root)
    effects_before = driver.effects()
    history = before[root]["history"]
    if point == "started:2":
        assert history == [], history  # neither racer had finished
        assert effects_before[root, "step"] == effects_before[root, "child"] == 1
    else:
        race = [h for h in history if h.kind == "race"]
        assert [h.output for h in race] == [index[winner]], history

    resumed = driver.resume([root])
    effects_after = driver.effects()
    assert resumed.runs[root].get("result") == expected, resumed.runs[root]
    tree = await tree_state(db_url, root)
    check_lineage(tree, root)
    assert set(tree) == {root, f"{root}.1"}, sorted(tree)
    entries = {h.seq: h for h in tree[root]["history"]}
    kinds = [(h.seq, h.kind) for h in entries.values()]
    assert kinds == [(0, "step"), (1, "child"), (2, "race"), (3, "step")]
    assert entries[2].output == index[winner]
    assert entries[index[winner]].status == "ok"
    assert entries[index[loser]].status == "cancelled", entries[index[loser]]
    child_status = tree[f"{root}.1"]["record"].status
    wanted = durable.Status.SUCCEEDED if winner == "child" else durable.Status.CANCELLED
    assert child_status is wanted, child_status
    assert tree[root]["record"].status is durable.Status.SUCCEEDED
    # the winner's body ran to its end once; the loser never finished a body
    ran = {label: effects_after[root, label] - effects_before[root, label] for label in index}
    if point == "after:raced":
        assert ran == {"step": 0, "child": 0}, ran
    else:
        assert ran == {"step": 1, "child": 1}, ran
        assert effects_after[root, f"{loser}:cancelled"] == 1
    assert effects_after[root, f"{winner}:cancelled"] == 0
    assert effects_after[root, "after"] == 1
    assert effects_after["ref", "after"] == 1


def w_prev(winner: str) -> str:
    """What the race's winner was fed: the step gets "race", the child's step "model"."""
    return "race" if winner == "step" else "model"


async def send_all(db_url: str, messages: dict[str, list[Any]]) -> None:
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        for run_id, values in messages.items():
            for value in values:
                await engine.send(run_id, "jobs", value)


async def test_recv_killed_while_waiting(db_url: str, tmp_path: pathlib.Path) -> None:
    """Killed while waiting in `recv` (before the first message, or after one); the next
    messages are sent while no process runs; the resumed run receives each exactly once,
    in send order, and an extra message stays unread.
    """
    driver = Driver(db_url, tmp_path, MODULE)
    specs = [
        {"id": "ref", "workflow": "compose.inbox", "args": [3], "send": [{"n": 0}, [1], "two"]},
        {"id": "wait0", "workflow": "compose.inbox", "args": [3], "crash": "recv:0"},
    ]
    inbox = {"workflow": "compose.inbox", "args": [3]}
    specs += [
        {"id": "wait1", **inbox, "crash": "recv:1", "send": [{"n": 0}]},
        {"id": "wait2", **inbox, "crash": "recv:2", "send": [{"n": 0}, [1]]},
    ]
    crashed = driver.crash(specs)
    before_label = crashy.digest("", "before")
    expected = [before_label, {"n": 0}, [1], "two"]
    assert crashed.runs["ref"]["result"] == expected
    roots = ["wait0", "wait1", "wait2"]
    before = {root: await tree_state(db_url, root) for root in roots}
    for k, root in enumerate(roots):
        recvs = [h for h in before[root][root]["history"] if h.kind == "recv"]
        assert [h.output for h in recvs] == expected[1 : 1 + k], (root, recvs)
        assert before[root][root]["record"].status is durable.Status.RUNNING
    rest = {root: [*expected[1 + k :], "extra"] for k, root in enumerate(roots)}
    await send_all(db_url, rest)
    effects_before = driver.effects()

    resumed = driver.resume(roots)
    effects_after = driver.effects()
    for k, root in enumerate(roots):
        assert resumed.runs[root].get("result") == expected, resumed.runs[root]
        history = (await tree_state(db_url, root))[root]["history"]
        recvs = [h.output for h in history if h.kind == "recv"]
        assert recvs == expected[1:], (root, recvs)
        for label in ["before", *(f"got{i}" for i in range(3))]:
            assert effects_after[root, label] == 1, (root, label)
        ran_after = sum(
            effects_after[root, f"got{i}"] - effects_before[root, f"got{i}"] for i in range(3)
        )
        assert ran_after == 3 - k, (root, ran_after)  # fmt: skip
    # the extra message is still there, unread: a new receiver of the same id would get it
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        for root in roots:
            assert await engine.get(root).status() is durable.Status.SUCCEEDED


async def test_deadlines_pass_while_the_process_is_dead(
    db_url: str, tmp_path: pathlib.Path
) -> None:
    """`durable.timeout`, a workflow-level `timeout=` and a `recv` deadline whose time
    runs out while no process runs: the resumed runs time out at once.  A longer
    `durable.timeout` still running at the resume fires at its original deadline.
    """
    driver = Driver(db_url, tmp_path, MODULE)
    specs = [
        {"id": "short", "workflow": "compose.bounded", "args": [1.0], "crash": "in:slow"},
        {"id": "long", "workflow": "compose.bounded", "args": [4.0], "crash": "in:slow"},
        {"id": "whole", "workflow": "compose.whole", "args": [], "crash": "in:slow"},
        {"id": "patient", "workflow": "compose.patient", "args": [1.0], "crash": "recv:0"},
    ]
    driver.crash(specs)
    ids = [spec["id"] for spec in specs]
    snapshot = await driver.snapshot(ids)
    deadlines = {}
    for run_id in ids:
        assert snapshot[run_id].status is durable.Status.RUNNING, run_id
        (timer,) = snapshot[run_id].timers
        deadlines[run_id] = timer.wake_at
    assert deadlines["long"] - deadlines["short"] > 2.5  # set within a moment of each other
    # wait until the short deadlines have passed, with the process dead
    await asyncio.sleep(
        max(0.0, max(deadlines[i] for i in ("short", "whole", "patient")) - time.time() + 0.2)
    )

    resumed = driver.resume(ids)
    opened = next(line["opened"] for line in resumed.lines if "opened" in line)
    assert resumed.runs["short"].get("result") == "timed out", resumed.runs["short"]
    assert resumed.runs["long"].get("result") == "timed out", resumed.runs["long"]
    assert resumed.runs["patient"].get("result") == ["got", None], resumed.runs["patient"]
    failed = resumed.runs["whole"]
    assert (failed["status"], failed.get("cause_type")) == ("FAILED", "TimeoutError"), failed
    finished = {}
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        for run_id in ids:
            info = await engine.get(run_id).info()
            assert info.finished_at is not None
            finished[run_id] = info.finished_at.timestamp()
    for run_id in ("short", "whole", "patient"):
        # at once: not a fresh 1-1.5 s clock started at the resume
        assert finished[run_id] - opened < 0.9, (run_id, finished[run_id] - opened)
    # the long one fired at its journaled deadline, not 4 s after the resume
    assert abs(finished["long"] - deadlines["long"]) < 0.9, finished["long"] - deadlines["long"]
    assert finished["long"] < opened + 3.5
    effects = driver.effects()
    for run_id in ("short", "long"):
        assert effects[run_id, "before"] == 1, run_id
        assert effects[run_id, "slow:cancelled"] <= 1
        history = (await tree_state(db_url, run_id))[run_id]["history"]
        assert [(h.seq, h.kind, h.status) for h in history] == [
            (0, "step", "ok"),
            (1, "timeout", "ok"),
            (2, "step", "cancelled"),
        ], (run_id, history)
        assert history[1].output is True
