"""A worker SIGKILLed between a request's receipt and its reply: the restarted run
answers the same request, once, and the caller waiting all along gets that answer."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import signal
import subprocess

import pytest

import durable
from tests.e2e import approver
from tests.e2e.harness import ROOT
from tests.waiting import wait_until

DURABLE = shutil.which("durable")


def _worker(db_url: str, folder: pathlib.Path) -> subprocess.Popen[bytes]:
    assert DURABLE is not None, "the `durable` command is not installed (pip install -e .)"
    env = {**os.environ, "APPROVER_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    log = folder / f"worker-{len(list(folder.glob('worker-*')))}.log"
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [DURABLE, "--db", db_url, "worker", "tests.e2e.approver"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


@pytest.mark.timeout(120)
async def test_killed_between_receipt_and_reply(db_url: str, tmp_path: pathlib.Path) -> None:
    (tmp_path / "block").touch()
    first = _worker(db_url, tmp_path)
    second = None
    try:
        async with durable.Engine(db_url, execute=False) as client:
            run = await client.start(approver.approver, workflow_id="approval")

            async def parked() -> bool:  # the worker gave the waiting run up
                record = await client.journal.get_run(run.id)
                return (
                    record is not None
                    and record.owner is None
                    and record.status is durable.Status.SLEEPING
                )

            await wait_until(parked, what="the run to park in recv_request", timeout=60)
            caller = asyncio.create_task(
                client.request(run.id, "approve", {"by": "ann"}, timeout=90, request_id="r1")
            )
            effects = tmp_path / "effects"

            def reviewing() -> bool:  # its line written (the file exists before that)
                return effects.exists() and effects.read_text().endswith("\n")

            await wait_until(reviewing, what="the review step to start", timeout=60)
            history = await client.history(run.id)
            assert [(h.kind, h.name) for h in history] == [("request", "approve")]
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
            assert not caller.done()  # still waiting: the request is taken, unanswered
            assert (await client.journal.request_state(run.id, "r1")).state == "taken"

            (tmp_path / "block").unlink()
            second = _worker(db_url, tmp_path)
            assert await asyncio.wait_for(caller, 60) == "approved by ann"
            assert await run.result(timeout=30) == "approved by ann"
            history = await client.history(run.id)
            assert [(h.kind, h.name) for h in history] == [
                ("request", "approve"),
                ("step", "e2e.approver.review"),
                ("reply", "approve"),
            ]
            assert (await client.journal.request_state(run.id, "r1")).state == "replied"
            # the same request id again: its one answer, no second request
            again = await client.request(run.id, "approve", None, timeout=5, request_id="r1")
            assert again == "approved by ann"
        lines = effects.read_text().splitlines()
        assert [line.split()[1] for line in lines] == [str(first.pid), str(second.pid)]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
