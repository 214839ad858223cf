"""The fence of a Postgres journal's writes (issue 23): a database that lost commits an
engine saw acknowledged (a failover to a standby that had not received them) never gets
a journal with a hole, and a run whose creation was lost is reported.

What a failover loses is made here by deleting the rows it would have lost, behind the
engine's back, while a step of the run is in flight; tests/faults/test_postgres_failover.py
does it with a real standby.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
import pytest

import durable
from durable.journal import base, open_journal
from tests.waiting import wait_until

ran: list[tuple[str, int]] = []
gate: dict[str, asyncio.Event] = {}


@durable.step(name="tests.fence.work")
async def work(index: int) -> int:
    run_id = durable.context().workflow_id
    ran.append((run_id, index))
    if index == 5 and run_id in gate:
        await gate[run_id].wait()
    return index


@durable.workflow(name="tests.fence.eight")
async def eight() -> int:
    total = 0
    for index in range(8):
        total += await work(index)
    return total


async def _sql(url: str, query: str, *params: Any) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchall() if cur.description else []


async def _seqs(url: str, run_id: str) -> list[int]:
    rows = await _sql(url, "SELECT seq FROM durable.entries WHERE run_id = %s ORDER BY seq", run_id)
    return [row[0] for row in rows]


async def _five_steps_then_wait(engine: durable.Engine, url: str, run_id: str) -> None:
    ran.clear()
    gate[run_id] = asyncio.Event()
    await engine.start(eight, workflow_id=run_id)
    await wait_until(lambda: (run_id, 5) in ran, what="step 5 to be in flight")
    assert await _seqs(url, run_id) == [0, 1, 2, 3, 4]


async def test_a_lost_tail_is_run_again_and_never_leaves_a_hole(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with durable.Engine(postgres_url, poll_interval=0.2) as engine:
        await _five_steps_then_wait(engine, postgres_url, "tail")
        # the database forgets the last two steps the engine saw committed
        await _sql(postgres_url, "DELETE FROM durable.entries WHERE run_id = 'tail' AND seq >= 3")
        gate["tail"].set()
        await wait_until(
            lambda: _status_is(postgres_url, "tail", "SUCCEEDED"),
            what="the run to finish after its replay",
            timeout=30,
        )
        assert await engine.get("tail").result(timeout=5) == 28
    assert await _seqs(postgres_url, "tail") == list(range(8))
    # steps 3 and 4 ran again (their entries were lost), step 5 ran again because its
    # entry was refused; 0-2 were replayed from the journal
    again = [index for index in range(8) if ran.count(("tail", index)) > 1]
    assert again == [3, 4, 5]
    assert "lacks the entry at seq 4" in caplog.text


async def _status_is(url: str, run_id: str, status: str) -> bool:
    rows = await _sql(url, "SELECT status FROM durable.runs WHERE id = %s", run_id)
    return bool(rows) and rows[0][0] == status


async def test_a_run_whose_creation_was_lost_is_reported(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with durable.Engine(postgres_url, poll_interval=0.2) as engine:
        await _five_steps_then_wait(engine, postgres_url, "gone")
        await _sql(postgres_url, "DELETE FROM durable.entries WHERE run_id = 'gone'")
        await _sql(postgres_url, "DELETE FROM durable.runs WHERE id = 'gone'")
        gate["gone"].set()
        await wait_until(
            lambda: "run 'gone' is not in" in caplog.text,
            what="a warning naming the run whose creation was lost",
        )
        await wait_until(lambda: not engine.scheduler.is_running("gone"), what="the run to stop")
        assert "start it again with the same workflow_id" in caplog.text
    assert await _seqs(postgres_url, "gone") == []  # nothing written for a run not there
    assert ("gone", 6) not in ran


async def test_an_append_above_a_lost_entry_is_refused_at_write_time(postgres_url: str) -> None:
    journal = open_journal(postgres_url)
    await journal.open()
    owner = "host/boot/1/1/fence"
    try:
        new = base.NewRun(
            id="hole",
            name="x",
            input=b"",
            root_id="hole",
            metadata=b"",
            owner=owner,
            lease_expires_at=journal.now() + 30,
            created_at=journal.now(),
            status=base.Status.RUNNING,
        )
        await journal.create_run(new)
        await journal.append_entries(owner, [_entry(0), _entry(1)])
        await _sql(postgres_url, "DELETE FROM durable.entries WHERE seq = 1")
        with pytest.raises(durable.JournalError, match=r"run 'hole'.*lacks the entry at seq 1"):
            await journal.append_entries(owner, [_entry(2)])
        assert await _seqs(postgres_url, "hole") == [0]  # no entry above the hole
        # the run is no longer held here: released, it is replayed by whoever takes it
        await journal.release(owner, ["hole"])
        claimed = await journal.claim(
            owner, "hole", expected_owner=None, lease_expires_at=journal.now() + 30
        )
        assert claimed is not None
        load = await journal.load("hole")
        assert load is not None and [e.seq for e in load.entries] == [0]
        await journal.append_entries(owner, [_entry(1)])  # the replay goes on from seq 1
        assert await _seqs(postgres_url, "hole") == [0, 1]
    finally:
        await journal.close()


def _entry(seq: int) -> base.EntryRecord:
    return base.EntryRecord(
        run_id="hole",
        seq=seq,
        ord=seq,
        kind="step",
        name="x",
        status="ok",
        fingerprint="f",
        output=None,
        started_at=0.0,
        finished_at=0.0,
    )


async def test_a_run_whose_end_was_lost_is_released_after_a_reconnect(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    ran.clear()
    async with durable.Engine(postgres_url, poll_interval=0.2, lease=1.5) as engine:
        assert await engine.run(eight, workflow_id="end") == 28
        # the database forgets the run's end (the old primary acknowledged it), and every
        # session ends, as in a failover: the row says this engine holds a run it does not
        # execute, and its heartbeats would renew that lease for ever
        await _sql(
            postgres_url,
            "UPDATE durable.runs SET status = 'RUNNING', output = NULL, finished_at = NULL,"
            " owner = %s, lease_expires_at = extract(epoch FROM now()) + 600 WHERE id = 'end'",
            engine.owner,
        )
        await _sql(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        await wait_until(
            lambda: _status_is(postgres_url, "end", "SUCCEEDED"),
            what="the run to be released and finished again by its replay",
            timeout=30,
        )
        assert await engine.get("end").result(timeout=5) == 28
    assert "it does not execute (end)" in caplog.text
    assert sorted(ran) == [("end", index) for index in range(8)]  # replayed: none ran again
