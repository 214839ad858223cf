"""The `RequestStore` contract (`durable.journal.requests`), on every backend."""

from __future__ import annotations

import pytest

from durable import errors
from durable.journal import base
from tests.journal.test_conformance import OTHER, OWNER, entry, journal, new_run

__all__ = ["journal"]  # the fixture


async def test_requests_are_queued_taken_and_answered_once(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    queued = await journal.send_request("r", "approve", b"first", "k1")
    assert (queued.run_status, queued.state) == ("RUNNING", "queued")
    await journal.send_request("r", "approve", b"second", "k2")
    again = await journal.send_request("r", "approve", b"first, resent", "k1")
    assert again.state == "queued"  # the key's request, not a new one
    await journal.send_request("r", "other", b"elsewhere", "k3")
    with pytest.raises(base.LeaseLost):
        await journal.take_request(OTHER, "r", "approve", entry("r", 0, kind="request"))
    first = await journal.take_request(
        OWNER, "r", "approve", entry("r", 0, kind="request", name="approve", started_at=7.25)
    )
    second = await journal.take_request(
        OWNER, "r", "approve", entry("r", 1, kind="request", name="approve", started_at=8.5)
    )
    none = await journal.take_request(
        OWNER, "r", "approve", entry("r", 2, kind="request", name="approve")
    )
    assert first is not None and first.output == b"first"
    assert second is not None and second.output == b"second"
    assert none is None
    assert (await journal.request_state("r", "k1")).state == "taken"
    reply = entry("r", 3, kind="reply", name="approve", output=b"yes")
    await journal.answer_request(OWNER, (0, 7.25), "replied", b"yes", reply)
    # an answer for a taking entry of another start time (a later generation) is not it
    reject = entry("r", 4, kind="reject", name="approve", output=b"no")
    await journal.answer_request(OWNER, (1, 9.0), "rejected", b"no", reject)
    assert await journal.request_state("r", "k1") == type(queued)(
        run_status="RUNNING", state="replied", answer=b"yes"
    )
    assert (await journal.request_state("r", "k2")).state == "taken"
    load = await journal.load("r")
    assert load is not None and [e.kind for e in load.entries] == [
        "request",
        "request",
        "reply",
        "reject",
    ]


async def test_requests_to_missing_or_finished_runs(journal: base.Journal) -> None:
    with pytest.raises(errors.WorkflowNotFound):
        await journal.send_request("missing", "n", b"x", "k")
    with pytest.raises(errors.WorkflowNotFound):
        await journal.request_state("missing", "k")
    await journal.create_run(new_run("done"))
    await journal.send_request("done", "n", b"x", "before")
    finish = base.RunUpdate(run_id="done", status=base.Status.SUCCEEDED, at=1.0)
    await journal.update_run(OWNER, finish)
    with pytest.raises(errors.RunFinished):
        await journal.send_request("done", "n", b"x", "after")
    with pytest.raises(errors.RunFinished):
        await journal.send_message("done", "t", b"x", None)
    # a resent request (its key known) is answered with its state, finished or not
    assert (await journal.send_request("done", "n", b"x", "before")).state == "queued"


async def test_only_queued_requests_are_withdrawn(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    await journal.send_request("r", "n", b"a", "a")
    await journal.send_request("r", "n", b"b", "b")
    assert await journal.withdraw_request("r", "a")
    taken = await journal.take_request(OWNER, "r", "n", entry("r", 0, kind="request", name="n"))
    assert taken is not None and taken.output == b"b"  # the withdrawn one is skipped
    assert not await journal.withdraw_request("r", "b")
    assert (await journal.request_state("r", "a")).state == "withdrawn"


async def test_receive_any_takes_the_oldest_of_its_topics(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    for topic, value in [("x", b"1"), ("y", b"2"), ("z", b"3"), ("x", b"4")]:
        await journal.send_message("r", topic, value, None)
    topics = ["z", "y"]
    got = []
    for seq in range(3):
        taken = await journal.receive_any(OWNER, "r", topics, entry("r", seq, kind="recv_any"))
        got.append(None if taken is None else (topics[taken.attempts - 1], taken.output))
    assert got == [("y", b"2"), ("z", b"3"), None]
    plain = await journal.receive_message(OWNER, "r", "x", entry("r", 3, kind="recv"))
    assert plain is not None and plain.output == b"1"  # untouched by receive_any


async def test_a_message_or_request_wakes_a_parked_run(journal: base.Journal) -> None:
    await journal.create_run(new_run("r"))
    park = base.RunUpdate(run_id="r", status=base.Status.SLEEPING, at=1.0, wake_at=1e12)
    await journal.update_run(OWNER, park)
    await journal.release(OWNER, ["r"])
    record = await journal.get_run("r")
    assert record is not None and record.wake_at == 1e12
    await journal.send_message("r", "t", b"x", None)
    record = await journal.get_run("r")
    assert record is not None and record.wake_at is None and record.status is base.Status.SLEEPING
    claimed = await journal.claim_batch(OWNER, ["wf"], lease_expires_at=2e12, limit=10)
    assert [r.id for r in claimed] == ["r"]


async def test_retried_takes_are_known_by_seq_and_start_time(postgres_url: str) -> None:
    """Postgres returns what an entry took before when its write is retried; an entry of
    the same seq that started at another time (a later journal generation) takes anew."""
    from durable.journal import open_journal

    journal = open_journal(postgres_url)
    await journal.open()
    try:
        await journal.create_run(new_run("r"))
        for value in (b"one", b"two", b"three"):
            await journal.send_message("r", "t", value, None)
        await journal.send_request("r", "n", b"first", "k1")
        await journal.send_request("r", "n", b"second", "k2")
        takes = []
        for started in (1.0, 1.0, 2.0):  # a retry of the first, then a later generation
            taken = await journal.receive_message(
                OWNER, "r", "t", entry("r", 5, kind="recv", started_at=started)
            )
            request = await journal.take_request(
                OWNER, "r", "n", entry("r", 6, kind="request", name="n", started_at=started)
            )
            assert taken is not None and request is not None
            takes.append((taken.output, request.output))
        assert takes == [(b"one", b"first"), (b"one", b"first"), (b"two", b"second")]
        anew = await journal.receive_any(
            OWNER, "r", ["t"], entry("r", 5, kind="recv_any", started_at=3.0)
        )
        assert anew is not None and anew.output == b"three"
    finally:
        await journal.close()


async def test_list_requests_shows_every_state_in_send_order(journal: base.Journal) -> None:
    await journal.create_run(new_run("lr"))
    await journal.send_request("lr", "approve", b"one", "k1")
    await journal.send_request("lr", "approve", b"two", "k2")
    await journal.send_request("lr", "other", b"three", "k3")
    await journal.send_request("lr", "approve", b"four", "k4")
    taken = entry("lr", 0, kind="request", name="approve", started_at=3.5)
    assert await journal.take_request(OWNER, "lr", "approve", taken) is not None
    reply = entry("lr", 1, kind="reply", name="approve", output=b"yes")
    await journal.answer_request(OWNER, (0, 3.5), "replied", b"yes", reply)
    assert await journal.take_request(
        OWNER, "lr", "approve", entry("lr", 2, kind="request", name="approve", started_at=4.0)
    )
    assert await journal.withdraw_request("lr", "k3")
    listed = await journal.list_requests("lr")
    assert [(r.key, r.name, r.state, r.value) for r in listed] == [
        ("k1", "approve", "replied", b"one"),
        ("k2", "approve", "taken", b"two"),
        ("k3", "other", "withdrawn", b"three"),
        ("k4", "approve", "queued", b"four"),
    ]
    first = listed[0]
    assert (first.taken_seq, first.taken_at, first.answer) == (0, 3.5, b"yes")
    assert first.answered_at is not None and first.answered_at >= first.sent_at
    assert (listed[1].taken_seq, listed[1].answer, listed[1].answered_at) == (2, None, None)
    assert listed[3].taken_seq is None
    assert [r.key for r in await journal.list_requests("lr", limit=2)] == ["k1", "k2"]
    assert await journal.list_requests("no-such-run") == []
