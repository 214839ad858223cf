"""The journal's generation and step heartbeat operations (`journal.generations`), on every
backend: each test states one clause of their docstrings."""

from __future__ import annotations

import time
from typing import Any

import pytest

from durable.journal import base
from durable.journal import generations as gens
from tests.journal.test_conformance import OTHER, OWNER, entry, journal, new_run

__all__ = ["journal"]  # the fixture


def _switch(run_id: str, generation: int, input: bytes, *extra: base.EntryRecord) -> Any:
    return gens.GenerationSwitch(
        run_id=run_id, generation=generation, input=input, at=time.time(), entries=list(extra)
    )


async def _started(journal: base.Journal, run_id: str) -> None:
    await journal.create_run(new_run(run_id))
    await journal.append_entries(OWNER, [entry(run_id, 0), entry(run_id, 1)])
    await journal.record_attempt(
        OWNER,
        base.AttemptRecord(run_id=run_id, seq=2, attempt=1, error=b"e", failed_at=1, retry_at=2),
    )
    await journal.set_timer(OWNER, base.TimerRecord(run_id=run_id, seq=3, wake_at=9.0))
    beat = gens.StepHeartbeat(seq=2, attempt=1, details=b"d")
    await journal.save_step_heartbeat(OWNER, run_id, beat, time.time())


async def test_a_switch_archives_the_generation_and_clears_the_journal(
    journal: base.Journal,
) -> None:
    await _started(journal, "g")
    await journal.continue_as_new(OWNER, _switch("g", 1, b"next", entry("g", 4, kind="continue")))
    load = await journal.load("g")
    assert load is not None and load.generation == 2 and load.run.input == b"next"
    assert (load.entries, load.attempts, load.timers) == ([], [], [])
    assert await journal.step_heartbeats("g") == []
    (past,) = await journal.generations("g")
    assert (past.generation, past.entries) == (1, 3)
    old = await journal.load_generation("g", 1)
    assert old is not None and old.run.input == b"in" and old.generation == 1
    assert [(e.seq, e.kind) for e in old.entries] == [(0, "step"), (1, "step"), (4, "continue")]
    assert old.entries[0] == entry("g", 0)
    assert await journal.load_generation("g", 3) is None


async def test_a_switch_is_written_once_per_generation(journal: base.Journal) -> None:
    await _started(journal, "once")
    await journal.continue_as_new(OWNER, _switch("once", 1, b"second"))
    await journal.append_entries(OWNER, [entry("once", 0)])
    await journal.continue_as_new(OWNER, _switch("once", 1, b"again"))  # a retried write
    load = await journal.load("once")
    assert load is not None and load.run.input == b"second" and len(load.entries) == 1
    assert [g.generation for g in await journal.generations("once")] == [1]


async def test_a_switch_or_a_heartbeat_by_another_owner_writes_nothing(
    journal: base.Journal,
) -> None:
    await _started(journal, "theirs")
    with pytest.raises(base.LeaseLost):
        await journal.continue_as_new(OTHER, _switch("theirs", 1, b"stolen"))
    with pytest.raises(base.LeaseLost):
        beat = gens.StepHeartbeat(seq=2, attempt=5, details=b"x")
        await journal.save_step_heartbeat(OTHER, "theirs", beat, time.time())
    load = await journal.load("theirs")
    assert load is not None and load.generation == 1 and load.run.input == b"in"
    assert len(load.entries) == 2 and await journal.generations("theirs") == []
    assert await journal.step_heartbeats("theirs") == [
        gens.StepHeartbeat(seq=2, attempt=1, details=b"d")
    ]


async def test_heartbeats_replace_the_ones_before(journal: base.Journal) -> None:
    await _started(journal, "beats")
    beat = gens.StepHeartbeat(seq=2, attempt=2, details=None)
    await journal.save_step_heartbeat(OWNER, "beats", beat, time.time())
    assert await journal.step_heartbeats("beats") == [beat]


async def test_consumed_messages_stay_consumed_in_the_next_generation(
    journal: base.Journal,
) -> None:
    await _started(journal, "mail")
    await journal.send_message("mail", "t", b"one", None)
    await journal.send_message("mail", "t", b"two", None)
    got = await journal.receive_message(OWNER, "mail", "t", entry("mail", 5, kind="recv"))
    assert got is not None and got.output == b"one"
    await journal.continue_as_new(OWNER, _switch("mail", 1, b"next"))
    # seq 5 again, in generation 2: the next message, not the one seq 5 took before
    got = await journal.receive_message(OWNER, "mail", "t", entry("mail", 5, kind="recv"))
    assert got is not None and got.output == b"two"


async def test_prune_deletes_every_generation(journal: base.Journal) -> None:
    await _started(journal, "gone")
    await journal.continue_as_new(OWNER, _switch("gone", 1, b"next"))
    at = time.time()
    await journal.update_run(
        OWNER, base.RunUpdate(run_id="gone", status=base.Status.SUCCEEDED, at=at, output=b"o")
    )
    record = await journal.get_run("gone")
    assert record is not None and record.finished_at is not None
    assert await journal.delete_runs([("gone", record.finished_at)]) == 1
    assert await journal.generations("gone") == []
    assert await journal.step_heartbeats("gone") == []
