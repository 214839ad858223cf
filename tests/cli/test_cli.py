"""The `durable` command line through its real entry point, on both backends."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from tests.cli.harness import Cli, assert_one_error_line

M = ("-m", "tests.cli.flows")


@pytest.fixture
def cli(db_url: str, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


def _family(cli: Cli, tmp_path, run_id: str = "fam") -> None:
    marker = str(tmp_path / f"{run_id}.marker")
    out = cli("start", "tests.cli.flows:family", json.dumps([marker]), "--id", run_id, "--wait")
    result = json.loads(out.stdout)
    assert result["kids"] == [10, 20] and result["retried"] == "recovered"


def test_list_show_history(cli: Cli, tmp_path) -> None:
    out = cli("start", "tests.cli.flows:pipeline", '[["a", "b", "c"]]', "--id", "pipe", "--wait")
    assert json.loads(out.stdout) == ["A", "B", "C"]
    _family(cli, tmp_path)

    listed = cli("list").stdout.splitlines()
    assert listed[0].split()[:3] == ["ID", "WORKFLOW", "STATUS"]
    assert all(len(line) <= 80 for line in listed)
    assert {line.split()[0] for line in listed[1:]} == {"pipe", "fam", "fam.1", "fam.2"}

    runs = cli.json_lines("list", "--json")
    assert [r["id"] for r in runs][-1] == "pipe"  # newest first
    by_id = {r["id"]: r for r in runs}
    assert by_id["fam.1"]["parent_id"] == "fam" and by_id["fam.1"]["root_id"] == "fam"
    assert by_id["pipe"]["status"] == "SUCCEEDED" and by_id["pipe"]["name"] == "cli.pipeline"
    assert {"created_at", "finished_at", "duration"} <= set(by_id["pipe"])
    only = cli.json_lines("list", "--json", "--name", "cli.child", "--status", "succeeded")
    assert sorted(r["id"] for r in only) == ["fam.1", "fam.2"]
    assert len(cli.json_lines("list", "--json", "--limit", "1")) == 1

    shown = cli("show", "fam").stdout
    lines = shown.splitlines()
    assert all(len(line) <= 80 for line in lines), shown
    assert "SUCCEEDED" in shown and "cli.family" in shown
    step_rows = {line.split()[0]: line.split() for line in lines if line[:1].isdigit()}
    flaky = step_rows["6"]
    assert flaky[1:5] == ["step", "cli.flaky", "ok", "2"], flaky  # two tries
    assert "lineage" in lines and any("- fam.1" in line for line in lines)
    assert any("event set" in line and '"children done"' in line for line in lines)
    assert any("received" in line and "greeting" in line for line in lines)

    entries = cli.json_lines("history", "pipe", "--json")
    assert [(e["seq"], e["kind"], e["name"], e["status"]) for e in entries] == [
        (0, "step", "cli.fetch", "ok"),
        (1, "step", "cli.fetch", "ok"),
        (2, "step", "cli.fetch", "ok"),
    ]
    assert [e["output"] for e in entries] == ["A", "B", "C"]
    human = cli("history", "fam").stdout.splitlines()
    assert human[0].split()[:4] == ["SEQ", "ORD", "KIND", "NAME"] and len(human) == 8
    blob = json.loads(cli("history", "fam", "--json").stdout.splitlines()[5])
    assert blob["name"] == "cli.blob" and blob["output"] is None and not blob["output_plain"]


def test_cancel_resume_fork_restart(cli: Cli, tmp_path) -> None:
    failed = cli("start", "tests.cli.flows:fragile", "[true]", "--id", "frag", "--wait", ok=False)
    assert "boom: the step failed" in failed.stderr
    assert "ValueError: boom" in cli("show", "frag").stdout
    assert cli.effects_seen() == ["fetch a", "boom"]

    fixed = tmp_path / "fixed"
    fixed.touch()
    cli.clear_effects()
    resumed = cli("resume", "frag", *M, FLOWS_FIXED=str(fixed))
    assert json.loads(resumed.stdout) == ["A", "fine"]
    assert cli.effects_seen() == ["boom"]  # fetch was replayed from the journal

    cli.clear_effects()
    forked = cli("fork", "frag", "--from-step", "1", *M, FLOWS_FIXED=str(fixed))
    new_id, result = forked.stdout.splitlines()
    assert new_id.startswith("frag-fork-") and json.loads(result) == ["A", "fine"]
    assert cli.effects_seen() == ["boom"]

    cli.clear_effects()
    restarted = cli("restart", "frag", *M, FLOWS_FIXED=str(fixed))
    new_id, result = restarted.stdout.splitlines()
    assert new_id.startswith("frag-restart-") and json.loads(result) == ["A", "fine"]
    assert cli.effects_seen() == ["fetch a", "boom"]
    statuses = {r["id"]: r["status"] for r in cli.json_lines("list", "--json")}
    assert set(statuses.values()) == {"SUCCEEDED"} and len(statuses) == 3

    assert cli("start", "tests.cli.flows:sleepy", "--id", "zz").stdout.strip() == "zz"
    assert cli.json_lines("list", "--json", "--name", "cli.sleepy")[0]["status"] == "PENDING"
    assert cli("cancel", "zz").stdout.strip() == "zz: CANCELLED"


def test_replay_runs_no_body_and_writes_nothing(cli: Cli, tmp_path) -> None:
    _family(cli, tmp_path)
    before = (cli("list", "--json").stdout, cli("history", "fam", "--json").stdout)
    cli.clear_effects()
    out = cli("replay", "fam", *M).stdout.splitlines()
    calls = [line.split() for line in out if line.strip().startswith("seq")]
    assert [c[1] for c in calls] == [str(n) for n in range(7)]
    assert all(c[-1] == "ok" for c in calls)
    assert out[-1].startswith("replayed run 'fam' (cli.family): it returns {")
    assert cli.effects_seen() == []
    assert (cli("list", "--json").stdout, cli("history", "fam", "--json").stdout) == before


def test_replay_reports_the_divergence_and_check_finds_it(cli: Cli) -> None:
    cli("start", "tests.cli.flows:pipeline", '[["a", "b"]]', "--id", "pipe", "--wait")
    assert (
        cli("replay", "--check", *M).stdout.strip() == "no run would break under the current code"
    )
    diverged = cli("replay", "pipe", *M, ok=False, FLOWS_VARIANT="changed")
    assert diverged.returncode == 3
    last = diverged.stdout.strip().splitlines()[-1]
    assert last.startswith("diverged: workflow 'pipe' diverged from its journal at seq 1")
    assert "cli.stamp" in last and "cli.fetch" in last
    assert diverged.stderr == ""
    checked = cli(
        "replay", "--check", "--name", "cli.pipeline", *M, ok=False, FLOWS_VARIANT="changed"
    )
    assert checked.returncode == 3
    assert checked.stdout.splitlines()[0].startswith("pipe  cli.pipeline: workflow 'pipe'")
    future = cli("replay", "--check", "--since", "2999-01-01", *M, FLOWS_VARIANT="changed")
    assert "no run would break" in future.stdout


def test_replay_break_at_and_pdb(cli: Cli) -> None:
    cli("start", "tests.cli.flows:pipeline", '[["a", "b"]]', "--id", "pipe", "--wait")
    stopped = cli("replay", "pipe", "--break-at", "1", *M, stdin="p seq\nc\n")
    assert "break before seq 1" in stopped.stdout and "(Pdb) 1" in stopped.stdout
    post = cli("replay", "pipe", "--pdb", *M, stdin="c\n", ok=False, FLOWS_VARIANT="changed")
    assert post.returncode == 3 and "(Pdb)" in post.stdout


def test_errors_are_one_line(cli: Cli, tmp_path) -> None:
    for command in (["show", "nope"], ["history", "nope"], ["cancel", "nope"]):
        assert_one_error_line(cli(*command, ok=False), "nope")
    assert_one_error_line(cli("replay", "nope", *M, ok=False), "nope")
    assert_one_error_line(cli("resume", "nope", *M, ok=False), "nope")
    assert_one_error_line(cli("-m", "no_such_module_here", "list", ok=False), "no_such_module")
    assert_one_error_line(
        cli("start", "tests.cli.flows:pipeline", "[1,", ok=False), "bad JSON_ARGS"
    )
    assert_one_error_line(cli("start", "tests.cli.nope:flow", ok=False), "tests.cli.nope")
    bad = Cli(f"sqlite:///{tmp_path}/missing/dir/j.db", tmp_path)
    assert_one_error_line(bad("list", ok=False), "does not exist")
    refused = Cli("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    assert_one_error_line(refused("list", ok=False), "Postgres")
    assert_one_error_line(
        cli("prune", "--older-than", "soon", "--from", ".", ok=False), "bad duration"
    )


def test_replay_of_a_corrupt_entry_fails_and_check_goes_on(sqlite_url: str, tmp_path) -> None:
    cli = Cli(sqlite_url, tmp_path)
    for run_id in ("pipe-a", "pipe-b"):
        cli("start", "tests.cli.flows:pipeline", '[["a", "b"]]', "--id", run_id, "--wait")
    path = sqlite_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "UPDATE durable_entries SET output = x'54ffff00' WHERE run_id = 'pipe-a' AND seq = 0"
        )
    replayed = cli("replay", "pipe-a", *M, ok=False)
    assert replayed.returncode == 4
    assert "cannot replay run 'pipe-a'" in replayed.stdout and "corrupt" in replayed.stdout
    checked = cli("replay", "--check", *M, ok=False)
    assert checked.returncode == 4
    lines = checked.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pipe-a  cli.pipeline: corrupt: ")
    assert "1 run(s)" in checked.stderr  # pipe-b was replayed too, and is fine
