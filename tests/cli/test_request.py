"""``durable request ID NAME JSON``: a reply printed as JSON, a rejection or an unknown
id as one error line, from a process that has none of the workflow's code."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.cli.harness import Cli, assert_one_error_line
from tests.http import flows


@pytest.fixture
def cli(db_url: str, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


async def test_request_from_the_command_line(cli: Cli, make_engine) -> None:
    engine = await make_engine()
    run = await engine.start(flows.approvals, 2, workflow_id="cli-approvals")
    replied = await asyncio.to_thread(cli, "request", run.id, "approve", '{"amount": 7}')
    assert json.loads(replied.stdout) == {"approved": 7}
    rejected = await asyncio.to_thread(
        cli, "request", run.id, "approve", '{"amount": 700}', ok=False
    )
    assert_one_error_line(rejected, "rejected request 'approve'", "700 is over the limit")
    assert await run.result(timeout=10) == 2
    shown = (await asyncio.to_thread(cli, "show", run.id)).stdout
    assert "request taken" in shown and "replied" in shown and "rejected" in shown
    finished = await asyncio.to_thread(cli, "request", run.id, "approve", "{}", ok=False)
    assert_one_error_line(finished, "has finished")
    missing = await asyncio.to_thread(cli, "request", "nobody", "approve", ok=False)
    assert_one_error_line(missing, "no run with id 'nobody'")
    bad = await asyncio.to_thread(cli, "request", run.id, "approve", "{nope", ok=False)
    assert_one_error_line(bad, "bad JSON value")
