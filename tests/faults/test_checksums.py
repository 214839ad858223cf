"""Flipped bytes in stored payloads: every payload carries a CRC-32 (`durable.codec`), so a
changed byte is a `JournalError` naming run and seq, never a wrong value, and the CLI
says "corrupt".  The bytes are changed in a real SQLite file and a real Postgres table,
as a disk fault or a hand edit would."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys

import psycopg
import pytest

import durable
from durable import codec, runs, testing
from tests.cli.harness import ROOT
from tests.waiting import wait_journaled

executed: list[str] = []


@durable.step(name="tests.faults.nine")
async def nine() -> int:
    executed.append("nine")
    return 9


@durable.step(name="tests.faults.plus_one")
async def plus_one(value: int) -> int:
    executed.append("plus_one")
    return value + 1


@durable.workflow(name="tests.faults.checked")
async def checked(pause: float) -> int:
    first = await nine()
    await durable.sleep(pause)
    return await plus_one(first)


def _sql(db_url: str, table: str, where: str) -> tuple[str, str]:
    if db_url.startswith("sqlite"):
        return f"durable_{table}", where
    return f"durable.{table}", where.replace("?", "%s")


def stored(db_url: str, table: str, column: str, where: str, key: tuple[object, ...]) -> bytes:
    """The bytes of one stored payload, read with the driver (not through durable)."""
    name, condition = _sql(db_url, table, where)
    sql = f"SELECT {column} FROM {name} WHERE {condition}"
    if db_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn:
            row = conn.execute(sql, key).fetchone()
    else:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(sql, key).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return bytes(row[0])


def flip_last_byte(
    db_url: str, table: str, column: str, where: str, key: tuple[object, ...]
) -> tuple[bytes, bytes]:
    """Flip the last bit of one stored payload: a stored 9 (MessagePack ``0x09``) becomes 8.
    Returns (before, after)."""
    before = stored(db_url, table, column, where, key)
    after = before[:-1] + bytes([before[-1] ^ 1])
    name, condition = _sql(db_url, table, where)
    update = f"UPDATE {name} SET {column} = ? WHERE {condition}"
    if db_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn, conn:
            conn.execute(update, (after, *key))
    else:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(update.replace("?", "%s"), (after, *key))  # type: ignore[call-overload]
    return before, after


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable.cli", "--db", db_url, "-m", __name__, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_flipped_byte_in_an_entry_fails_the_run_naming_run_and_seq(db_url: str) -> None:
    executed.clear()
    first = durable.Engine(db_url, poll_interval=0)
    await first.open()
    await first.start(checked, 0.5, workflow_id="flipped")
    await wait_journaled(first, "flipped", 1)
    testing.crash(first)
    before, after = flip_last_byte(
        db_url, "entries", "output", "run_id = ? AND seq = ?", ("flipped", 0)
    )
    assert before.endswith(b"M\x09") and after.endswith(b"M\x08")

    async with durable.Engine(db_url, poll_interval=0) as second:
        with pytest.raises(durable.WorkflowFailed) as failure:
            await second.get("flipped").result(timeout=20)
        assert await second.get("flipped").status() is durable.Status.FAILED
        history = await second.history("flipped")
    cause = failure.value.__cause__
    assert isinstance(cause, durable.JournalError)
    assert cause.workflow_id == "flipped" and cause.seq == 0
    text = str(cause)
    assert "'flipped'" in text and "seq 0" in text and "checksum" in text, text
    # what to do instead of resuming, which would read the same row and fail again
    assert "Resuming would fail the same way" in text
    assert "durable history flipped" in text and "durable fork flipped --from-step 0" in text
    assert "engine.resume" not in str(failure.value), str(failure.value)
    assert "Resuming would fail the same way" in str(failure.value)
    assert executed == ["nine"], "the step after the corrupt entry must not have run"
    # no wrong value reached the user: the history says why it cannot show one
    assert isinstance(history[0].output, runs.Undecodable)
    assert "checksum" in history[0].output.error

    shown = cli(db_url, "history", "flipped")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "tests.faults.nine" in line)
    assert "corrupt" in row and "not plain data" not in row, shown.stdout
    assert " 8 " not in f" {row} "  # the flipped value is not printed as if it were data

    replayed = cli(db_url, "replay", "flipped")
    assert replayed.returncode == 4, (replayed.stdout, replayed.stderr)
    assert "'flipped'" in replayed.stdout and "seq 0" in replayed.stdout, replayed.stdout
    assert "checksum" in replayed.stdout

    # the row is left exactly as it was found
    assert stored(db_url, "entries", "output", "run_id = ? AND seq = ?", ("flipped", 0)) == after


async def test_a_flipped_byte_in_a_result_raises_instead_of_a_wrong_value(db_url: str) -> None:
    executed.clear()
    async with durable.Engine(db_url, poll_interval=0) as engine:
        assert await engine.run(checked, 0.0, workflow_id="done") == 10
    # the run's result (10 = 0x0a) and its first entry's value (9) both get a flipped bit
    flip_last_byte(db_url, "runs", "output", "id = ?", ("done",))
    flip_last_byte(db_url, "entries", "output", "run_id = ? AND seq = ?", ("done", 0))
    async with durable.Engine(db_url, execute=False) as inspector:
        with pytest.raises(durable.JournalError) as error:
            await inspector.get("done").result(timeout=5)
        assert error.value.workflow_id == "done" and "checksum" in str(error.value)
        report = await inspector.replay("done")
        assert report.corrupt is not None and report.corrupt.seq == 0, report
        assert "checksum" in str(report.corrupt)

    shown = cli(db_url, "show", "done")
    assert shown.returncode == 0, shown.stderr
    output = next(line for line in shown.stdout.splitlines() if line.strip().startswith("output"))
    assert "corrupt" in output, shown.stdout
    checked_all = cli(db_url, "replay", "--check")
    assert checked_all.returncode == 4, (checked_all.stdout, checked_all.stderr)
    assert "done" in checked_all.stdout and "checksum" in checked_all.stdout


def test_payloads_written_before_checksums_still_read() -> None:
    """The golden journals hold payloads without the frame (tests/golden): they are read as
    they are; a framed payload never starts with a byte an old one could start with."""
    payloads = codec.Codec()
    assert payloads.decode(b"M\x09") == 9
    framed = payloads.encode(9)
    assert framed[:1] == b"\xc1" and payloads.decode(framed) == 9
    assert codec.unframe(b"M\x09") == b"M\x09"


async def test_an_undecodable_entry_written_before_checksums_says_what_to_do(
    sqlite_url: str,
) -> None:
    """A corrupt payload without a frame (no checksum to fail: it cannot be decoded) gets
    the same advice, and no suggestion to resume."""
    first = durable.Engine(sqlite_url, poll_interval=0)
    await first.open()
    await first.start(checked, 0.5, workflow_id="garbled")
    await wait_journaled(first, "garbled", 1)
    testing.crash(first)
    path = sqlite_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "UPDATE durable_entries SET output = x'54ffff00' WHERE run_id = 'garbled' AND seq = 0"
        )
    async with durable.Engine(sqlite_url, poll_interval=0) as second:
        with pytest.raises(durable.WorkflowFailed) as failure:
            await second.get("garbled").result(timeout=20)
    text = str(failure.value)
    assert "cannot be decoded" in text and "Resuming would fail the same way" in text, text
    assert "durable fork garbled --from-step 0" in text and "resume(" not in text, text
