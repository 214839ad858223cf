"""Bad input gets a specific error naming the run, and the journal is left intact."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess

import pytest

import durable
from durable import testing
from tests.waiting import wait_journaled


@durable.step(name="tests.bad.value")
async def value(x: int) -> dict[str, int]:
    return {"x": x}


@durable.workflow(name="tests.bad.pair")
async def pair() -> list[dict[str, int]]:
    first = await value(1)
    await durable.sleep(0.3)
    return [first, await value(2)]


async def _crash_after_first_entry(engine: durable.Engine, run_id: str) -> None:
    await engine.start(pair, workflow_id=run_id)
    await wait_journaled(engine, run_id, 1)
    testing.crash(engine)


async def test_corrupt_entry_fails_the_run_with_journal_error(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    first = durable.Engine(sqlite_url, poll_interval=0)
    await first.open()
    await _crash_after_first_entry(first, "corrupt")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "UPDATE durable_entries SET output = x'54ffff00' WHERE run_id = 'corrupt' AND seq = 0"
        )
    async with durable.Engine(sqlite_url, poll_interval=0) as second:
        with pytest.raises(durable.WorkflowFailed) as failure:
            await second.get("corrupt").result(timeout=10)
        cause = failure.value.__cause__
        assert isinstance(cause, durable.JournalError)
        assert cause.workflow_id == "corrupt" and cause.seq == 0
        assert "corrupt" in str(cause) and "durable history" in str(cause)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        rows = conn.execute(
            "SELECT seq, output FROM durable_entries WHERE run_id = 'corrupt'"
        ).fetchall()
    assert rows == [(0, b"T\xff\xff\x00")], "the corrupt row must be left exactly as it was"


async def test_missing_directory_is_a_journal_error(tmp_path) -> None:
    engine = durable.Engine(f"sqlite:///{tmp_path}/missing/sub/journal.db")
    with pytest.raises(durable.JournalError) as error:
        await engine.open()
    assert "does not exist" in str(error.value) and "missing/sub" in str(error.value)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder that cannot be written: a read-only tmpfs as root (root ignores file
    modes), a chmod 555 folder otherwise.  Yields (folder, make_read_only)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
        mounted = True

    def make_read_only() -> None:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            os.chmod(folder, 0o555)

    yield folder, make_read_only
    if mounted:
        subprocess.run(["umount", str(folder)], check=False)
    else:
        os.chmod(folder, 0o755)


async def test_read_only_directory_is_a_journal_error(read_only_folder) -> None:
    folder, make_read_only = read_only_folder
    make_read_only()
    with pytest.raises(durable.JournalError) as error:
        await durable.Engine(f"sqlite:///{folder}/journal.db").open()
    assert "read-only" in str(error.value), str(error.value)
    assert not (folder / "journal.db").exists()


async def test_read_only_existing_journal_is_a_journal_error(read_only_folder) -> None:
    folder, make_read_only = read_only_folder
    url = f"sqlite:///{folder}/journal.db"
    async with durable.Engine(url) as engine:
        await engine.run(pair, workflow_id="kept")
    make_read_only()
    with pytest.raises(durable.JournalError) as error:
        engine = durable.Engine(url)
        await engine.open()
        await engine.start(pair, workflow_id="new")
    assert "read-only file system" in str(error.value), str(error.value)
    with contextlib.closing(
        sqlite3.connect(f"file:{folder}/journal.db?immutable=1", uri=True)
    ) as conn:
        assert conn.execute("SELECT count(*) FROM durable_entries").fetchone()[0] == 3


async def test_newer_schema_version_is_refused(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    async with durable.Engine(sqlite_url) as engine:
        await engine.run(pair, workflow_id="kept")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO durable_schema (version) VALUES (999)")
    with pytest.raises(durable.JournalError) as error:
        await durable.Engine(sqlite_url).open()
    assert "schema version 999" in str(error.value) and "upgrade durable" in str(error.value)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM durable_entries").fetchone()[0] == 3


async def test_foreign_tables_are_refused(tmp_path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE durable_runs (id TEXT)")
    with pytest.raises(durable.JournalError) as error:
        await durable.Engine(f"sqlite:///{path}").open()
    assert "not created by durable" in str(error.value)


async def test_unregistered_workflow_is_reported_and_left_alone(make_engine, db_url) -> None:
    engine = await make_engine()
    await engine.journal.create_run(
        durable.engine.base.NewRun(
            id="ghost",
            name="nobody.imported.this",
            input=b"M\x93\x90\x90\x90",
            root_id="ghost",
            metadata=b"M\x80",
            created_at=1.0,
        )
    )
    second = await make_engine()
    error = second.unregistered["ghost"]
    assert isinstance(error, durable.NotRegistered)
    assert error.workflow_id == "ghost" and "nobody.imported.this" in str(error)
    assert await second.get("ghost").status() is durable.Status.PENDING


async def test_unsupported_url_is_a_journal_error() -> None:
    with pytest.raises(durable.JournalError) as error:
        durable.Engine("mysql://localhost/db")
    assert "unsupported database URL" in str(error.value)
