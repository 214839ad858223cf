"""Parquet export, prune and replay from the archive, through the real CLI, on both backends."""

from __future__ import annotations

import json
import os

import pytest

import durable
from durable import export
from tests.cli.harness import Cli

pa = pytest.importorskip("pyarrow")
ds = pytest.importorskip("pyarrow.dataset")

M = ("-m", "tests.cli.flows")


@pytest.fixture
def cli(db_url: str, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


def _start(cli: Cli, workflow: str, args: object, run_id: str, **env: str) -> None:
    cli("start", f"tests.cli.flows:{workflow}", json.dumps(args), "--id", run_id, "--wait", **env)


def _table(folder, name: str):
    return ds.dataset(os.path.join(folder, name), format="parquet", partitioning="hive").to_table()


def _files(folder) -> dict[str, bytes]:
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = handle.read()
    return found


async def test_export_reads_back_equal_to_the_journal(cli: Cli, db_url: str, tmp_path) -> None:
    _start(cli, "family", [str(tmp_path / "marker")], "fam")
    _start(cli, "pipeline", [["a", "b"]], "pipe")
    archive = tmp_path / "archive"
    out = cli("export", str(archive)).stdout
    assert out.startswith("exported 4 run(s)")

    runs = _table(archive, "runs").to_pylist()
    entries = _table(archive, "entries").to_pylist()
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        loads = {r.id: await engine.journal.load(r.id) for r in await engine.list()}
    assert sorted(r["id"] for r in runs) == sorted(loads)
    for row in runs:
        run = loads[row["id"]].run
        assert (row["name"], row["status"], row["parent_id"], row["root_id"]) == (
            run.name,
            str(run.status),
            run.parent_id,
            run.root_id,
        )
        assert row["input"] == run.input and row["output"] == run.output
        assert row["workflow"] == run.name and str(row["date"])[:4].isdigit()
        assert abs(row["finished_at"].timestamp() - run.finished_at) < 1e-5
    exported = sorted(
        (
            e["run_id"],
            e["seq"],
            e["ord"],
            e["kind"],
            e["name"],
            e["status"],
            e["fingerprint"],
            e["output"],
            e["error"],
            e["attempts"],
            e["child_id"],
        )
        for e in entries
    )
    journal = sorted(
        (
            e.run_id,
            e.seq,
            e.ord,
            e.kind,
            e.name,
            e.status,
            e.fingerprint,
            e.output,
            e.error,
            e.attempts,
            e.child_id,
        )
        for load in loads.values()
        for e in load.entries
    )
    assert exported == journal
    by_key = {(e["run_id"], e["seq"]): e for e in entries}
    assert json.loads(by_key["pipe", 1]["output_json"]) == "B"
    assert json.loads(by_key["fam", 1]["output_json"]) == 10  # a child's result
    assert by_key["fam", 5]["output_json"] is None  # bytes: raw only
    assert by_key["fam", 5]["output"] == loads["fam"].entries[5].output
    pipe = next(r for r in runs if r["id"] == "pipe")
    assert json.loads(pipe["output_json"]) == ["A", "B"]
    attempts = _table(archive, "attempts").to_pylist()
    assert [(a["run_id"], a["seq"], a["error_type"]) for a in attempts] == [
        ("fam", 6, "builtins.RuntimeError")
    ]


@pytest.mark.parametrize("reader", ["pandas", "duckdb"])
def test_readable_by_pandas_and_duckdb(cli: Cli, tmp_path, reader: str) -> None:
    module = pytest.importorskip(reader)
    _start(cli, "pipeline", [["a"]], "pipe")
    archive = tmp_path / "archive"
    cli("export", str(archive))
    if reader == "pandas":
        frame = module.read_parquet(archive / "entries")
        assert list(frame["output_json"]) == ['"A"']
        return
    duckdb = module
    rows = duckdb.sql(
        f"select name, workflow from read_parquet('{archive}/runs/*/*/*.parquet', "
        "hive_partitioning = true)"
    ).fetchall()
    assert rows == [("cli.pipeline", "cli.pipeline")]


def test_export_twice_writes_nothing_new(cli: Cli, tmp_path) -> None:
    _start(cli, "pipeline", [["a"]], "one")
    archive = tmp_path / "archive"
    assert cli("export", str(archive), "--until", "2000-01-01").stdout.startswith("nothing new")
    assert not os.path.exists(archive / export.STATE_FILE)
    cli("export", str(archive))
    first = _files(archive)
    assert cli("export", str(archive)).stdout.startswith("nothing new")
    assert _files(archive) == first
    _start(cli, "pipeline", [["b"]], "two")
    assert cli("export", str(archive)).stdout.startswith("exported 1 run(s)")
    ids = _table(archive, "runs").column("id").to_pylist()
    assert sorted(ids) == ["one", "two"]


def test_prune_never_loses_an_unexported_run(cli: Cli, tmp_path) -> None:
    archive = tmp_path / "archive"
    _start(cli, "pipeline", [["a"]], "old")
    cli("start", "tests.cli.flows:fragile", "[true]", "--id", "frag", "--wait", ok=False)
    cli("export", str(archive))
    fixed = tmp_path / "fixed"
    fixed.touch()
    cli("resume", "frag", *M, FLOWS_FIXED=str(fixed))  # finished again after its export
    _start(cli, "pipeline", [["b"]], "new")  # never exported
    running = cli("start", "tests.cli.flows:sleepy", "--id", "sleepy").stdout.strip()

    assert "pruned 0" in cli("prune", "--older-than", "1d", "--from", str(archive)).stdout
    assert "pruned 1" in cli("prune", "--older-than", "0s", "--from", str(archive)).stdout
    left = {r["id"]: r["status"] for r in cli.json_lines("list", "--json")}
    assert left == {"frag": "SUCCEEDED", "new": "SUCCEEDED", running: "PENDING"}
    assert cli("history", "old", ok=False).returncode == 1

    cli("export", str(archive))
    assert "pruned 2" in cli("prune", "--older-than", "0s", "--from", str(archive)).stdout
    assert [r["id"] for r in cli.json_lines("list", "--json")] == [running]
    no_dir = cli("prune", "--older-than", "0s", ok=False)
    assert "--from DIR" in no_dir.stderr


def test_replay_from_parquet_after_prune(cli: Cli, tmp_path) -> None:
    archive = tmp_path / "archive"
    _start(cli, "family", [str(tmp_path / "marker")], "fam")
    cli("export", str(archive))
    cli("prune", "--older-than", "0s", "--from", str(archive))
    assert cli.json_lines("list", "--json") == []
    cli.clear_effects()
    out = cli("replay", "--from", str(archive), "fam", *M).stdout.splitlines()
    assert len([line for line in out if line.strip().startswith("seq")]) == 7
    assert out[-1].startswith("replayed run 'fam' (cli.family): it returns {")
    assert '"kids":[10,20]' in out[-1]
    assert cli.effects_seen() == []
    child = cli("replay", "--from", str(archive), "fam.2", *M).stdout.splitlines()[-1]
    assert child.endswith("it returns 20")
    _start(cli, "pipeline", [["a", "b"]], "pipe")
    cli("export", str(archive))
    diverged = cli("replay", "--from", str(archive), "pipe", *M, ok=False, FLOWS_VARIANT="changed")
    assert diverged.returncode == 3 and "at seq 1" in diverged.stdout
    missing = cli("replay", "--from", str(archive), "nope", *M, ok=False)
    assert "no run 'nope' in the archive" in missing.stderr
