"""The examples run as documented, each in a fresh directory, as a user would run them."""

from __future__ import annotations

import os
import pathlib
import signal
import sqlite3
import subprocess
import sys

import pytest

import durable
from tests.e2e.harness import ROOT

QUICKSTART = ROOT / "examples" / "quickstart.py"
ETL = ROOT / "examples" / "etl_pipeline.py"
RESULT = (
    "result: air: 5 readings, mean 14.6, max 30; traffic: 3 readings, mean 185.0, max 340; "
    "weather: 4 readings, mean 22.0, max 25"
)
STEP_LINES = [
    "  ran fetch('weather')",
    "  ran fetch('traffic')",
    "  ran fetch('air')",
    "  ran parse('weather')",
    "  ran parse('traffic')",
    "  ran parse('air')",
    "  ran summarize()",
]


def run_example(
    script: pathlib.Path, cwd: pathlib.Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ran(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("  ran ")]


def test_quickstart_runs_then_reports_the_finished_run(tmp_path: pathlib.Path) -> None:
    first = run_example(QUICKSTART, tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "starting run 'quickstart'"
    assert sorted(ran(first.stdout)) == sorted(STEP_LINES)
    assert lines[-2:] == ["7 steps journaled, 7 step bodies ran in this process", RESULT]
    assert (tmp_path / "quickstart.db").exists()

    again = run_example(QUICKSTART, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "run 'quickstart' is already in the journal (SUCCEEDED)",
        "7 steps journaled, 0 step bodies ran in this process",
        RESULT,
    ]


@pytest.mark.parametrize(
    ("crash_after", "journaled", "rerun"),
    [
        (2, {"quickstart.fetch"}, {"  ran fetch('air')", *STEP_LINES[3:]}),
        (5, {"quickstart.fetch", "quickstart.parse"}, {"  ran parse('air')", "  ran summarize()"}),
    ],
)
async def test_quickstart_crash_then_resume(
    tmp_path: pathlib.Path, crash_after: int, journaled: set[str], rerun: set[str]
) -> None:
    db = f"sqlite:///{tmp_path}/pipeline.db"
    crashed = run_example(QUICKSTART, tmp_path, "--db", db, "--crash-after", str(crash_after))
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert f"--- {crash_after} steps journaled: killing the process (SIGKILL) ---" in crashed.stdout
    assert "result:" not in crashed.stdout
    async with durable.Engine(db, execute=False) as engine:
        history = await engine.history("quickstart")
        assert await engine.get("quickstart").status() is durable.Status.RUNNING
    assert len(history) == crash_after
    assert {entry.name for entry in history} == journaled

    resumed = run_example(QUICKSTART, tmp_path, "--db", db)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == "run 'quickstart' is already in the journal (RUNNING)"
    assert set(ran(resumed.stdout)) == rerun
    assert len(ran(resumed.stdout)) == len(rerun)
    assert resumed.stdout.splitlines()[-2:] == [
        f"7 steps journaled, {len(rerun)} step bodies ran in this process",
        RESULT,
    ]


def test_etl_pipeline_loads_exactly_once(tmp_path: pathlib.Path) -> None:
    first = run_example(ETL, tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "wrote sample input etl_input.csv" in out
    assert "  extract: 240 records from etl_input.csv" in out
    for batch in (1, 3):
        assert f"  transform batch {batch}: enrichment service timed out, will retry" in out
    assert out.count("  load batch ") == 5
    summary = "run 'etl': 240 extracted, 7 rejected, 233 loaded; steps retried (seq): [2, 4]"
    assert summary in out
    regions = out.splitlines()[-3:]
    assert [line.split()[0] for line in regions] == ["east", "north", "west"]
    assert sum(int(line.split()[1]) for line in regions) == 233

    again = run_example(ETL, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [summary, *regions]

    with sqlite3.connect(tmp_path / "etl.db") as conn:
        rows = conn.execute("select count(*), count(distinct id) from readings").fetchone()
    conn.close()
    assert rows == (233, 233)


FAN_OUT = ROOT / "examples" / "fan_out_summarize.py"
CHAMPION = ROOT / "examples" / "champion_challenger.py"
SUMMARY = "summary: 6 documents, 62 words (48 distinct); top keywords: step, fan, journal"


def lineage_lines(output: str) -> list[str]:
    """The lineage tree printed at the end, durations cut off."""
    lines = output.splitlines()
    tree = lines[lines.index("lineage:") + 1 :]
    return [line.rsplit(" ", 1)[0] for line in tree]


def test_fan_out_summarize_prints_summary_and_lineage(tmp_path: pathlib.Path) -> None:
    first = run_example(FAN_OUT, tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert out.splitlines()[0] == "starting run 'fan-out': fetching 6 sources"
    fetched = sorted(line for line in out.splitlines() if " bytes in " in line)
    assert [line.split(":")[0] for line in fetched] == [f"  fetch source-{i}" for i in range(6)]
    assert out.count("  fetch source-3: connection reset, will retry") == 1
    assert "9 step bodies ran in this process; steps retried (seq): [3]" in out
    assert SUMMARY in out
    tree = [
        "  fan-out (fan_out.pipeline) SUCCEEDED",
        "      fan-out.6 (fan_out.summarize) SUCCEEDED",
        "          fan-out.6.0 (fan_out.stats) SUCCEEDED",
        "          fan-out.6.1 (fan_out.topics) SUCCEEDED",
    ]
    assert lineage_lines(out) == tree
    durations = [line.rsplit(" ", 1)[1] for line in out.splitlines()[-4:]]
    assert all(d.endswith("s") and float(d[:-1]) >= 0 for d in durations), durations
    assert float(durations[0][:-1]) >= 0.05  # the root waited for its sources
    assert (tmp_path / "fan_out_summarize.db").exists()

    again = run_example(FAN_OUT, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:3] == [
        "run 'fan-out' is already in the journal (SUCCEEDED)",
        "0 step bodies ran in this process; steps retried (seq): [3]",
        SUMMARY,
    ]
    assert lineage_lines(again.stdout) == tree

    other = run_example(FAN_OUT, tmp_path, "--db", f"sqlite:///{tmp_path}/x.db", "--id", "b")
    assert other.returncode == 0, other.stderr
    assert "  b.6 (fan_out.summarize) SUCCEEDED" in "\n".join(lineage_lines(other.stdout))


def loser_entry(line: str) -> str:
    """The loser's journal entry may not be written yet when its parent finishes (the
    parent does not wait for it): accept either, as the example prints it."""
    for state in ("cancelled", "not written"):
        line = line.replace(f"journal entry {state}", "journal entry <cancelled>")
    return line


def test_champion_challenger_races_and_journals_the_winner(tmp_path: pathlib.Path) -> None:
    first = run_example(CHAMPION, tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    report = [loser_entry(line) for line in lines if not line.startswith("  ")]
    assert "  challenger: answered" in lines
    assert "  champion: cancelled, it lost the race" in lines
    assert "  champion: answered" not in lines
    assert report[-4:] == [
        "model run champion-challenger.0 (champion): CANCELLED, journal entry <cancelled>",
        "model run champion-challenger.1 (challenger): SUCCEEDED, journal entry ok",
        "journal: race entry seq 2 won by awaitable #1 (challenger)",
        "answer: challenger says: 4 words, short question",
    ]
    assert (tmp_path / "champion_challenger.db").exists()

    again = run_example(CHAMPION, tmp_path)
    assert again.returncode == 0, again.stderr
    assert [loser_entry(line) for line in again.stdout.splitlines()] == [
        "run 'champion-challenger' is already in the journal (SUCCEEDED)",
        *report[-4:],
    ]

    flipped = run_example(
        CHAMPION, tmp_path, "--id", "slow", "--challenger-latency", "3", "--question", "q"
    )
    assert flipped.returncode == 0, flipped.stderr
    lines = flipped.stdout.splitlines()
    assert "  challenger: cancelled, it lost the race" in lines
    assert [loser_entry(line) for line in lines if not line.startswith("  ")][-4:] == [
        "model run slow.0 (champion): SUCCEEDED, journal entry ok",
        "model run slow.1 (challenger): CANCELLED, journal entry <cancelled>",
        "journal: race entry seq 2 won by awaitable #0 (champion)",
        "answer: champion says: 1 words, short question",
    ]


POLLER = ROOT / "examples" / "poll_until_stopped.py"


def test_poll_until_stopped_loses_no_stop_message(tmp_path: pathlib.Path) -> None:
    first = run_example(POLLER, tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    checks = [line for line in lines if line.startswith("  check ")]
    assert len(checks) >= 3  # the stop is sent once three checks are journaled
    assert lines[-2] == f"nightly-export: stopped after {len(checks)} checks (operator said so)"
    outcomes = lines[-1].removeprefix("journal (sleep and recv outcomes): ").split()
    # every sleep that won left a cancelled recv behind; the last recv took the message
    assert outcomes == ["sleep:ok", "recv:cancelled"] * (len(checks) - 1) + [
        "sleep:cancelled",
        "recv:ok",
    ]
    again = run_example(POLLER, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == lines[-2:]  # read back: no check runs again


APPROVAL = ROOT / "examples" / "approval.py"


def test_approval_answers_each_decision_once(tmp_path: pathlib.Path) -> None:
    first = run_example(APPROVAL, tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "  notify manager: please decide on claim-17 (240 EUR)"
    assert lines[1] == "bob's decision rejected: the submitter cannot decide on their own claim"
    assert "ann's decision accepted: {'claim': 'claim-17', 'approved': True}" in lines
    reminders = [line for line in lines if line.startswith("  notify manager: reminder")]
    assert lines[-2] == "claim-17: approved, then paid (transfer 2291)"
    journal = lines[-1].removeprefix("journal: ").split()
    # bob's request, its rejection; one timed-out wait per reminder; ann's, its reply
    waits = ["request"] * len(reminders)
    assert journal == ["request", "reject", *waits, "request", "reply", "recv_any"]
    again = run_example(APPROVAL, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == lines[-2:]  # read back: nothing runs again
