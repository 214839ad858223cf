"""SIGKILL a worker between reading records and committing their runs, and between the
commit and the broker's ack: after a restart every record has exactly one run (Redis
Streams, NATS JetStream, the journal's topic)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from typing import Any

import pytest

import durable
from tests.waiting import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
COUNT = 12


def _worker(env: dict[str, str], kill: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.sources.crash_consumer"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env, "DURABLE_TEST_KILL": kill},
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )


def _start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    """A worker that runs until killed; its stderr goes to a file (a pipe nobody reads
    could fill and stall it), read with `_stderr`."""
    log = tempfile.TemporaryFile(mode="w+")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.sources.crash_consumer"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env, "DURABLE_TEST_KILL": "none"},
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        cwd=ROOT,
    )
    _logs[worker.pid] = log
    return worker


_logs: dict[int, Any] = {}


def _stderr(worker: subprocess.Popen[str]) -> str:
    log = _logs[worker.pid]
    log.seek(0)
    return str(log.read())[-3000:]


def _stop(worker: subprocess.Popen[str]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    _logs.pop(worker.pid).close()


async def _runs_by_record(journal: str, name: str, *, finished_only: bool = False) -> Counter[int]:
    async with durable.Engine(journal, execute=False) as engine:
        counts: Counter[int] = Counter()
        for run in await engine.list(name=name, limit=100_000):
            if finished_only and run.status is not durable.Status.SUCCEEDED:
                continue
            assert run.status is durable.Status.SUCCEEDED, run
            for doubled in await engine.get(run.id).result():
                counts[doubled // 2] += 1
        return counts


async def _produce(kind: str, broker: str, stream: str, journal: str) -> Any:
    """Put COUNT records in; returns how to look at what the broker still holds."""
    if kind == "redis":
        import redis.asyncio as redis_asyncio

        client = redis_asyncio.from_url(broker, decode_responses=True)
        for n in range(1, COUNT + 1):
            await client.xadd(stream, {"n": str(n)})
        return client
    if kind == "jetstream":
        import nats

        nc = await nats.connect(broker)
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
        for n in range(1, COUNT + 1):
            await js.publish(f"{stream.lower()}.x", json.dumps({"n": n}).encode())
        return nc
    async with durable.Engine(journal, execute=False) as engine:
        await engine.publish(stream, [{"n": n} for n in range(1, COUNT + 1)])
    return None


async def _left(kind: str, handle: Any, stream: str, name: str) -> int:
    if kind == "redis":
        return int((await handle.xpending(stream, "durable"))["pending"])
    if kind == "jetstream":
        info = await handle.jetstream().consumer_info(stream, name.replace(".", "_"))
        return int(info.num_ack_pending + info.num_pending)
    return 0


async def _cleanup(kind: str, handle: Any, stream: str) -> None:
    if kind == "redis":
        await handle.delete(stream)
        await handle.aclose()
    elif kind == "jetstream":
        await handle.jetstream().delete_stream(stream)
        await handle.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "jetstream", "topic"])
@pytest.mark.parametrize("kill", ["read", "ack"])
async def test_sigkill_leaves_each_record_exactly_one_run(
    kind: str, kill: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    broker = ""
    if kind == "redis":
        broker = request.getfixturevalue("redis_url")
    elif kind == "jetstream":
        broker = request.getfixturevalue("nats_url")
    tag = uuid.uuid4().hex[:10]
    stream = f"CRASH{tag}".upper() if kind == "jetstream" else f"durable-crash-{tag}"
    journal = f"sqlite:///{tmp_path}/journal.db"
    name = f"crash.{kind}.{tag}"
    env = {
        "DURABLE_TEST_JOURNAL": journal,
        "DURABLE_TEST_KIND": kind,
        "DURABLE_TEST_BROKER": broker,
        "DURABLE_TEST_STREAM": stream,
        "DURABLE_TEST_NAME": name,
        "DURABLE_TEST_COUNT": str(COUNT),
    }
    handle = await _produce(kind, broker, stream, journal)
    try:
        crashed = _worker(env, kill)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
        before = await _runs_by_record_any(journal, name)
        if kill == "read":
            assert before == 0  # killed before the first commit: no run yet
        else:
            assert before > 0  # the first batch's runs committed, their ack never sent
            assert kind == "topic" or await _left(kind, handle, stream, name) > 0
        # the restarted worker runs until stopped: the broker's redeliveries (JetStream's
        # after ack_wait) may come after every run has finished
        worker = _start_worker({**env, "DURABLE_TEST_COUNT": str(10**9)})
        try:

            async def settled() -> bool:
                assert worker.poll() is None, _stderr(worker)
                done = await _runs_by_record(journal, name, finished_only=True)
                return sum(done.values()) >= COUNT and await _left(kind, handle, stream, name) == 0

            await wait_until(settled, what="every record run and acknowledged", timeout=60)
        finally:
            _stop(worker)
        counts = await _runs_by_record(journal, name)
        assert counts == Counter(range(1, COUNT + 1))  # every record once, none twice
    finally:
        await _cleanup(kind, handle, stream)


async def _runs_by_record_any(journal: str, name: str) -> int:
    async with durable.Engine(journal, execute=False) as engine:
        return len(await engine.list(name=name, limit=100_000))


@pytest.mark.slow
async def test_ten_thousand_topic_records_two_workers_and_a_kill(tmp_path: Any) -> None:
    """10,000 records published to the journal's topic while two worker processes
    consume it; one is SIGKILLed midway and restarted: none is lost or doubled."""
    total = 10_000
    tag = uuid.uuid4().hex[:10]
    journal = f"sqlite:///{tmp_path}/journal.db"
    name = f"flood.{tag}"
    env = {
        "DURABLE_TEST_JOURNAL": journal,
        "DURABLE_TEST_KIND": "topic",
        "DURABLE_TEST_STREAM": f"flood-{tag}",
        "DURABLE_TEST_NAME": name,
        "DURABLE_TEST_COUNT": str(10**9),
        "DURABLE_TEST_BATCH": "2",
    }
    async with durable.Engine(journal, execute=False) as publisher:
        workers = [_start_worker(env), _start_worker(env)]
        try:
            for start in range(0, total, 500):
                await publisher.publish(
                    env["DURABLE_TEST_STREAM"], [{"n": n} for n in range(start, start + 500)]
                )

            async def some_runs() -> bool:
                return len(await publisher.list(name=name, limit=100_000)) >= 1000

            await wait_until(some_runs, what="a first share of the runs", timeout=60)
            workers[0].send_signal(signal.SIGKILL)
            assert workers[0].wait(30) == -signal.SIGKILL
            workers.append(_start_worker(env))

            async def all_done() -> bool:
                runs = await publisher.list(name=name, status="SUCCEEDED", limit=100_000)
                return len(runs) * 2 >= total

            await wait_until(all_done, what="every record's run", timeout=240, interval=0.5)
        finally:
            for worker in workers:
                _stop(worker)
    counts = await _runs_by_record(journal, name)
    assert counts == Counter(range(total))
