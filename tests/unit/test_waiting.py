"""`tests.waiting.wait_until`: returns once true, raises naming what it waited for."""

from __future__ import annotations

import pytest

from tests.waiting import wait_until


async def test_returns_once_the_predicate_is_true() -> None:
    calls: list[int] = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    await wait_until(third_time, what="the third call", interval=0)
    assert len(calls) == 3


async def test_takes_an_async_predicate() -> None:
    async def ready() -> bool:
        return True

    await wait_until(ready, what="nothing")


async def test_raises_naming_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match="run 'x' to journal 2 entries"):
        await wait_until(lambda: False, what="run 'x' to journal 2 entries", timeout=0.02)
