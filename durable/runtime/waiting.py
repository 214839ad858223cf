"""Waiting for something sent to the run: `recv`, `recv_any` and `recv_request`.

`wait_taking` looks (a `take` that journals the call's entry when something is there),
waits for news of the run, and looks again until it took something or the journaled
deadline passed.  A wait that is the run's only call in flight, outside any undecided
race or `durable.timeout`, with no deadline or one at least the engine's `suspend_sleeps`
away, parks the run once it has waited
`PARK_AFTER` seconds in memory: the run becomes SLEEPING until its deadline (or
`NEVER`) and gives up its slot and lease, like a long `durable.sleep`.  What is sent
to a parked run makes it due at once (the journal's send clears its ``wake_at``); any
engine then replays it up to the wait, which looks again.

The order makes a send never lost: the status is written before the last look, so a
send that commits before the status finds nothing to wake but is seen by that look, and
one that commits after it finds the run SLEEPING and wakes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from durable.journal import base
from durable.runtime import contests, context
from durable.runtime.calls import Call

__all__ = ["NEVER", "PARK_AFTER", "TIMED_OUT", "contested", "take_entry", "wait_taking"]

# the `attempts` of an entry of a wait that took nothing (its timeout passed)
TIMED_OUT = 0
# the wake-up time of a parked wait without a deadline: 9999-12-31T23:59:59Z
NEVER = 253402300799.0
# seconds a wait holds its slot before parking: a run answering a stream of messages
# keeps it
PARK_AFTER = 1.0

Take = Callable[[Call], Awaitable[base.EntryRecord | None]]


async def wait_taking(call: Call, take: Take, timeout: float | None, what: str) -> base.EntryRecord:
    """Look and wait until `take` journals the entry, or the deadline passes (an entry
    with output None and ``attempts`` `TIMED_OUT`)."""
    with call.in_flight():  # a sleep racing this wait must not park the run
        wake_at = None if timeout is None else await call.set_deadline(timeout)
        runs = call.runs
        began = time.monotonic()
        while True:
            since = runs.changed(call.run_id).count  # news after this is not missed
            taken = await take(call)
            if taken is not None:
                return taken
            remaining = None
            if wake_at is not None and timeout is not None:
                remaining = call.remaining(wake_at, timeout)
            if remaining is not None and remaining <= 0:
                return call.entry("ok", output=call.codec.encode(None), attempts=TIMED_OUT)
            if _parks(call, remaining, time.monotonic() - began):
                return await _park(call, take, wake_at, what)
            poll = runs.poll_interval if runs.poll_interval > 0 else 0.5
            wait = poll if remaining is None else min(poll, remaining)
            waited = time.monotonic() - began
            if runs.suspend_sleeps is not None and waited < PARK_AFTER:
                wait = min(wait, PARK_AFTER - waited)  # then look whether it parks
            await runs.wait_changed(call.run_id, max(wait, 0.01), since=since)


def _parks(call: Call, remaining: float | None, waited: float) -> bool:
    threshold = call.runs.suspend_sleeps
    if threshold is None or waited < PARK_AFTER or not call.alone:
        return False
    if contested():
        return False
    return remaining is None or remaining >= threshold


def contested() -> bool:
    """Whether the running code is inside a race or `durable.timeout` still undecided:
    their deadlines are not its call's, and a run parked at that call's deadline would
    wake too late for them (a long `durable.sleep` asks this too)."""
    return any(contest.winner is None for contest, _ in context.contests.get())


async def _park(call: Call, take: Take, wake_at: float | None, what: str) -> base.EntryRecord:
    """Make the run SLEEPING, look a last time, and give the run up if nothing came."""
    await call.set_status(base.Status.SLEEPING, NEVER if wake_at is None else wake_at)
    taken = await take(call)
    if taken is None:
        raise call.suspend(f"waiting for {what}")
    await call.set_status(base.Status.RUNNING, None)
    return taken


async def take_entry(
    call: Call, write: Callable[[base.EntryRecord], Awaitable[base.EntryRecord | None]]
) -> base.EntryRecord | None:
    """Journal this call's entry with what `write` takes (a message, a request), if
    anything is there.  It takes only while it holds every race and timeout around it
    (`contests`): a wait given up on never consumed anything."""
    async with contests.holding() as hold:
        if not hold.granted:
            # a race or timeout around this wait was decided against it: consume
            # nothing and wait for its cancellation
            await asyncio.get_running_loop().create_future()
        taken = await call.write_entry(call.entry("ok"), write)
        if taken is None:
            call.forget()
            return None
        hold.consumed = True
        return taken
