"""Waits survive a SIGKILL: a resumed retry backoff or `durable.sleep` waits what was left.

The process is killed early in a 3 s wait; the test then lets time pass before resuming,
so what is left (about 1 s) is far from both a fresh full wait and no wait at all.
"""

from __future__ import annotations

import pathlib
import time

import durable
from tests.e2e.harness import Driver

WAIT = 3.0  # the Retry.initial of e2e.flaky, and the durable sleep below
KILL_AFTER = 0.4
RESUME_AT = 1.2  # seconds into the wait: about 1.3 s are left once the engine opens


def check_remaining(opened: float, deadline: float, woke: float) -> None:
    """The resumed wait ended at the journaled deadline, give or take generous bounds."""
    remaining = deadline - opened
    assert remaining > 0.4, f"the test resumed too late to measure ({remaining:.2f}s left)"
    waited = woke - opened
    assert 0.2 * remaining <= waited <= 1.5 * remaining, (waited, remaining)
    assert woke >= deadline - 0.05, "the wait ended before its journaled deadline"


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


async def test_crash_during_retry_backoff(db_url: str, tmp_path: pathlib.Path) -> None:
    driver = Driver(db_url, tmp_path)
    driver.crash(
        [
            {
                "id": "backoff",
                "workflow": "e2e.backoff",
                "args": [],
                "crash": f"timer:flaky:{KILL_AFTER}",
            }
        ]
    )
    [failed_at] = driver.effect_times("backoff", "flaky")
    before = (await driver.snapshot(["backoff"]))["backoff"]
    [attempt] = before.attempts
    assert attempt.attempt == 1 and attempt.seq == 1
    assert abs(attempt.retry_at - attempt.failed_at - WAIT) < 0.01  # jitter is off
    assert [h.name for h in before.history] == ["e2e.work"]  # the flaky step is unfinished

    sleep_until(failed_at + RESUME_AT)
    resumed = driver.resume(["backoff"])
    outcome = resumed.runs["backoff"]
    assert outcome["status"] == "SUCCEEDED", outcome
    assert outcome["result"][1] == "flaky:ok after 2 attempts"
    _, second = driver.effect_times("backoff", "flaky")
    check_remaining(resumed.lines[0]["opened"], attempt.retry_at, second)

    after = (await driver.snapshot(["backoff"]))["backoff"]
    assert after.entries[0] == before.entries[0]
    flaky = after.history[1]
    assert (flaky.name, flaky.status, flaky.attempts) == ("e2e.flaky", "ok", 2)
    assert driver.effects()["backoff", "before"] == 1


async def test_crash_during_durable_sleep(db_url: str, tmp_path: pathlib.Path) -> None:
    driver = Driver(db_url, tmp_path)
    driver.crash(
        [
            {
                "id": "napper",
                "workflow": "e2e.napper",
                "args": [WAIT],
                "crash": f"timer:before:{KILL_AFTER}",
            }
        ]
    )
    before = (await driver.snapshot(["napper"]))["napper"]
    [timer] = before.timers
    assert timer.seq == 1
    assert before.status in (durable.Status.SLEEPING, durable.Status.RUNNING)
    [slept_at] = driver.effect_times("napper", "before")
    assert slept_at < timer.wake_at - WAIT + 0.5 < timer.wake_at

    sleep_until(timer.wake_at - WAIT + RESUME_AT)
    resumed = driver.resume(["napper"])
    assert resumed.runs["napper"]["status"] == "SUCCEEDED"
    [woke] = driver.effect_times("napper", "after")
    check_remaining(resumed.lines[0]["opened"], timer.wake_at, woke)
    after = (await driver.snapshot(["napper"]))["napper"]
    assert [(h.seq, h.kind) for h in after.history] == [(0, "step"), (1, "sleep"), (2, "step")]
    assert driver.effects()["napper", "before"] == 1
