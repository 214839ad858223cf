"""Unit tests of the sequencer: delivery in completion order, at quiet moments, in
groups, on replay; stalls; and the one reading of event-loop internals it relies on."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from durable.runtime import context, ready_queue
from durable.runtime.sequencer import Sequencer


class Owner:
    """Stands for the executor whose workflow code the sequencer watches."""


def make(journaled: list[tuple[int, int]] | None = None, **options: Any) -> Sequencer:
    stalls: list[int] = options.pop("stalls", [])
    return Sequencer(Owner(), journaled or [], len(journaled or []), stalls.append, **options)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_live_results_are_delivered_in_completion_order() -> None:
    sequencer = make()
    first, second = sequencer.waiter(0), sequencer.waiter(1)
    sequencer.reserve([0])
    sequencer.reserve([1])
    sequencer.committed(1, "one")  # committed first, but its completion number is later
    await settle()
    assert not second.done()
    sequencer.committed(0, "zero")
    await settle()
    assert (first.result(), second.result()) == ("zero", "one")


async def test_a_group_is_delivered_at_once_in_call_order() -> None:
    sequencer = make()
    delivered: list[int] = []
    for seq in (0, 1, 2):
        sequencer.waiter(seq).add_done_callback(lambda f, seq=seq: delivered.append(seq))
    sequencer.reserve([2, 0, 1])
    sequencer.committed(2, "c")
    sequencer.committed(0, "a")
    await settle()
    assert delivered == []  # the group waits for its last member
    sequencer.committed(1, "b")
    await settle()
    assert delivered == [0, 1, 2]


async def test_a_replay_waits_for_earlier_journaled_results() -> None:
    sequencer = make([(0, 0), (1, 1)])
    later = sequencer.replayed(1, "one")
    await settle()
    assert not later.done()  # seq 0 completed first and has not been called yet
    earlier = sequencer.replayed(0, "zero")
    await settle()
    assert (earlier.result(), later.result()) == ("zero", "one")


async def test_a_journaled_call_never_made_is_a_stall() -> None:
    stalls: list[int] = []
    sequencer = make([(0, 0), (1, 1)], stalls=stalls)
    sequencer.replayed(1, "one")
    await settle()
    assert stalls == [0]


async def test_engine_work_in_flight_is_not_a_stall() -> None:
    stalls: list[int] = []
    busy = [True]
    sequencer = make([(0, 0), (1, 1)], stalls=stalls, busy=lambda: busy[0])
    sequencer.replayed(1, "one")
    await settle()
    assert stalls == []
    sequencer.close()


async def test_an_abandoned_result_no_longer_holds_back_later_ones() -> None:
    sequencer = make()
    later = sequencer.waiter(1)
    sequencer.reserve([0])
    sequencer.reserve([1])
    sequencer.committed(1, "one")
    sequencer.abandon([0])  # its write failed
    await settle()
    assert later.result() == "one"


async def test_no_delivery_while_workflow_code_is_queued() -> None:
    sequencer = make()
    owner = sequencer._owner
    result = sequencer.waiter(0)
    ctx = contextvars.copy_context()
    ctx.run(context.workflow_code.set, owner)
    loop = asyncio.get_running_loop()
    handle = loop.call_soon(lambda: None, context=ctx)  # workflow code waiting to run
    sequencer.reserve([0])
    assert not sequencer.quiescent()
    sequencer.committed(0, "zero")
    assert not result.done()  # not delivered while the workflow has work queued
    await settle()
    assert handle not in getattr(loop, "_ready", ())
    assert result.result() == "zero"


async def test_the_ready_queue_of_this_interpreter_is_read() -> None:
    """Pins the CPython internals `ready_queue` reads: if an interpreter changes them,
    this fails (instead of the sequencer taking every moment for a quiet one)."""
    loop = asyncio.get_running_loop()
    assert ready_queue.readable(loop)
    owner, other = object(), object()
    ctx = contextvars.copy_context()
    ctx.run(context.workflow_code.set, owner)
    handle = loop.call_soon(lambda: None, context=ctx)
    assert ready_queue.waiting_in(loop, context.workflow_code, owner)
    assert not ready_queue.waiting_in(loop, context.workflow_code, other)
    handle.cancel()
    assert not ready_queue.waiting_in(loop, context.workflow_code, owner)
    loop.call_soon(lambda: None, context=ctx)
    await asyncio.sleep(0)
    assert not ready_queue.waiting_in(loop, context.workflow_code, owner)
