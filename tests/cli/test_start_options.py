"""``durable start`` with ``--delay``, ``--start-at``, ``--partition-key`` and
``--dedup-key``, and a start by journal name that imports nothing, on both backends."""

from __future__ import annotations

import json

import pytest

from tests.cli.harness import Cli, assert_one_error_line


@pytest.fixture
def cli(db_url: str, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


def test_start_by_name_with_options_then_list_and_show(cli: Cli) -> None:
    args = ("start", "cli.pipeline", '[["a"]]', "--id", "later", "--delay", "3600")
    out = cli(*args, "--partition-key", "tenant-7", "--dedup-key", "order-1")
    assert out.stdout.strip() == "later"
    again = cli("start", "cli.pipeline", '[["b"]]', "--dedup-key", "order-1")
    assert again.stdout.strip() == "later"  # the unfinished run holding the key

    (run,) = cli.json_lines("list", "--json")
    assert run["id"] == "later" and run["status"] == "PENDING"
    assert run["start_at"] and run["partition_key"] == "tenant-7"
    assert run["dedup_key"] == "order-1"
    listed = cli("list").stdout.splitlines()
    assert listed[0].split()[-1] == "TOOK/DUE" and " due " in listed[1]
    assert all(len(line) <= 80 for line in listed)
    shown = cli("show", "later").stdout
    assert "due" in shown and "PENDING" in shown and "tenant-7" in shown


def test_a_delayed_start_waits_then_runs(cli: Cli) -> None:
    out = cli("start", "tests.cli.flows:pipeline", '[["x"]]', "--delay", "0.3", "--wait")
    assert json.loads(out.stdout) == ["X"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (("--delay", "-1"), "not negative"),
        (("--start-at", "nope"), "--start-at"),
        (("--start-at", "2030-01-01T00:00:00"), "time zone"),
        (("--dedup-key", ""), "dedup_key"),
    ],
)
def test_bad_start_options_are_one_error_line(cli: Cli, options, fragment: str) -> None:
    result = cli("start", "cli.pipeline", "[]", *options, ok=False)
    assert_one_error_line(result, fragment)


def test_a_malformed_name_is_one_error_line(cli: Cli) -> None:
    result = cli("start", "has space", ok=False)
    assert_one_error_line(result, "journal name")
