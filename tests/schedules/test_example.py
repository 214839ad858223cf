"""examples/scheduled_reports.py runs as documented, twice in one directory (the second
run backfills the same ticks: the same runs, none twice)."""

from __future__ import annotations

import pathlib

from tests.e2e.harness import ROOT
from tests.e2e.test_examples import run_example

EXAMPLE = ROOT / "examples" / "scheduled_reports.py"
BACKFILLED = [
    "backfilled nightly-cleanup@2026-03-28T01:30:00Z: cleanup of 2026-03-28 01:30 UTC, "
    "keeping 30 days",
    # 02:30 does not exist in Paris that night: the next valid instant, 03:00 CEST
    "backfilled nightly-cleanup@2026-03-29T01:00:00Z: cleanup of 2026-03-29 01:00 UTC, "
    "keeping 30 days",
    "backfilled nightly-cleanup@2026-03-30T00:30:00Z: cleanup of 2026-03-30 00:30 UTC, "
    "keeping 30 days",
]


def test_example_runs_twice(tmp_path: pathlib.Path) -> None:
    for _ in range(2):
        done = run_example(EXAMPLE, tmp_path)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[:3] == BACKFILLED
        reports = [line for line in lines if line.startswith("examples.report@")]
        assert len(reports) >= 3
        for line in reports:
            run_id, _, text = line.partition(": ")
            assert text.startswith(f"report for {run_id[-9:-1]} UTC: ")
        assert lines[-1].startswith("schedule nightly-cleanup: 30 2 * * *, next tick ")
