"""The `Journal` contract, checked on every backend (``backend`` fixture: sqlite, postgres).

Each test states one clause of a method's docstring in `durable.journal.base`; a new
backend is done when this file passes on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from durable.journal import base, open_journal

OWNER, OTHER = "owner-a", "owner-b"


@pytest.fixture
async def journal(db_url: str) -> AsyncIterator[base.Journal]:
    opened = open_journal(db_url)
    await opened.open()
    yield opened
    await opened.close()


def new_run(run_id: str, *, owner: str | None = OWNER, **fields: object) -> base.NewRun:
    values: dict[str, object] = {
        "id": run_id,
        "name": "wf",
        "input": b"in",
        "root_id": run_id,
        "metadata": b"{}",
        "owner": owner,
        "lease_expires_at": time.time() + 30 if owner else None,
        "created_at": time.time(),
        "status": base.Status.RUNNING if owner else base.Status.PENDING,
    }
    values.update(fields)
    return base.NewRun(**values)  # type: ignore[arg-type]


def entry(run_id: str, seq: int, ord_: int | None = None, **fields: object) -> base.EntryRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "seq": seq,
        "ord": seq if ord_ is None else ord_,
        "kind": "step",
        "name": "s",
        "status": "ok",
        "fingerprint": f"fp{seq}",
        "output": f"out{seq}".encode(),
        "started_at": 1.5,
        "finished_at": 2.25,
    }
    values.update(fields)
    return base.EntryRecord(**values)  # type: ignore[arg-type]


def sql(journal: base.Journal, text: str) -> str:
    return text.replace("?", "%s") if journal.dialect == "postgres" else text


# -- runs ---------------------------------------------------------------------------


async def test_create_run_is_idempotent(journal: base.Journal) -> None:
    run = new_run("r1", parent_id="p", parent_seq=3, queue="q", priority=2)
    record, created = await journal.create_run(run)
    assert created
    assert (record.id, record.name, record.status, record.input, record.metadata) == (
        "r1",
        "wf",
        base.Status.RUNNING,
        b"in",
        b"{}",
    )
    assert (record.parent_id, record.parent_seq, record.queue, record.priority) == ("p", 3, "q", 2)
    assert record.attempt == 1 and record.owner == OWNER and not record.cancel_requested
    again, created = await journal.create_run(new_run("r1", input=b"other"))
    assert not created and again.input == b"in"
    assert await journal.get_run("r1") == record
    assert await journal.get_run("missing") is None


async def test_concurrent_creates_make_one_run(journal: base.Journal) -> None:
    results = await asyncio.gather(
        *(journal.create_run(new_run("same", input=str(i).encode())) for i in range(8))
    )
    assert sum(created for _, created in results) == 1
    stored = {record.input for record, _ in results}
    assert len(stored) == 1


async def test_list_runs_filters_newest_first(journal: base.Journal) -> None:
    await journal.create_run(new_run("old", created_at=1.0))
    await journal.create_run(new_run("mid", owner=None, created_at=2.0, name="other"))
    await journal.create_run(new_run("new", created_at=3.0, parent_id="old"))
    assert [r.id for r in await journal.list_runs()] == ["new", "mid", "old"]
    assert [r.id for r in await journal.list_runs(limit=2)] == ["new", "mid"]
    assert [r.id for r in await journal.list_runs(status=[base.Status.PENDING])] == ["mid"]
    assert [r.id for r in await journal.list_runs(name="wf")] == ["new", "old"]
    assert [r.id for r in await journal.list_runs(parent_id="old")] == ["new"]


# -- entries --------------------------------------------------------------------------


async def test_append_and_load_in_seq_order(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    await journal.append_entries(OWNER, [entry("r", 1, 0), entry("r", 0, 1)])
    await journal.append_entries(OWNER, [entry("r", 2, child_id="c", status="error", output=None)])
    load = await journal.load("r")
    assert load is not None
    assert [(e.seq, e.ord) for e in load.entries] == [(0, 1), (1, 0), (2, 2)]
    assert load.entries[2] == entry("r", 2, child_id="c", status="error", output=None)
    assert load.attempts == [] and load.timers == []
    assert await journal.load("missing") is None


async def test_append_never_rewrites_an_entry(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    await journal.append_entries(OWNER, [entry("r", 0)])
    await journal.append_entries(OWNER, [entry("r", 0, output=b"second"), entry("r", 1)])
    load = await journal.load("r")
    assert load is not None
    assert [e.output for e in load.entries] == [b"out0", b"out1"]


async def test_append_by_a_non_owner_raises_and_writes_nothing(journal: base.Journal) -> None:
    await journal.create_run(new_run("mine"))
    await journal.create_run(new_run("theirs", owner=OTHER))
    with pytest.raises(base.LeaseLost):
        await journal.append_entries(OWNER, [entry("theirs", 0)])
    with pytest.raises(base.LeaseLost):
        await journal.append_entries(OWNER, [entry("nobody", 0)])
    # concurrent appends: the lost one does not stop the others
    outcomes = await asyncio.gather(
        journal.append_entries(OWNER, [entry("mine", 0)]),
        journal.append_entries(OWNER, [entry("theirs", 1)]),
        journal.append_entries(OWNER, [entry("mine", 1)]),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], base.LeaseLost)
    theirs, mine = await journal.load("theirs"), await journal.load("mine")
    assert theirs is not None and theirs.entries == []
    assert mine is not None and [e.seq for e in mine.entries] == [0, 1]


async def test_an_append_after_a_claim_in_the_same_group_is_refused(
    journal: base.Journal,
) -> None:
    """Writes queued together commit together, in order: an append that follows, in the
    same group, a claim of its run by another owner is refused although an append of the
    same owner before the claim was accepted (no owner check is remembered across it)."""
    await journal.create_run(new_run("r"))
    await journal.create_run(new_run("s"))
    for _ in range(2):  # two runs writing at once: the journal groups from now on
        await asyncio.gather(
            journal.append_entries(OWNER, [entry("s", 0)]),
            journal.append_entries(OWNER, [entry("r", 0)]),
        )
    before, claimed, after = await asyncio.gather(
        journal.append_entries(OWNER, [entry("r", 1)]),
        journal.claim(OTHER, "r", expected_owner=OWNER, lease_expires_at=time.time() + 30),
        journal.append_entries(OWNER, [entry("r", 2)]),
        return_exceptions=True,
    )
    assert before is None
    assert isinstance(claimed, base.RunRecord) and claimed.owner == OTHER
    assert isinstance(after, base.LeaseLost)
    load = await journal.load("r")
    assert load is not None and [e.seq for e in load.entries] == [0, 1]


async def test_many_concurrent_runs_commit_in_order(journal: base.Journal) -> None:
    runs = [f"run{i}" for i in range(20)]
    for run_id in runs:
        await journal.create_run(new_run(run_id))

    async def steps(run_id: str) -> None:
        for seq in range(10):
            await journal.append_entries(OWNER, [entry(run_id, seq)])

    await asyncio.gather(*(steps(run_id) for run_id in runs))
    for run_id in runs:
        load = await journal.load(run_id)
        assert load is not None and [e.seq for e in load.entries] == list(range(10))


async def test_attempts_and_timers(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    attempt = base.AttemptRecord(
        run_id="r", seq=0, attempt=1, error=b"boom", failed_at=1.0, retry_at=2.0
    )
    await journal.record_attempt(OWNER, attempt)
    await journal.record_attempt(OWNER, attempt)
    await journal.set_timer(OWNER, base.TimerRecord(run_id="r", seq=1, wake_at=10.0))
    await journal.set_timer(OWNER, base.TimerRecord(run_id="r", seq=1, wake_at=99.0))
    load = await journal.load("r")
    assert load is not None
    assert load.attempts == [attempt]
    assert load.timers == [base.TimerRecord(run_id="r", seq=1, wake_at=10.0)]
    with pytest.raises(base.LeaseLost):
        await journal.record_attempt(OTHER, attempt)
    with pytest.raises(base.LeaseLost):
        await journal.set_timer(OTHER, base.TimerRecord(run_id="r", seq=2, wake_at=1.0))


async def test_update_run_is_owner_checked(journal: base.Journal) -> None:
    await journal.create_run(new_run("r", created_at=4.0))  # owned: started when created
    await journal.update_run(
        OWNER, base.RunUpdate(run_id="r", status=base.Status.SLEEPING, at=5.0, wake_at=9.0)
    )
    record = await journal.get_run("r")
    assert record is not None
    assert (record.status, record.wake_at, record.started_at, record.finished_at) == (
        base.Status.SLEEPING,
        9.0,
        4.0,
        None,
    )
    with pytest.raises(base.LeaseLost):
        await journal.update_run(
            OTHER, base.RunUpdate(run_id="r", status=base.Status.FAILED, at=6.0)
        )
    done = base.RunUpdate(run_id="r", status=base.Status.SUCCEEDED, at=7.0, output=b"result")
    await journal.update_run(OWNER, done)
    record = await journal.get_run("r")
    assert record is not None
    assert (record.status, record.output, record.started_at, record.finished_at) == (
        base.Status.SUCCEEDED,
        b"result",
        4.0,
        7.0,
    )


# -- ownership --------------------------------------------------------------------------


async def test_claim_is_compare_and_set(journal: base.Journal) -> None:
    await journal.create_run(new_run("r", owner="dead"))
    results = await asyncio.gather(
        *(
            journal.claim(f"claimer{i}", "r", expected_owner="dead", lease_expires_at=50.0)
            for i in range(5)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    # created owned (attempt 1), then taken over once
    assert winners[0].attempt == 2 and winners[0].lease_expires_at == 50.0
    assert (await journal.get_run("r")) == winners[0]
    assert await journal.claim("late", "r", expected_owner="dead", lease_expires_at=1.0) is None
    # a finished run cannot be claimed
    await journal.update_run(
        winners[0].owner or "", base.RunUpdate(run_id="r", status=base.Status.FAILED, at=1.0)
    )
    assert (
        await journal.claim("x", "r", expected_owner=winners[0].owner, lease_expires_at=1.0) is None
    )
    await journal.create_run(new_run("free", owner=None))
    claimed = await journal.claim(OWNER, "free", expected_owner=None, lease_expires_at=1.0)
    assert claimed is not None and claimed.owner == OWNER


async def test_claimable_heartbeat_release(journal: base.Journal) -> None:
    await journal.create_run(new_run("a", created_at=1.0))
    await journal.create_run(new_run("b", created_at=2.0, priority=5))
    await journal.create_run(new_run("c", created_at=3.0, name="other"))
    await journal.create_run(new_run("d", created_at=4.0, owner=OTHER))
    await journal.update_run(
        OTHER, base.RunUpdate(run_id="d", status=base.Status.SUCCEEDED, at=1.0)
    )
    assert [r.id for r in await journal.claimable(["wf"])] == ["b", "a"]
    assert [r.id for r in await journal.claimable(["wf", "other"], limit=2)] == ["b", "a"]
    assert await journal.heartbeat(OWNER, 123.0) == 3
    record = await journal.get_run("a")
    assert record is not None and record.lease_expires_at == 123.0
    await journal.release(OWNER, ["a"])
    record = await journal.get_run("a")
    assert record is not None and record.owner is None and record.lease_expires_at is None
    await journal.release(OWNER)
    assert all(r.owner is None for r in await journal.claimable(["wf", "other"]))
    finished = await journal.get_run("d")
    assert finished is not None and finished.owner == OTHER


async def test_request_cancel_flags_unfinished_runs(journal: base.Journal) -> None:
    await journal.create_run(new_run("live"))
    await journal.create_run(new_run("done"))
    await journal.update_run(
        OWNER, base.RunUpdate(run_id="done", status=base.Status.SUCCEEDED, at=1.0)
    )
    await journal.request_cancel(["live", "done", "missing"])
    live, done = await journal.get_run("live"), await journal.get_run("done")
    assert live is not None and live.cancel_requested
    assert done is not None and not done.cancel_requested


# -- operations -------------------------------------------------------------------------


async def test_copy_entries_takes_a_prefix_in_completion_order(journal: base.Journal) -> None:
    await journal.create_run(new_run("src"))
    await journal.create_run(new_run("dst"))
    # seq 0..3 completed in the order 0, 2, 1, 3 (ord)
    await journal.append_entries(
        OWNER, [entry("src", 0, 0), entry("src", 2, 1), entry("src", 1, 2), entry("src", 3, 3)]
    )
    # from seq 2: seq 2 completed at ord 1, so only seq 0 (ord 0) precedes everything >= 2
    assert await journal.copy_entries("src", "dst", 2) == 1
    load = await journal.load("dst")
    assert load is not None
    assert [(e.run_id, e.seq, e.ord, e.output) for e in load.entries] == [("dst", 0, 0, b"out0")]
    await journal.create_run(new_run("dst2"))
    assert await journal.copy_entries("src", "dst2", 3) == 3
    assert await journal.copy_entries("src", "dst3", 99) == 4


async def test_reopen_moves_trailing_errors_to_attempts(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    failed = {"status": "error", "output": None, "error": b"err", "attempts": 3}
    await journal.append_entries(
        OWNER,
        [
            entry("r", 0, 0, **failed),  # an error the workflow caught, then carried on
            entry("r", 1, 1),
            entry("r", 2, 2, **failed),
            entry("r", 3, 3, **failed),
        ],
    )
    await journal.update_run(
        OWNER, base.RunUpdate(run_id="r", status=base.Status.FAILED, at=1.0, error=b"e")
    )
    assert await journal.reopen("r") == 2
    load = await journal.load("r")
    assert load is not None
    assert [e.seq for e in load.entries] == [0, 1]
    assert [(a.seq, a.attempt, a.error) for a in load.attempts] == [(2, 3, b"err"), (3, 3, b"err")]
    assert load.run.status is base.Status.PENDING
    assert load.run.owner is None and load.run.error is None and load.run.finished_at is None


# -- transactions -------------------------------------------------------------------------


async def _make_table(journal: base.Journal, run_id: str) -> None:
    async with journal.transaction(OWNER, run_id) as tx:
        await tx.conn.execute("CREATE TABLE notes (body TEXT)")


async def _notes(journal: base.Journal, run_id: str) -> list[str]:
    async with journal.transaction(OWNER, run_id) as tx:
        cur = await tx.conn.execute("SELECT body FROM notes ORDER BY body")
        return [row[0] for row in await cur.fetchall()]


async def test_transaction_commits_statements_with_the_entry(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    await _make_table(journal, "r")
    async with journal.transaction(OWNER, "r") as tx:
        cur = await tx.conn.execute(sql(journal, "INSERT INTO notes (body) VALUES (?)"), ("one",))
        assert cur.rowcount == 1
        cur = await tx.conn.execute(
            sql(journal, "SELECT count(*) FROM notes WHERE body = ?"), ["one"]
        )
        assert (await cur.fetchone())[0] == 1
        tx.entry = entry("r", 0, kind="transaction")
    load = await journal.load("r")
    assert load is not None and [e.kind for e in load.entries] == ["transaction"]
    assert await _notes(journal, "r") == ["one"]


async def test_transaction_rolls_back_on_error(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    await _make_table(journal, "r")
    with pytest.raises(RuntimeError, match="inside"):
        async with journal.transaction(OWNER, "r") as tx:
            await tx.conn.execute(sql(journal, "INSERT INTO notes (body) VALUES (?)"), ("lost",))
            tx.entry = entry("r", 0)
            raise RuntimeError("inside")
    load = await journal.load("r")
    assert load is not None and load.entries == []
    assert await _notes(journal, "r") == []


async def test_transaction_passes_statement_errors_unchanged(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    with pytest.raises(Exception) as failure:
        async with journal.transaction(OWNER, "r") as tx:
            await tx.conn.execute("SELECT * FROM no_such_table")
    assert type(failure.value).__module__.split(".")[0] in ("sqlite3", "psycopg")
    # the journal still works afterwards
    await journal.append_entries(OWNER, [entry("r", 0)])


async def test_transaction_of_a_lost_run_rolls_back(journal: base.Journal) -> None:
    await journal.create_run(new_run("r", owner=OTHER))
    await journal.create_run(new_run("mine"))
    await _make_table(journal, "mine")
    with pytest.raises(base.LeaseLost):
        async with journal.transaction(OWNER, "r") as tx:
            await tx.conn.execute(sql(journal, "INSERT INTO notes (body) VALUES (?)"), ("no",))
            tx.entry = entry("r", 0)
    load = await journal.load("r")
    assert load is not None and load.entries == []
    assert await _notes(journal, "mine") == []


async def test_close_commits_what_is_queued(db_url: str) -> None:
    journal = open_journal(db_url)
    await journal.open()
    await journal.create_run(new_run("r"))
    pending = [
        asyncio.ensure_future(journal.append_entries(OWNER, [entry("r", seq)])) for seq in range(5)
    ]
    await asyncio.sleep(0)
    await journal.close()
    await asyncio.gather(*pending)
    reopened = open_journal(db_url)
    await reopened.open()
    try:
        load = await reopened.load("r")
        assert load is not None and [e.seq for e in load.entries] == list(range(5))
    finally:
        await reopened.close()


# -- messages, events, cancellation ----------------------------------------------------------


async def test_messages_are_taken_once_in_send_order(journal: base.Journal) -> None:
    from durable import errors

    await journal.create_run(new_run("r"))
    assert await journal.send_message("r", "t", b"one", None)
    assert await journal.send_message("r", "t", b"two", "k2")
    assert not await journal.send_message("r", "t", b"two again", "k2")
    assert await journal.send_message("r", "other", b"elsewhere", None)
    with pytest.raises(errors.WorkflowNotFound):
        await journal.send_message("missing", "t", b"x", None)
    with pytest.raises(base.LeaseLost):
        await journal.receive_message(OTHER, "r", "t", entry("r", 0, kind="recv", output=None))
    first = await journal.receive_message(OWNER, "r", "t", entry("r", 0, kind="recv", output=None))
    second = await journal.receive_message(OWNER, "r", "t", entry("r", 1, kind="recv", output=None))
    none = await journal.receive_message(OWNER, "r", "t", entry("r", 2, kind="recv", output=None))
    assert first is not None and first.output == b"one"
    assert second is not None and second.output == b"two"
    assert none is None
    load = await journal.load("r")
    assert load is not None and [(e.seq, e.output) for e in load.entries] == [
        (0, b"one"),
        (1, b"two"),
    ]


async def test_events_are_published_with_their_entry(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    assert await journal.get_event("r", "k") is None
    await journal.set_event(OWNER, "r", "k", b"v1", entry("r", 0, kind="event"))
    await journal.set_event(OWNER, "r", "k", b"v2", entry("r", 1, kind="event"))
    assert await journal.get_event("r", "k") == b"v2"
    with pytest.raises(base.LeaseLost):
        await journal.set_event(OTHER, "r", "k", b"v3", entry("r", 2, kind="event"))
    assert await journal.get_event("r", "k") == b"v2"
    load = await journal.load("r")
    assert load is not None and [e.seq for e in load.entries] == [0, 1]


async def test_cancel_requested_lists_the_owners_flagged_runs(journal: base.Journal) -> None:
    await journal.create_run(new_run("a"))
    await journal.create_run(new_run("b"))
    await journal.create_run(new_run("c", owner=OTHER))
    await journal.request_cancel(["a", "c"])
    assert await journal.cancel_requested(OWNER) == ["a"]
    assert await journal.cancel_requested(OTHER) == ["c"]


async def test_list_runs_by_root(journal: base.Journal) -> None:
    await journal.create_run(new_run("root", created_at=1.0))
    await journal.create_run(new_run("root.0", root_id="root", parent_id="root", created_at=2.0))
    await journal.create_run(new_run("alone", created_at=3.0))
    assert [r.id for r in await journal.list_runs(root_id="root")] == ["root.0", "root"]
