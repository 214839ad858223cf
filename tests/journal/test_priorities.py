"""Claim order: priority plus one point per minute waited, then age (both backends)."""

from __future__ import annotations

import time

from durable.journal import base, open_journal


async def test_priority_with_aging(db_url: str) -> None:
    journal = open_journal(db_url)
    await journal.open()
    now = time.time()
    try:
        for run_id, priority, age in [
            ("fresh-low", 0, 0.0),
            ("fresh-high", 5, 0.0),
            ("old-low", 0, 600.0),  # ten minutes of waiting outweigh a priority of 5
            ("older-low", 0, 30.0),
        ]:
            await journal.create_run(
                base.NewRun(
                    id=run_id,
                    name="tests.prio",
                    input=b"M\x93\x90\x90\x90",
                    root_id=run_id,
                    metadata=b"M\x80",
                    created_at=now - age,
                    priority=priority,
                )
            )
        order = [r.id for r in await journal.claimable(["tests.prio"])]
        assert order == ["old-low", "fresh-high", "older-low", "fresh-low"]
    finally:
        await journal.close()
