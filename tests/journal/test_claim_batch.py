"""`Journal.claim_batch` on every backend: one statement that claims runnable runs."""

from __future__ import annotations

import asyncio
import time

from durable.journal import base, open_journal
from tests.journal.test_conformance import OTHER, OWNER, new_run

LEASE = 30.0


async def claim(j: base.Journal, owner: str = OWNER, **options: object) -> list[base.RunRecord]:
    options.setdefault("limit", 100)
    return await j.claim_batch(
        owner,
        ["wf"],
        lease_expires_at=time.time() + LEASE,
        **options,  # type: ignore[arg-type]
    )


async def test_claims_unheld_runs_by_priority_then_age(journal: base.Journal) -> None:
    now = time.time()
    await journal.create_run(new_run("old", owner=None, created_at=now - 10))
    await journal.create_run(new_run("new", owner=None, created_at=now))
    await journal.create_run(new_run("urgent", owner=None, created_at=now, priority=5))
    await journal.create_run(new_run("held", owner=OTHER))
    await journal.create_run(new_run("other-name", owner=None, name="elsewhere"))
    claimed = await claim(journal, limit=2)
    assert [r.id for r in claimed] == ["urgent", "old"]
    assert all(r.owner == OWNER and r.attempt == 1 for r in claimed)
    assert all(r.status is base.Status.RUNNING for r in claimed)
    assert (await journal.get_run("old")).owner == OWNER  # type: ignore[union-attr]
    assert [r.id for r in await claim(journal)] == ["new"]
    assert await claim(journal) == []


async def test_leaves_limited_queues_other_queues_and_sleepers(journal: base.Journal) -> None:
    await journal.create_run(new_run("limited", owner=None, queue="llm"))
    await journal.create_run(new_run("elsewhere", owner=None, queue="batch"))
    await journal.create_run(new_run("default", owner=None))
    await journal.create_run(new_run("dozing", owner=None))
    await journal.create_run(new_run("due", owner=None))
    for run_id, wake_at in (("dozing", time.time() + 600), ("due", time.time() - 1)):
        await journal.claim(OTHER, run_id, expected_owner=None, lease_expires_at=time.time() + 9)
        update = base.RunUpdate(
            run_id=run_id, status=base.Status.SLEEPING, at=time.time(), wake_at=wake_at
        )
        await journal.update_run(OTHER, update)
        await journal.release(OTHER, [run_id])
    claimed = await claim(journal, queues=["default", "llm"], skip_queues=["llm"])
    assert sorted(r.id for r in claimed) == ["default", "due"]


async def test_concurrent_claimers_never_share_a_run(db_url: str) -> None:
    journals = [open_journal(db_url) for _ in range(3)]
    for j in journals:
        await j.open()
    try:
        for i in range(60):
            await journals[0].create_run(new_run(f"r{i}", owner=None))
        batches = await asyncio.gather(
            *(claim(j, f"owner-{n}", limit=25) for n, j in enumerate(journals))
        )
        ids = [r.id for batch in batches for r in batch]
        assert sorted(ids) == sorted(f"r{i}" for i in range(60))  # each exactly once
        for n, batch in enumerate(batches):
            for record in batch:
                row = await journals[0].get_run(record.id)
                assert row is not None and row.owner == f"owner-{n}"
    finally:
        for j in journals:
            await j.close()
