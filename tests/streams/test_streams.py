"""Durable streams on both backends: order and offsets, a replayed workflow's writes
written once, a retried attempt's chunks marked, closing, and a reader in another
process than the writer carrying on across the writer's SIGKILL."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

import durable
from durable import streams
from durable.runtime.retry import Retry
from tests.waiting import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


@durable.step(name="streams.flaky", retry=Retry(max_attempts=3, initial=0.01, jitter=0))
async def flaky(fails: int) -> str:
    attempt = durable.context().attempt  # the run's attempt: unchanged by retries
    for n in range(2):
        await durable.write_stream("out", f"t{n}")
    if len(_failed) < fails:
        _failed.append(attempt)
        raise ConnectionError("dropped")
    return "done"


_failed: list[int] = []


@durable.workflow(name="streams.retried")
async def retried(fails: int) -> str:
    await durable.write_stream("out", "start")
    return await flaky(fails)


@durable.workflow(name="streams.closing")
async def closing() -> None:
    for n in range(3):
        await durable.write_stream("log", {"n": n})
    await durable.close_stream("log")
    await durable.recv("never")  # the run goes on: the closed stream ends its readers


async def _read(engine: durable.Engine, run_id: str, key: str, offset: int = 0) -> list[Any]:
    return [c async for c in engine.read_stream(run_id, key, offset)]


async def test_a_retried_attempts_chunks_are_marked(make_engine) -> None:
    _failed.clear()
    engine = await make_engine()
    assert await engine.run(retried, 1, workflow_id="r") == "done"
    chunks = await _read(engine, "r", "out")
    assert [(c.offset, c.value, c.step, c.attempt) for c in chunks] == [
        (0, "start", None, 1),
        (1, "t0", 0, 1),
        (2, "t1", 0, 1),
        (3, "t0", 0, 2),  # the retry: a restarted answer, told by its attempt
        (4, "t1", 0, 2),
    ]
    assert {c.run_attempt for c in chunks} == {1}
    tail = await _read(engine, "r", "out", offset=3)
    assert [c.offset for c in tail] == [3, 4]
    assert await _read(engine, "r", "other") == []  # a finished run's empty stream ends


async def test_a_closed_stream_ends_its_readers_while_the_run_goes_on(make_engine) -> None:
    engine = await make_engine()
    run = await engine.start(closing, workflow_id="c")
    chunks = await asyncio.wait_for(_read(engine, "c", "log"), 30)
    assert [c.value for c in chunks] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert await run.status() in (durable.Status.RUNNING, durable.Status.SLEEPING)
    await run.cancel()


async def test_unknown_run_and_writes_outside_a_run(make_engine) -> None:
    engine = await make_engine()
    with pytest.raises(durable.WorkflowNotFound):
        await _read(engine, "nope", "out")
    with pytest.raises(durable.DurableError, match="outside a workflow or step"):
        await durable.write_stream("out", 1)
    with pytest.raises(ValueError, match="offset"):
        await _read(engine, "nope", "out", offset=-1)


def _writer(db_url: str, workdir: pathlib.Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DURABLE_TEST_STREAM_DIR": str(workdir)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.streams.writer", db_url, mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_reader_in_another_process_carries_on_across_the_writers_crash(
    db_url: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no timed look: only the journal's notifications can wake the reader
    monkeypatch.setattr(streams, "FALLBACK", 3600.0)
    crashed = _writer(db_url, tmp_path, "crash")
    async with durable.Engine(db_url, execute=False) as engine:

        async def exists() -> bool:
            return await engine.journal.get_run("talk-1") is not None

        await wait_until(exists, what="the writer's run", timeout=60)
        got: list[durable.StreamChunk] = []

        async def read() -> None:
            async for chunk in engine.read_stream("talk-1", "answer"):
                got.append(chunk)
                if chunk.value == "begin":
                    (tmp_path / "go").touch()  # the step writes only now: we are live

        reader = asyncio.ensure_future(read())
        _, err = await asyncio.to_thread(crashed.communicate, None, 90)
        assert crashed.returncode == -9, err  # SIGKILLed in its step
        await wait_until(lambda: len(got) == 4, what="the chunks before the crash")
        assert not reader.done()  # the run is unfinished: the reader waits on

        resumed = _writer(db_url, tmp_path, "resume")
        out, err = await asyncio.to_thread(resumed.communicate, None, 90)
        assert resumed.returncode == 0, err
        assert out.strip() == "3"
        await asyncio.wait_for(reader, 30)  # the run finished: the stream ended
    assert [(c.value, c.step, c.run_attempt) for c in got] == [
        ("begin", None, 1),  # workflow code: written once, though replayed
        ("word0", 0, 1),
        ("word1", 0, 1),
        ("word2", 0, 1),
        ("word0", 0, 2),  # the step re-executed after the crash: the run's next attempt
        ("word1", 0, 2),
        ("word2", 0, 2),
        ("end", None, 2),
    ]
    assert [c.offset for c in got] == list(range(8))


async def test_deleting_a_finished_run_deletes_its_streams(make_engine) -> None:
    _failed.clear()
    engine = await make_engine()
    await engine.run(retried, 0, workflow_id="gone")
    record = await engine.journal.get_run("gone")
    assert record is not None and record.finished_at is not None
    assert len(await _read(engine, "gone", "out")) == 3
    assert await engine.journal.delete_runs([("gone", record.finished_at)]) == 1
    assert await engine.journal.read_chunks("gone", "out", 0, 10) == ([], False)
