"""examples/web_audit.py runs as documented and writes its audit file."""

from __future__ import annotations

import subprocess
import sys

from tests.http.conftest import ROOT, _env


def test_web_audit_example(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "web_audit.py")],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"crawled: {sum(1000 + i for i in range(50) if i not in (17, 41))} bytes"
    assert lines[1].startswith("wrote crawl-audit.html (") and lines[2] == "folded: True"
    page = (tmp_path / "crawl-audit.html").read_text(encoding="utf-8")
    assert "page 17 did not answer" in page and "page 41 did not answer" in page
