"""A journal that cannot be written is found at open: engines that start or execute runs
refuse it with an error saying so, and the CLI's inspection commands (list, show,
history, replay) open it read-only.  Real files: a tmpfs remounted read-only when the
tests run as root (root ignores file modes), a chmod 555 folder otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import durable
from tests.cli.harness import ROOT


@durable.step(name="tests.faults.ro.double")
async def double(value: int) -> int:
    return value * 2


@durable.workflow(name="tests.faults.ro.flow")
async def flow(value: int) -> int:
    return await double(value) + 1


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """(folder, make_read_only): a tmpfs remounted ro as root, a chmod 555 folder else."""
    folder = tmp_path / "ro"
    folder.mkdir()
    root = os.geteuid() == 0
    if root:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)

    def make_read_only() -> None:
        if root:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            for name in os.listdir(folder):
                os.chmod(folder / name, 0o444)
            os.chmod(folder, 0o555)

    try:
        yield folder, make_read_only
    finally:
        if root:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        else:
            os.chmod(folder, 0o755)


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable.cli", "--db", url, "-m", __name__, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_read_only_journal_is_refused_at_open_and_inspected_read_only(
    read_only_folder: tuple[Path, Callable[[], None]],
) -> None:
    folder, make_read_only = read_only_folder
    url = f"sqlite:///{folder}/journal.db"
    async with durable.Engine(url) as engine:
        assert await engine.run(flow, 20, workflow_id="kept") == 41
    make_read_only()

    for execute in (True, False):
        engine = durable.Engine(url, execute=execute)
        with pytest.raises(durable.JournalError) as error:
            await engine.open()  # at open, not at the first start
        text = str(error.value)
        assert "is read-only" in text and str(folder) in text, text
        assert "Make it writable" in text and "durable list" in text, text

    listed = cli(url, "list")
    assert listed.returncode == 0, listed.stderr
    assert "kept" in listed.stdout and "SUCCEEDED" in listed.stdout
    history = cli(url, "history", "kept")
    assert history.returncode == 0, history.stderr
    assert "tests.faults.ro.double" in history.stdout and "40" in history.stdout
    shown = cli(url, "show", "kept")
    assert shown.returncode == 0 and "41" in shown.stdout, shown.stderr
    replayed = cli(url, "replay", "kept")
    assert replayed.returncode == 0, replayed.stderr
    assert "it returns 41" in replayed.stdout
    checked = cli(url, "replay", "--check")
    assert checked.returncode == 0 and "no run would break" in checked.stdout, checked.stderr

    started = cli(url, "start", f"{__name__}:flow", "[1]", "--id", "new")
    assert started.returncode != 0
    assert "is read-only" in started.stderr and "Traceback" not in started.stderr
    assert sorted(os.listdir(folder)) == ["journal.db"], "nothing was written beside it"


async def test_an_inspector_writes_nothing_and_says_so(
    read_only_folder: tuple[Path, Callable[[], None]],
) -> None:
    folder, make_read_only = read_only_folder
    url = f"sqlite:///{folder}/journal.db"
    async with durable.Engine(url) as engine:
        await engine.run(flow, 1, workflow_id="kept")
    make_read_only()
    inspector = durable.Engine(url, execute=False, poll_interval=0)
    inspector.journal.allow_read_only()
    async with inspector:
        assert inspector.journal.read_only
        assert [run.id for run in await inspector.list()] == ["kept"]
        with pytest.raises(durable.JournalError) as error:
            await inspector.start(flow, 2, workflow_id="d015")
    text = str(error.value)
    assert error.value.workflow_id == "d015"
    assert "opened read-only" in text and "run 'd015'" in text, text


async def test_an_inspector_on_a_writable_journal_opens_it_as_usual(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    inspector = durable.Engine(url, execute=False, poll_interval=0)
    inspector.journal.allow_read_only()
    async with inspector:
        assert not inspector.journal.read_only
        run = await inspector.start(flow, 3, workflow_id="writable")
    async with durable.Engine(url) as engine:
        assert await engine.get(run.id).result(timeout=10) == 7
