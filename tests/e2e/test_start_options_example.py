"""examples/start_options.py runs as documented, in a fresh directory."""

from __future__ import annotations

import pathlib

from tests.e2e.harness import ROOT
from tests.e2e.test_examples import run_example

EXPECTED = [
    "a second start with the key returns the same run: True",
    "reminder is PENDING until it is due",
    "tenant-7: charged A-1",
    "tenant-7: charged A-2",
    "tenant-9: charged B-1",
    "reminder sent to tenant-9",
    "reminder sent to tenant-7",
    "audit of A-1: ok",
    "audit of A-2: ok",
    "audit of B-1: ok",
    "lineage of order-A-1: audit-A-1 (SUCCEEDED)",
    "reminder sent to tenant-9",
]


def test_start_options_example(tmp_path: pathlib.Path) -> None:
    done = run_example(ROOT / "examples" / "start_options.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED
    assert (tmp_path / "start_options.db").exists()
