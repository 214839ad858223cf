"""The AI examples run as documented, each in a fresh directory, with no network."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(script: str, cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_rag_agent_streams_its_answer_then_reads_it_from_the_journal(
    tmp_path: pathlib.Path,
) -> None:
    first = _run("rag_agent.py", tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "starting run 'rag-1': 'what happens to a step after a crash?'"
    assert "  tool search('what happens to a step after a crash?')" in first.stdout
    answer = lines[-1]
    assert answer.startswith("answer: From 2 passages: Every step result is written")
    assert "[journal]" in answer
    again = _run("rag_agent.py", tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "run 'rag-1' is already in the journal (SUCCEEDED)"
    assert "tool search" not in again.stdout  # nothing executed again
    assert again.stdout.splitlines()[-1] == answer
    assert again.stdout.splitlines()[-2] == lines[-2]  # the same chunks, from the journal


def test_champion_challenger_agents_the_loser_is_cancelled(tmp_path: pathlib.Path) -> None:
    fast = _run("champion_challenger_agents.py", tmp_path)
    assert fast.returncode == 0, fast.stderr
    assert "  champion: cancelled, it lost the race" in fast.stdout
    assert "agent run agents-compare.0 (pydantic_ai.champion): CANCELLED" in fast.stdout
    assert "agent run agents-compare.1 (pydantic_ai.challenger): SUCCEEDED" in fast.stdout
    assert fast.stdout.splitlines()[-1] == "answer: challenger: 4 words"
    slow = _run(
        "champion_challenger_agents.py", tmp_path, "--id", "slow", "--challenger-latency", "3"
    )
    assert slow.returncode == 0, slow.stderr
    assert "agent run slow.1 (pydantic_ai.challenger): CANCELLED" in slow.stdout
    assert slow.stdout.splitlines()[-1] == "answer: champion: 4 words"
    replay = _run("champion_challenger_agents.py", tmp_path, "--champion-latency", "0")
    assert replay.returncode == 0, replay.stderr
    assert "thinking" not in replay.stdout  # the journal's winner, no model asked
    assert replay.stdout.splitlines()[-1] == "answer: challenger: 4 words"
