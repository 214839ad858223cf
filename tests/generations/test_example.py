"""`examples/long_lived_entity.py` runs as documented, in a fresh directory."""

from __future__ import annotations

import pathlib

import pytest

from tests.e2e.test_examples import ROOT, run_example

pytestmark = pytest.mark.timeout(120)

ENTITY = ROOT / "examples" / "long_lived_entity.py"


def test_long_lived_entity_continues_as_new_and_resumes_from_heartbeats(
    tmp_path: pathlib.Path,
) -> None:
    first = run_example(ENTITY, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "  batch 5: attempt 2 resumes at line 10",
        "stock: 1560",
        "generations: 3; entries of the past ones: [5, 5]",
        "generation 1: steps 20 40 60 80, then continue",
    ]
    assert "sent no heartbeat for 0.5s" in first.stderr
    again = run_example(ENTITY, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == first.stdout.splitlines()[1:]  # read back
