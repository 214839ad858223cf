"""examples/large_values.py runs as documented, in a fresh folder, twice."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "large_values.py"


def test_large_values_example(tmp_path: pathlib.Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outputs = [
        subprocess.run(
            [sys.executable, str(EXAMPLE)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]  # the second run reads the finished run back
    lines = outputs[0].splitlines()
    assert lines[0] == "result: 200,000 readings; warmest city Lyon (12.0 C)"
    journal_sizes = [int(line.split(": ")[1].split()[0]) for line in lines[1:4]]
    assert all(size < 1000 for size in journal_sizes)  # references, not the tables
    assert lines[4].startswith("blob store large_values.db.blobs/: 1 file(s)")
    parquet = list((tmp_path / "large_values.db.blobs" / "sha256").rglob("*.parquet"))
    assert len(parquet) == 1
