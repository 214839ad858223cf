"""Running the real `durable` entry point in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Cli:
    """``python -m durable.cli --db URL ...`` with the test workflows importable."""

    def __init__(self, url: str, tmp_path: Any) -> None:
        self.url = url
        self.effects = os.path.join(str(tmp_path), "effects.txt")
        self.env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "FLOWS_SIDE_EFFECTS": self.effects,
            "DURABLE_MODULES": "",
        }
        self.env.pop("DURABLE_DATABASE_URL", None)

    def __call__(
        self, *args: str, ok: bool | None = True, stdin: str = "", **env: str
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "durable.cli", "--db", self.url, *args],
            cwd=ROOT,
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if ok is True:
            assert result.returncode == 0, (result.stdout, result.stderr)
        elif ok is False:
            assert result.returncode != 0, (result.stdout, result.stderr)
        return result

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self(*args).stdout.splitlines()]

    def effects_seen(self) -> list[str]:
        if not os.path.exists(self.effects):
            return []
        with open(self.effects) as handle:
            return handle.read().splitlines()

    def clear_effects(self) -> None:
        if os.path.exists(self.effects):
            os.remove(self.effects)


def assert_one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Non-zero exit, and stderr is one line saying what went wrong: no traceback."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("durable: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
