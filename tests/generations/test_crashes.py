"""SIGKILLed workers around generation switches and heartbeats: a switch is done or not
done, never both or neither; heartbeat details survive the process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import durable
from tests.cli.harness import ROOT
from tests.faults import processes
from tests.generations import jobs
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(300)


def _kill(worker: processes.Worker) -> None:
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=30)


async def test_sigkills_across_switches_lose_and_repeat_no_generation(
    db_url: str, tmp_path: Path
) -> None:
    until = 1500  # 300 generations of five steps
    async with durable.Engine(db_url, execute=False, poll_interval=0.02) as client:
        run = await client.start(jobs.chain, 0, 0, until, workflow_id="killed-chain")
        for reached in (30, 120):
            worker = spawn_chain_worker(db_url, tmp_path)
            try:
                await wait_until(
                    lambda n=reached: _past(client, n), what=f"{reached} generations", timeout=120
                )
            finally:
                _kill(worker)
            assert worker.process.returncode == -signal.SIGKILL
            assert await run.status() is not durable.Status.SUCCEEDED  # killed mid-chain
        worker = spawn_chain_worker(db_url, tmp_path)
        try:
            assert await run.result(timeout=240) == sum(range(until))
        finally:
            processes.stop([worker])
        past = await client.generations("killed-chain")
        assert [g.generation for g in past] == list(range(1, until // 5 + 1))
        # every generation holds exactly its five steps, in order, and its continue call:
        # a switch done twice or lost would show as a repeated or missing addend
        total = 0
        for g in past:
            history = await client.history("killed-chain", generation=g.generation)
            assert [e.kind for e in history] == ["step"] * 5 + ["continue"], g
            for offset, entry in enumerate(history[:5]):
                total += (g.generation - 1) * 5 + offset
                assert entry.output == total, (g.generation, offset)
        assert await client.history("killed-chain") == []


def spawn_chain_worker(
    db_url: str, tmp_path: Path, env: dict[str, str] | None = None
) -> processes.Worker:
    """A real ``durable worker tests.generations.jobs`` process."""
    assert processes.DURABLE is not None, "the `durable` command is not installed"
    log = tmp_path / f"worker-{time.monotonic_ns()}.log"
    command = [processes.DURABLE, "--db", db_url, "worker", "tests.generations.jobs"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return processes.Worker(process, log)


async def _past(client: durable.Engine, n: int) -> bool:
    return len(await client.generations("killed-chain")) >= n


async def test_heartbeat_details_survive_a_sigkill(db_url: str, tmp_path: Path) -> None:
    async with durable.Engine(db_url, execute=False, poll_interval=0.02) as client:
        run = await client.start(jobs.beater, workflow_id="beater")
        worker = spawn_chain_worker(db_url, tmp_path)
        try:

            async def journaled() -> bool:
                return bool(await client.journal.step_heartbeats("beater"))

            await wait_until(journaled, what="heartbeat details journaled", timeout=60)
        finally:
            _kill(worker)
        kept = await client.journal.step_heartbeats("beater")
        worker = spawn_chain_worker(db_url, tmp_path)
        try:
            attempt, details = await run.result(timeout=120)
        finally:
            processes.stop([worker])
        # the attempt cut short by the kill counts; the next one gets its last details
        assert attempt == 2
        assert details["done"] >= 0
        assert kept[0].attempt == 1


@pytest.mark.parametrize("where", ["before", "after"])
async def test_a_sigkill_at_the_switch_leaves_one_generation_running(
    db_url: str, tmp_path: Path, where: str
) -> None:
    """The worker is killed just before (or just after) the commit that ends generation 3:
    the next worker finishes the old generation's switch (before) or runs the new one
    (after); either way every step body ran exactly once and no generation is missing or
    doubled."""
    effects, marker = tmp_path / "effects", tmp_path / "held"
    env = {"GENJOB_EFFECTS": str(effects)}
    held = {**env, "GENJOB_HOLD": f"{where}:3", "GENJOB_HOLD_FILE": str(marker)}
    async with durable.Engine(db_url, execute=False, poll_interval=0.02) as client:
        run = await client.start(jobs.chain, 0, 0, 40, workflow_id="held")
        worker = spawn_chain_worker(db_url, tmp_path, held)
        try:
            await wait_until(marker.exists, what=f"the worker to stop {where} the switch")
            past = len(await client.generations("held"))
            assert past == (2 if where == "before" else 3)  # the kill point, as asked
        finally:
            _kill(worker)
        assert worker.process.returncode == -signal.SIGKILL
        worker = spawn_chain_worker(db_url, tmp_path, env)
        try:
            assert await run.result(timeout=120) == sum(range(40))
        finally:
            processes.stop([worker])
        assert [g.generation for g in await client.generations("held")] == list(range(1, 9))
    addends = [int(line) for line in effects.read_text().split()]
    assert sorted(addends) == list(range(40)), "a step body ran twice or never"
