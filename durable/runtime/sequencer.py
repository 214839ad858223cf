"""Hands results back to a workflow one at a time, in journal order, at quiet moments.

Why: a workflow whose concurrent branches each chain several durable calls issues
its calls in an order that depends on which results arrived first.  Sequence
numbers follow call order, so replay must reproduce the original interleaving.

The rule, the same live and on replay: results are delivered in completion order
(`ord`), and a result is delivered only when the workflow is *quiescent*, i.e. no
callback of its workflow code is waiting in the event loop's ready queue.  Results
journaled together share one `ord` (a group: a fan-out's steps that finished in the
same loop iteration); a group is delivered at once, in call order.  The
state a workflow reaches at a quiet moment depends only on the results delivered
so far (its code is deterministic), so delivering the same results in the same
order at quiet moments replays the same calls with the same sequence numbers.

Live, a result is deliverable once its entry is committed.  On replay, a journaled
result is deliverable once the workflow has made the call it answers; if the
workflow goes quiet without making that call, the code no longer matches its
journal (`stalled`).
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
from collections.abc import Callable
from typing import Any

from durable.runtime import context, ready_queue

__all__ = ["Sequencer", "count_workflow_tasks"]

_QUIET_CHECKS = 3

# the message of the cancellation `Sequencer.fail` hands to the calls still waiting
DIVERGED = "durable: the run diverged from its journal"


def count_workflow_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Make `loop` count, per run, the tasks its workflow code creates.

    A run whose workflow code has a single task (no `gather`, no `create_task`) is
    quiescent whenever that task is the one running, which spares the ready-queue scan
    on the hot path.  An existing task factory is kept and wrapped.
    """
    current = loop.get_task_factory()
    if getattr(current, "_durable_counting", False):
        return
    previous: Any = current

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Any, context: contextvars.Context | None = None
    ) -> asyncio.Task[Any]:
        if previous is None:
            task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, context=context)
        elif context is None:
            task = previous(loop, coro)
        else:
            task = previous(loop, coro, context=context)
        owner = (context or contextvars.copy_context()).get(_workflow_code_var())
        if owner is not None:
            owner.sequencer.tasks_started(task)
        return task

    factory._durable_counting = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)


def _workflow_code_var() -> contextvars.ContextVar[Any]:
    return context.workflow_code


class _Slot:
    __slots__ = ("live", "ord", "ready", "seq", "value")

    def __init__(self, ord_: int, seq: int, live: bool) -> None:
        self.ord = ord_
        self.seq = seq
        self.live = live  # live: waits for its commit; journaled: waits for its call
        self.ready = False
        self.value: Any = None


class _Group:
    __slots__ = ("not_ready", "slots", "stalled")

    def __init__(self) -> None:
        self.slots: dict[int, _Slot] = {}  # by seq
        self.not_ready = 0  # members still waiting for their commit or their call
        self.stalled = 0  # journaled members whose call has not been made yet


class Sequencer:
    """Orders the deliveries of one run (see the module docstring).

    Calls wait on `waiter(seq)`; results are delivered to those futures group by group
    in `ord` order, each group in call order.
    """

    def __init__(
        self,
        owner: Any,
        journaled: list[tuple[int, int]],
        next_ord: int,
        on_stall: Callable[[int], None],
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        """`owner` is what `context.workflow_code` holds in the run's workflow code;
        `on_stall(seq)` is called when the workflow goes quiet without making journaled
        call `seq`, unless `busy()` says engine work will resume it."""
        self._owner = owner
        self._busy = busy
        self._slots: dict[int, _Slot] = {}  # by seq
        self._groups: dict[int, _Group] = {}  # by ord
        self._heap: list[int] = []  # the ords of the groups
        self._waiters: dict[int, asyncio.Future[Any]] = {}
        self._loop = asyncio.get_running_loop()
        for ord_, seq in journaled:
            self._add(ord_, seq, live=False)
        self._next_ord = next_ord
        self._on_stall = on_stall
        self._pump_task: asyncio.Task[None] | None = None
        self._readable = ready_queue.readable(self._loop)
        self._counted = getattr(self._loop.get_task_factory(), "_durable_counting", False)
        self._tasks = 0
        self._paused = 0
        self.main_task: asyncio.Task[Any] | None = None

    def tasks_started(self, task: asyncio.Task[Any]) -> None:
        """A task of this run's workflow code was created (see `count_workflow_tasks`)."""
        self._tasks += 1
        task.add_done_callback(self._task_done)

    def _task_done(self, _: asyncio.Task[Any]) -> None:
        self._tasks -= 1

    @property
    def sequential(self) -> bool:
        """Whether the workflow code runs in one task and that task is the one running."""
        return (
            self._counted
            and self._tasks == 1
            and self.main_task is not None
            and asyncio.current_task() is self.main_task
        )

    def _add(self, ord_: int, seq: int, *, live: bool) -> _Slot:
        slot = _Slot(ord_, seq, live)
        self._slots[seq] = slot
        group = self._groups.get(ord_)
        if group is None:
            group = self._groups[ord_] = _Group()
            heapq.heappush(self._heap, ord_)
        group.slots[seq] = slot
        group.not_ready += 1
        if not live:
            group.stalled += 1
        return slot

    def waiter(self, seq: int) -> asyncio.Future[Any]:
        """The future on which call `seq` receives its result."""
        future = self._waiters.get(seq)
        if future is None:
            future = self._waiters[seq] = self._loop.create_future()
        return future

    def reserve(self, seqs: list[int]) -> int:
        """One completion number for the live results of calls `seqs`, about to be
        journaled together (they will be delivered together)."""
        ord_ = self._next_ord
        self._next_ord += 1
        for seq in seqs:
            self._add(ord_, seq, live=True)
        return ord_

    def reserve_instant(self) -> int:
        """A completion number for an entry answered at once (never waited for)."""
        ord_ = self._next_ord
        self._next_ord += 1
        return ord_

    def replayed(self, seq: int, value: Any) -> asyncio.Future[Any]:
        """The workflow made call `seq`, whose result is journaled: deliver it in its turn.

        Called by the call's own coroutine, which then awaits the returned future.
        """
        future = self.waiter(seq)
        self._ready(self._slots[seq], value)
        self.pump(caller=seq)
        return future

    def reached(self, seq: int, value: Any) -> asyncio.Future[Any]:
        """Like `replayed`, for a caller that goes on running workflow code instead of
        awaiting the returned future (a timeout entering its body): nothing is delivered
        before it yields, or the calls it goes on to make would be numbered after those of
        the branches woken meanwhile, which live ran only once it had yielded."""
        future = self.waiter(seq)
        self._ready(self._slots[seq], value)
        self._start_pump()
        return future

    def _ready(self, slot: _Slot, value: Any) -> None:
        slot.value = value
        if not slot.ready:
            slot.ready = True
            group = self._groups[slot.ord]
            group.not_ready -= 1
            if not slot.live:
                group.stalled -= 1

    def committed(self, seq: int, value: Any) -> asyncio.Future[Any]:
        """The live result of call `seq` is journaled: deliver it in its turn (called by
        the call's own coroutine, which then awaits the returned future)."""
        return self.replayed(seq, value)

    def settle(self, seq: int, value: Any) -> None:
        """Mark the reserved result of call `seq` ready although nobody waits for it any
        more (its call was cancelled while its write was in flight)."""
        slot = self._slots.get(seq)
        if slot is None or slot.ready:
            return
        self._ready(slot, value)
        self.pump()

    def abandon(self, seqs: list[int]) -> None:
        """Reserved results that will never come (their write failed, or wrote nothing):
        stop waiting, and deliver what they held back."""
        for seq in seqs:
            slot = self._slots.pop(seq, None)
            if slot is None:
                continue
            group = self._groups[slot.ord]
            del group.slots[seq]
            if not slot.ready:
                group.not_ready -= 1
            if not group.slots:
                del self._groups[slot.ord]
                self._heap.remove(slot.ord)
                heapq.heapify(self._heap)
        self.pump()

    def quiescent(self) -> bool:
        """True when no workflow-code callback of this run is queued in the event loop."""
        if self.sequential:
            return True  # the only workflow task is this one, and it is running
        if not self._readable:  # an event loop without a visible ready queue: assume quiet
            return True
        return not ready_queue.waiting_in(self._loop, context.workflow_code, self._owner)

    def pause(self) -> None:
        """Deliver nothing until `unpause` (a race deciding: its contestants must not move
        on meanwhile, as they do not on a replay, which decides at once)."""
        self._paused += 1

    def unpause(self) -> None:
        self._paused -= 1
        if not self._paused:
            self.pump()

    def pump(self, caller: int | None = None) -> None:
        """Deliver what can be delivered now; leave the rest to a background pump.

        `caller` is the call whose coroutine is pumping: it goes on running after a
        delivery to itself, before the wake-ups of others, so it may only receive its
        result here when it is alone in its group.
        """
        while self._heap and not self._paused:
            ord_ = self._heap[0]
            group = self._groups[ord_]
            if group.not_ready:
                if group.stalled:
                    self._start_pump()  # watch for a call that is never made
                return
            if len(group.slots) > 1 and caller in group.slots:
                self._start_pump()
                return
            if not self.quiescent():
                self._start_pump()
                return
            heapq.heappop(self._heap)
            del self._groups[ord_]
            for seq in sorted(group.slots):  # in call order
                slot = self._slots.pop(seq)
                future = self._waiters.pop(seq, None)
                if future is not None and not future.done():
                    future.set_result(slot.value)

    def _start_pump(self) -> None:
        if self._pump_task is None or self._pump_task.done():
            # A fresh context: the pump itself is not workflow code.
            self._pump_task = self._loop.create_task(
                self._pump_later(), context=contextvars.Context()
            )

    async def _pump_later(self) -> None:
        quiet = 0
        while self._heap:
            await asyncio.sleep(0)
            if not self._heap or self._paused:
                return  # `unpause` pumps again
            group = self._groups[self._heap[0]]
            if not group.not_ready:
                quiet = 0
                self.pump()
                continue
            if not group.stalled:
                return  # live results not yet committed: `committed` pumps again
            quiet = quiet + 1 if self.quiescent() and not self._busy() else 0
            if quiet >= _QUIET_CHECKS:
                self._on_stall(min(s.seq for s in group.slots.values() if not s.ready))
                return

    def fail(self) -> None:
        """The run cannot go on (it diverged from its journal): deliver nothing more, and
        cancel every call still waiting for its turn, so that the workflow code unwinds
        instead of waiting for deliveries that will never come."""
        self._paused += 1
        self._heap.clear()
        self._groups.clear()
        waiters, self._waiters = list(self._waiters.values()), {}
        for future in waiters:
            future.cancel(DIVERGED)
        self.close()

    def close(self) -> None:
        """Stop the background pump."""
        if self._pump_task is not None and not self._pump_task.done():
            self._pump_task.cancel()
