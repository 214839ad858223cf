"""mypy sees through the decorators: argument and return types are preserved."""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent


def test_decorators_preserve_types() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(HERE / "uses.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert 'uses.py:28: note: Revealed type is "bytes"' in out, out
    assert 'uses.py:29: note: Revealed type is "dict[str, int]"' in out, out
    assert 'uses.py:30: note: Revealed type is "int"' in out, out
    assert 'Revealed type is "durable.runs.Run"' in out, out
    assert "typing.Coroutine[Any, Any, str]" in out, out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert errors == [], out


def test_wrong_argument_types_are_reported(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from __future__ import annotations\n"
        "import durable\n"
        "@durable.step\n"
        "async def fetch(url: str) -> bytes:\n"
        "    return b''\n"
        "@durable.workflow\n"
        "async def wf() -> None:\n"
        "    await fetch(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 'Argument 1 to "__call__" of "Step" has incompatible type "int"' in done.stdout, (
        done.stdout
    )
