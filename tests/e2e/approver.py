"""The workflow of `test_request_crash`: a request taken, reviewed by a step that a test
can make hang (so the worker is killed between the request's receipt and its reply),
then replied to.  The step appends one line per body run to ``$APPROVER_DIR/effects``."""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any

import durable


def _dir() -> pathlib.Path:
    return pathlib.Path(os.environ["APPROVER_DIR"])


@durable.step(name="e2e.approver.review")
def review(value: dict[str, Any]) -> str:
    with (_dir() / "effects").open("a") as effects:
        effects.write(f"review {os.getpid()}\n")
    while (_dir() / "block").exists():  # the test kills the worker here
        time.sleep(0.05)
    return f"approved by {value['by']}"


@durable.workflow(name="e2e.approver")
async def approver() -> str:
    request = await durable.recv_request("approve")
    assert request is not None
    verdict = await review(request.value)
    await request.reply(verdict)
    return verdict
