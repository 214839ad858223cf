"""Journals written by earlier versions still replay, and still resume, with this code.

Every file under ``journals/`` is restored into a new SQLite journal and then (1)
replayed for debugging (`Engine.replay`): no divergence, every journaled call matched,
the run finishes with its journaled result; and (2) resumed by a real engine from just
before its end: it finishes with the same result, runs no step body and journals
nothing new.  A failure here means a change would break runs already in users'
databases (see README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import durable
from durable.journal import base
from tests.golden import flows, journal_file

JOURNALS = Path(__file__).resolve().parent / "journals"
GOLDEN = sorted(JOURNALS.glob("*/*.jsonl"))


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _calls(entries: list[base.EntryRecord]) -> list[tuple[int, str, str]]:
    return sorted((entry.seq, entry.kind, entry.name) for entry in entries)


def test_every_golden_workflow_has_a_journal() -> None:
    have = {path.stem for path in GOLDEN}
    missing = [wf.name for wf in flows.GOLDEN if wf.name not in have]
    assert missing == [], f"run `python -m tests.golden.generate` for {missing}"


@pytest.mark.parametrize("path", GOLDEN, ids=_name)
async def test_golden_journal_replays_unchanged(path: Path, tmp_path: Path) -> None:
    header, loads = journal_file.read(path)
    assert loads[0].run.name == header.workflow
    url = f"sqlite:///{tmp_path}/journal.db"
    await journal_file.restore(url, loads)
    async with durable.Engine(url, execute=False, poll_interval=0) as engine:
        for load in loads:
            run = load.run
            assert run.status is base.Status.SUCCEEDED and run.output is not None
            restored = await engine.journal.load(run.id)
            assert restored is not None and restored.entries == load.entries
            report = await engine.replay(run.id)
            assert report.divergence is None, f"{_name(path)}, run {run.id}: {report.divergence}"
            assert report.live_at is None and report.error is None
            assert report.finished, f"{_name(path)}, run {run.id}: the replay did not finish"
            assert all(matched for *_, matched in report.calls)
            assert sorted(call[:3] for call in report.calls) == _calls(load.entries)
            assert report.result == engine.codec.decode(run.output)


@pytest.mark.parametrize("path", GOLDEN, ids=_name)
async def test_golden_journal_resumes_without_running_a_step(path: Path, tmp_path: Path) -> None:
    _, loads = journal_file.read(path)
    root = loads[0]
    url = f"sqlite:///{tmp_path}/journal.db"
    # the root as a crash just before its end would leave it: every call journaled
    await journal_file.restore(url, loads, unfinished={root.run.id})
    flows.executions.clear()
    async with durable.Engine(url, poll_interval=0) as engine:
        result = await engine.get(root.run.id).result(timeout=30)
        after = await engine.journal.load(root.run.id)
        assert root.run.output is not None
        assert result == engine.codec.decode(root.run.output)
    assert flows.executions == {}, f"step bodies ran again: {dict(flows.executions)}"
    assert after is not None and after.entries == root.entries
