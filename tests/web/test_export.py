"""The audit file's content, read as text: `durable show ID --html` writes one
document with its stylesheet and script inline, that may fetch nothing, and holds the
run's timeline and every call of its table (a folded fan-out written out in full)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.http.conftest import ROOT, _env
from tests.web.conftest import Journal


def _show(journal: Journal, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable.cli", "--db", journal.url, "show", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_audit_file_is_self_contained(journal: Journal) -> None:
    shown = _show(journal, journal.failing, "--html")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    assert "default-src 'none'" in text  # its policy forbids every fetch
    assert "<style>" in text and "<script>" in text
    assert not re.search(r"""(src|href)=["']?(https?:|//|static/)""", text)
    assert "<link" not in text
    assert "upstream billing refused the connection" in text
    assert 'id="tl-1"' in text and text.count('class="bar fail"') >= 3
    assert 'class="bar gap"' in text
    assert 'id="call-0"' in text and 'id="call-1"' in text
    assert "fork here" not in text and "data-action" not in text


def test_a_folded_fan_out_is_written_out_in_full(journal: Journal) -> None:
    shown = _show(journal, journal.fan_out, "--html")
    assert shown.returncode == 0, shown.stderr
    rows = re.findall(r'<tr id="call-(\d+)"', shown.stdout)
    assert sorted(map(int, rows)) == list(range(40))
    assert "web.fetch</b> &times; 40: 40 ok" in shown.stdout


def test_an_unknown_run_is_one_line(journal: Journal) -> None:
    shown = _show(journal, "no-such-run", "--html")
    assert shown.returncode != 0
    assert "no run 'no-such-run'" in shown.stderr and "durable list" in shown.stderr
    assert shown.stdout == ""


def test_values_are_escaped(journal: Journal) -> None:
    from durable.http.web import text

    assert text.value("<script>alert(1)</script>") == (
        '<code class="v">&lt;script&gt;alert(1)&lt;/script&gt;</code>'
    )
    long = text.value("x" * 500)
    assert "<details" in long and long.count("x") >= 500
