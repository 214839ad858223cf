"""``durable stream ID KEY``: a run's durable stream, from an offset, as text or JSON."""

from __future__ import annotations

import pytest

from tests.cli.harness import Cli, assert_one_error_line


@pytest.fixture
def cli(db_url: str, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


def test_stream_prints_chunks_from_an_offset(cli: Cli) -> None:
    cli("start", "tests.cli.flows:chatty", '[["one", "two", "three"]]', "--id", "c", "--wait")
    lines = cli("stream", "c", "words").stdout.splitlines()
    assert lines == [
        '0\tworkflow, attempt 1, run attempt 1\t"one"',
        '1\tworkflow, attempt 1, run attempt 1\t"two"',
        '2\tworkflow, attempt 1, run attempt 1\t"three"',
    ]
    tail = cli.json_lines("stream", "c", "words", "--offset", "2", "--json")
    assert [(c["offset"], c["value"], c["step"]) for c in tail] == [(2, "three", None)]
    assert cli("stream", "c", "none").stdout == ""  # a finished run's empty stream ends


def test_stream_of_an_unknown_run_is_one_error_line(cli: Cli) -> None:
    assert_one_error_line(cli("stream", "nope", "words", ok=False), "nope")
