"""`durable.wakeups`: news noted before a read is never lost to a later clear."""

from __future__ import annotations

import asyncio

from durable import wakeups
from durable.journal import features


async def test_news_since_a_count_survives_another_waiters_clear() -> None:
    flag = wakeups.News()
    since = flag.count  # noted before the read
    flag.set()  # the change lands between the read and the wait...
    flag.clear()  # ...and another waiter of the run clears the flag before waiting
    await asyncio.wait_for(flag.wait_since(since), timeout=10)


async def test_heard_sets_the_runs_flag_and_none_sets_every_flag() -> None:
    news = wakeups.Wakeups(journal=features.Features())
    a, b = news.news("a"), news.news("b")
    news.heard("a")
    news.heard("unknown")  # a run nobody waits on: nothing to set
    assert (a.count, b.count) == (1, 0)
    news.heard(None)
    assert (a.count, b.count) == (2, 1)
    assert a.is_set() and b.is_set()
