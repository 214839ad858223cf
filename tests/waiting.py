"""Waiting in a test until something is true, and failing loudly when it never is.

A bare ``for _ in range(400): ... sleep(0.005)`` loop falls through when the run never
reaches the point it waits for, and the test then goes on to check a state it never
set up (a crash at the wrong point passes for a crash at the right one).
`wait_until` raises instead, naming what it waited for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durable import Engine, Status

__all__ = ["wait_journaled", "wait_status", "wait_until"]


async def wait_until(
    predicate: Callable[[], object | Awaitable[object]],
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = 0.005,
) -> None:
    """Call `predicate` (plain or async) every `interval` seconds until it returns
    something true; raise `AssertionError` naming `what` once `timeout` seconds pass.

    The predicate is called at least once, and once more after the deadline, so a slow
    machine that reached the state during the last pause does not fail.
    """
    deadline = time.monotonic() + timeout
    while True:
        late = time.monotonic() >= deadline
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if late:
            raise AssertionError(f"waited {timeout:g} s for {what}; it never happened")
        await asyncio.sleep(interval)


async def wait_journaled(engine: Engine, run_id: str, count: int, **options: Any) -> None:
    """Wait until run `run_id` has at least `count` journal entries (`wait_until`'s
    options apply)."""

    async def enough() -> bool:
        return len(await engine.history(run_id)) >= count

    await wait_until(enough, what=f"run {run_id!r} to journal {count} entries", **options)


async def wait_status(engine: Engine, run_id: str, status: Status, **options: Any) -> None:
    """Wait until run `run_id` is in `status` (`wait_until`'s options apply)."""

    async def reached() -> bool:
        return await engine.get(run_id).status() is status

    await wait_until(reached, what=f"run {run_id!r} to be {status.value}", **options)
