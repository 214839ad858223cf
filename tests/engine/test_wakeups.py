"""No wake-up is lost between engines on Postgres: a change notified while a waiter is
between its read and its wait still wakes it.

Issue 12, bug 5: after `engine.send`, a `get_event` in another process usually returned
in milliseconds but about one time in six only at the fallback poll, as if the
notification had arrived between the read and the wait.  Here both engines fall back
to a look every 10 minutes, so only notifications can carry the round trips within the
test's timeout: one lost wake-up, in either direction, makes it time out.
"""

from __future__ import annotations

from typing import Any

import pytest

import durable

ROUNDS = 100
FALLBACK_POLL = 600.0  # longer than the timeout: a wait woken by no notification fails


@durable.workflow(name="tests.wakeups.echo")
async def echo(rounds: int) -> int:
    for index in range(rounds):
        value = await durable.recv("ping")
        await durable.set_event(f"pong-{index}", value)
    return rounds


@pytest.mark.timeout(120)
async def test_send_and_get_event_across_engines_lose_no_wakeup(postgres_url: str) -> None:
    options: dict[str, Any] = {"poll_interval": FALLBACK_POLL}
    async with (
        durable.Engine(postgres_url, **options) as runner,
        durable.Engine(postgres_url, execute=False, **options) as client,
    ):
        run = await runner.start(echo, ROUNDS, workflow_id="echo")
        for index in range(ROUNDS):
            await client.send(run.id, "ping", index)  # wakes the runner's recv
            assert await client.get_event(run.id, f"pong-{index}") == index  # woken by it
        assert await run.result() == ROUNDS
