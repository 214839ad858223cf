"""Generations seen from the CLI (history, show, replay), the Parquet export, fork and
restart."""

from __future__ import annotations

from pathlib import Path

import pytest

import durable
from durable import export
from tests.cli.harness import Cli
from tests.generations import jobs

pytestmark = pytest.mark.timeout(120)


async def test_cli_reads_every_generation(
    engine: durable.Engine, db_url: str, tmp_path: Path
) -> None:
    assert await engine.run(jobs.chain, 0, 0, 12, workflow_id="c") == sum(range(12))
    cli = Cli(db_url, tmp_path)
    first = cli.json_lines("history", "c", "--generation", "1", "--json")
    assert [row["kind"] for row in first] == ["step"] * 5 + ["continue"]
    current = cli.json_lines("history", "c", "--json")
    assert [row["kind"] for row in current] == ["step"] * 2
    missing = cli("history", "c", "--generation", "7", ok=False)
    assert "generations are 1 to 3" in missing.stderr
    shown = cli("show", "c").stdout
    assert "generations (continue_as_new)" in shown and "(current)" in shown
    replayed = cli("replay", "c", "--generation", "2", "-m", "tests.generations.jobs")
    assert "continues as new" in replayed.stdout


async def test_export_keeps_every_generation(engine: durable.Engine, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    await engine.run(jobs.chain, 0, 0, 12, workflow_id="e")
    await export.export(engine.journal, str(tmp_path / "archive"))
    files = sorted((tmp_path / "archive" / "entries").rglob("*.parquet"))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    by_generation = {g: [r["kind"] for r in rows if r["generation"] == g] for g in (1, 2, 3)}
    assert by_generation == {
        1: ["step"] * 5 + ["continue"],
        2: ["step"] * 5 + ["continue"],
        3: ["step"] * 2,
    }
    load = export.load_archived(str(tmp_path / "archive"), "e")
    assert [e.kind for e in load.entries] == ["step"] * 2


async def test_fork_reuses_the_current_generation_and_restart_starts_over(
    engine: durable.Engine,
) -> None:
    await engine.run(jobs.chain, 0, 0, 12, workflow_id="f")
    forked = await engine.fork("f", from_step=1)
    assert await forked.result(timeout=30) == sum(range(12))
    assert [e.kind for e in await engine.history(forked.id)] == ["step"] * 2
    again = await engine.restart("f")
    assert await again.result(timeout=30) == sum(range(12))
    assert len(await engine.generations(again.id)) == 2  # from generation 1 again
